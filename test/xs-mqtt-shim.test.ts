// The `mqtt` shim (host-sim/xs/shims/mqtt.js) over a scripted XsMqttService: the Moddable
// Client's callbacks, bytes both ways, "connection closed" before onReady and after close, and
// the host dropping the connection when the worker stops.

import test from "ava";
import { startXsEngine } from "../host-sim/xs/host.ts";
import { createMemoryServices } from "../host-sim/xs/memory-services.ts";
import type { XsMqttOptions, XsMqttService, XsMqttSink } from "../host-sim/xs/services.ts";

const BUNDLE = `(function () {
  const Client = globalThis.__moddable.require("mqtt").default;
  globalThis.main = (args) => new Promise((resolve) => {
    const client = new Client({ host: "broker.local", port: 1884, id: "dev1", user: "u", password: "p" });
    let early;
    try { client.publish("t", "too early"); } catch (e) { early = e.message; }
    client.onReady = function () {
      this.subscribe("down/#");
      this.publish("up", "hello");
      this.publish("up/bin", Uint8Array.of(1, 2, 255).buffer);
    };
    client.onMessage = (topic, data) => {
      const bytes = Array.from(new Uint8Array(data));
      if (args.closeOnMessage) {
        client.close();
        let late;
        try { client.publish("t", "late"); } catch (e) { late = e.message; }
        resolve({ early, topic, bytes, late, isBuffer: data instanceof ArrayBuffer });
      }
    };
    client.onClose = () => resolve({ early, closed: true });
  });
})();`;

interface Seen {
  options?: XsMqttOptions;
  sink?: XsMqttSink;
  log: string[];
}

function scripted(seen: Seen): XsMqttService {
  return {
    connect(options, sink) {
      seen.options = options;
      seen.sink = sink;
      setTimeout(() => sink.ready(), 5);
      return {
        publish: (topic, payload) => {
          seen.log.push(`pub ${topic} ${Array.from(payload).join(",")}`);
          if (topic === "up/bin") setTimeout(() => sink.message("down/x", Uint8Array.of(9, 8, 7)), 5);
        },
        subscribe: (topic) => void seen.log.push(`sub ${topic}`),
        close: () => void seen.log.push("close"),
      };
    },
  };
}

test("mqtt Client in XS: options, ready, publish bytes, message as ArrayBuffer, close", async (t) => {
  const seen: Seen = { log: [] };
  const e = await startXsEngine({ bundleCode: BUNDLE, services: { ...createMemoryServices(), mqtt: scripted(seen) } });
  const r = await e.run({ closeOnMessage: true });
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, { early: "connection closed", topic: "down/x", bytes: [9, 8, 7], late: "connection closed", isBuffer: true });
  t.deepEqual(seen.options, { host: "broker.local", port: 1884, id: "dev1", user: "u", password: "p", tls: false });
  t.deepEqual(seen.log, ["sub down/#", "pub up 104,101,108,108,111", "pub up/bin 1,2,255", "close"]);
  await e.close();
});

test("mqtt: the broker closing calls onClose; a worker that stops closes its connections", async (t) => {
  const seen: Seen = { log: [] };
  const e = await startXsEngine({ bundleCode: BUNDLE, services: { ...createMemoryServices(), mqtt: scripted(seen) } });
  const running = e.run({ closeOnMessage: false });
  while (!seen.log.includes("pub up/bin 1,2,255")) await new Promise((r) => setTimeout(r, 5));
  seen.sink!.close();
  const r = await running;
  t.deepEqual(r.value, { early: "connection closed", closed: true });
  // An open connection is pending I/O: a run waiting for messages is not a deadlock, and a
  // power-off closes it on the host.
  await e.reboot();
  const waiting = e.run({ closeOnMessage: false });
  seen.log.length = 0;
  while (!seen.log.includes("pub up/bin 1,2,255")) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
  e.powerOff("stopped");
  const off = await waiting;
  t.is(off.outcome, "halted");
  t.is(seen.log[seen.log.length - 1], "close");
  await e.close();
});
