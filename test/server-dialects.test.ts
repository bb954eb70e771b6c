// Simulated boards (SimBoard + Agent, node engine) update from the server through each of the
// three dialects over the embedded broker and the HTTP routes; success is judged by the version
// each device reports after its reboot.

import test from "ava";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import type { Dialect } from "../host-sim/server/rollout.ts";
import { call, startServer, until, uploadImage } from "./helpers/ota-server.ts";

test("devices on all three dialects update from one plan to the target version", async (t) => {
  const server = await startServer();
  const devices: SimDevice[] = [];
  try {
    const pkg = await uploadImage(server, "pk1", "2.0.0");
    t.is(pkg.status, 201, JSON.stringify(pkg.json));
    t.is(pkg.json.files[0].version, "2.0.0");
    const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.json.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
    t.is(plan.status, 201, JSON.stringify(plan.json));
    t.is((await call(server, "POST", `/api/plans/${plan.json.id}/activate`)).status, 200);
    const dialects: Dialect[] = ["alibaba", "quec", "http"];
    for (const d of dialects) devices.push(new SimDevice({ product: "pk1", name: `dev-${d}`, dialect: d, serverBase: server.base, brokerUrl: server.broker.url }));
    const runs = devices.map((d) => d.run());
    await until(() => devices.every((d) => d.version === "2.0.0"), 60_000, "every device on 2.0.0");
    await until(async () => (await call(server, "GET", `/api/plans/${plan.json.id}`)).json.counts.success === 3, 10_000, "3 successes");
    for (const d of devices) d.stop();
    await Promise.all(runs);
    const stats = (await call(server, "GET", `/api/plans/${plan.json.id}`)).json;
    t.is(stats.counts.success, 3);
    t.is(stats.successRate, 1);
    for (const d of dialects) {
      const dev = (await call(server, "GET", `/api/devices/pk1/dev-${d}`)).json;
      t.is(dev.version, "2.0.0", d);
      t.is(dev.dialect, d);
      t.is(dev.plans[0].state, "success", d);
      t.true(dev.events.some((e: { kind: string }) => e.kind === "success"), d);
    }
    t.true(server.fileStats.bytesServed >= 3 * 32 * 1024);
  } finally {
    for (const d of devices) d.stop();
    await server.close();
  }
});
