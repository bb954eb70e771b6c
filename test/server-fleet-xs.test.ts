// `sim fleet --engine xs`: each board's runtime and its dialect client run inside an xsnap
// worker (one per power-on), against the real server and broker, a third of the boards on each
// dialect (HTTP polling, Alibaba and QuecThing over the mqtt shim), with a connection drop
// (board 3, alibaba), a power loss mid-download (board 7, quec) and a low battery the plan
// refuses (board 11, http).

import test from "ava";
import { runFleet } from "../host-sim/server/fleet.ts";
import { fleetDialect } from "../host-sim/server/fleet-device.ts";

test("12 XS boards on the three dialects with faults: all but the refused one end on the target version, in XS", async (t) => {
  const r = await runFleet({ devices: 12, engine: "xs", dialect: "mix", faults: "mix", imageSize: 32 * 1024, timeoutMs: 45_000 });
  // Board 11 has a 10% battery under the plan's 20% minimum (the readings reach XS as args).
  t.is(r.rejected, 1);
  t.is(r.failed, 0);
  t.is(r.succeeded, 11);
  const xs = r.xs!;
  t.truthy(xs, "engine xs reports its workers");
  t.deepEqual(xs.versions, { "2.0.0": 11, "1.0.0": 1 }, "the versions the runtime reported from XS at its last boot");
  t.is(xs.errors, 0);
  t.is(xs.powerLosses, 1, "board 7 lost power mid-download");
  t.is(xs.drops, 1, "board 3's connection was closed mid-download");
  // Every updated board ran at least two workers (old and new image), the one that lost power
  // one more; the refused board one.
  t.true(xs.workerRuns >= 2 * 11 + 1 + 1, `${xs.workerRuns} worker runs`);
  // The XS meter counted the runtime's own JS (the shims excluded): an update of 32 KiB takes
  // hundreds of thousands of XS operations per board.
  t.true(xs.compute > 12 * 100_000, `compute ${xs.compute}`);
  t.true(xs.meanPeakRssKiB > 1024, `mean peak RSS ${xs.meanPeakRssKiB} KiB`);
  t.true(r.bytesServed >= 11 * 32 * 1024);
});

test("the fleet's engine and dialect: mix by default on both engines; another engine is refused", async (t) => {
  t.is(fleetDialect("xs", undefined), "mix");
  t.is(fleetDialect("node", undefined), "mix");
  t.is(fleetDialect("xs", "quec"), "quec");
  await t.throwsAsync(runFleet({ devices: 1, engine: "bogus" as "xs" }), { message: /fleet engine must be node or xs/ });
});
