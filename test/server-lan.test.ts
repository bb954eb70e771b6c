// The server as a real device on the LAN sees it: listening on 0.0.0.0, the file URLs and the
// embedded broker's URL name this machine's network address (not loopback), and devices of all
// three dialects update through those URLs. Listening on the default loopback address, the
// embedded broker is not reachable from the network.

import test from "ava";
import * as net from "node:net";
import * as os from "node:os";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import { call, startServer, until, uploadImage } from "./helpers/ota-server.ts";

function lanAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === "IPv4" && !a.internal).map((a) => a.address);
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });
}

test("on 0.0.0.0 devices get the LAN address for files and the broker, and update through them", async (t) => {
  const lan = lanAddresses();
  const server = await startServer({ host: "0.0.0.0" });
  try {
    const expected = lan[0] ?? "127.0.0.1";
    t.is(new URL(server.base).hostname, expected);
    const broker = new URL(server.deviceBrokerUrl);
    t.is(broker.hostname, expected);
    t.is((await call(server, "GET", "/api/status")).json.broker, server.deviceBrokerUrl);
    t.true(await reachable(expected, Number(broker.port)), "the embedded broker answers on the device's address");
    const pkg = (await uploadImage(server, "lan", "2.0.0")).json;
    const plan = await call(server, "POST", "/api/plans", { product: "lan", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
    t.is(plan.status, 201, JSON.stringify(plan.json));
    t.is((await call(server, "POST", `/api/plans/${plan.json.id}/activate`)).status, 200);
    const devices = (["alibaba", "quec", "http"] as const).map((d) => new SimDevice({ product: "lan", name: `lan-${d}`, dialect: d, serverBase: server.base, brokerUrl: server.deviceBrokerUrl }));
    const runs = devices.map((d) => d.run());
    await until(() => devices.every((d) => d.version === "2.0.0"), 60_000, "every device on 2.0.0");
    for (const d of devices) d.stop();
    await Promise.all(runs);
    t.is((await call(server, "GET", `/api/plans/${plan.json.id}`)).json.counts.success, 3);
  } finally {
    await server.close();
  }
});

test("on the default loopback address the embedded broker is not reachable from the network", async (t) => {
  const lan = lanAddresses();
  const server = await startServer();
  try {
    const broker = new URL(server.deviceBrokerUrl);
    t.is(broker.hostname, "127.0.0.1");
    t.true(await reachable("127.0.0.1", Number(broker.port)));
    for (const a of lan) t.false(await reachable(a, Number(broker.port)), `broker reachable on ${a}`);
  } finally {
    await server.close();
  }
});
