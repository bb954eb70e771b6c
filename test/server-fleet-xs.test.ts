// `sim fleet --engine xs`: each board's runtime and its dialect client run inside an xsnap
// worker (one per power-on), against the real server and broker, a third of the boards on each
// dialect (HTTP polling, Alibaba and QuecThing over the mqtt shim), with a connection drop
// (board 3, alibaba), a power loss mid-download (board 7, quec) and a low battery the plan
// refuses (board 11, http).

import test from "ava";
import { runFleet, runFleetDetailed } from "../host-sim/server/fleet.ts";
import { fleetDialect } from "../host-sim/server/fleet-device.ts";

test("12 XS boards on the three dialects with the seeded fault mix: every board not refused ends on the target version, in XS", async (t) => {
  const { report: r, devices } = await runFleetDetailed({ devices: 12, engine: "xs", dialect: "mix", faults: "mix", imageSize: 32 * 1024, timeoutMs: 45_000 });
  const has = (k: string) => devices.filter((d) => d.faults.includes(k as never)).length;
  const refused = devices.filter((d) => d.faults.includes("lowBattery") || d.faults.includes("lowSignal")).length;
  t.true(refused >= 1 && has("drops") >= 1 && has("reboots") + has("powerCuts") >= 1, JSON.stringify(devices.map((d) => d.faults)));
  // Low battery and low signal reach XS as the board's readings; the plan's strategy refuses them.
  t.is(r.rejected, refused);
  t.is(r.failed, 0);
  t.is(r.succeeded, 12 - refused);
  const xs = r.xs!;
  t.truthy(xs, "engine xs reports its workers");
  t.deepEqual(xs.versions, { "2.0.0": 12 - refused, "1.0.0": refused }, "the versions the runtime reported from XS at its last boot");
  t.is(xs.errors, 0);
  // On this engine restarts and power cuts are power losses between chunks.
  t.is(xs.powerLosses, has("reboots") + has("powerCuts"));
  t.is(xs.drops, has("drops"));
  // Every updated board ran at least two workers (old and new image); a refused board one.
  t.true(xs.workerRuns >= 2 * (12 - refused) + refused, `${xs.workerRuns} worker runs`);
  // The XS meter counted the runtime's own JS (the shims excluded).
  t.true(xs.compute > 12 * 100_000, `compute ${xs.compute}`);
  t.true(xs.meanPeakRssKiB > 1024, `mean peak RSS ${xs.meanPeakRssKiB} KiB`);
  t.true(r.bytesServed >= (12 - refused) * 32 * 1024);
});

test("the fleet's engine and dialect: mix by default on both engines; another engine is refused", async (t) => {
  t.is(fleetDialect("xs", undefined), "mix");
  t.is(fleetDialect("node", undefined), "mix");
  t.is(fleetDialect("xs", "quec"), "quec");
  await t.throwsAsync(runFleet({ devices: 1, engine: "bogus" as "xs" }), { message: /fleet engine must be node or xs/ });
});
