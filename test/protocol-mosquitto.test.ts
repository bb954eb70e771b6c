// Interop against Debian's mosquitto: the same dialects as with the embedded aedes broker, over a
// mosquitto process. npm test installs it first (scripts/preflight.sh); when the binary is
// missing this test FAILS: it must never be skipped silently.

import test from "ava";
import { findMosquitto, startMosquitto } from "../host-sim/cloud/mqtt-broker.ts";
import { connectMqtt } from "../host-sim/cloud/node-mqtt.ts";
import { simProtocolUpdate } from "../host-sim/cloud/sim-protocol.ts";
import { parseUpgrade } from "../src/protocol/alibaba-mqtt.ts";

const MISSING = "mosquitto is not installed: the interop test needs Debian's mosquitto (apt-get install -y mosquitto)";

test.serial("the mosquitto binary is installed", (t) => {
  t.truthy(findMosquitto(), MISSING);
});

test.serial("mosquitto: the MqttPort publishes, subscribes and receives byte-exact QoS 1 messages", async (t) => {
  if (!findMosquitto()) return t.fail(MISSING);
  const broker = await startMosquitto();
  t.is(broker.kind, "mosquitto");
  const a = await connectMqtt(broker.url, "interop-a");
  const b = await connectMqtt(broker.url, "interop-b");
  try {
    const got: [string, Uint8Array][] = [];
    b.onMessage((topic, payload) => got.push([topic, payload]));
    b.subscribe("/ota/device/upgrade/pk1/dev1");
    await b.settled();
    const payload = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
    a.publish("/ota/device/upgrade/pk1/dev1", payload);
    a.publish("/ota/device/other/pk1/dev1", payload);
    await a.settled();
    const deadline = Date.now() + 3000;
    while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    t.is(got.length, 1);
    t.is(got[0][0], "/ota/device/upgrade/pk1/dev1");
    t.deepEqual([...got[0][1]], [...payload]);
    t.throws(() => parseUpgrade(got[0][1]));
  } finally {
    await a.close();
    await b.close();
    await broker.close();
  }
});

for (const protocol of ["mqtt", "plan"] as const) {
  test.serial(`mosquitto: a full ${protocol} update`, async (t) => {
    if (!findMosquitto()) return t.fail(MISSING);
    const r = await simProtocolUpdate({ protocol, broker: "mosquitto", size: 128 * 1024 });
    t.is(r.broker, "mosquitto");
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.imageState, "valid");
    const last = JSON.parse(r.protocolLog.at(-1)!.payload);
    if (protocol === "mqtt") t.is(last.params.version, "2.0.0");
    else t.like(last, { type: "result", code: 10705, errorCode: 0 });
  });
}

test.serial("mosquitto: a failure step (-3) reaches the cloud", async (t) => {
  if (!findMosquitto()) return t.fail(MISSING);
  const r = await simProtocolUpdate({ protocol: "mqtt", broker: "mosquitto", size: 128 * 1024, corruptByte: 1000 });
  t.is(r.errorCode, -3);
  const steps = r.protocolLog.filter((e) => e.channel.includes("/progress/")).map((e) => JSON.parse(e.payload).params.step);
  t.is(steps.at(-1), "-3");
});
