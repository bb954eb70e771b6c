// `sim fleet --engine xs`: each board's runtime and its HTTP dialect client run inside an xsnap
// worker (one per power-on), against the real server, with a connection drop, a power loss
// mid-download and a low battery the plan refuses.

import test from "ava";
import { runFleet } from "../host-sim/server/fleet.ts";
import { fleetDialect } from "../host-sim/server/fleet-device.ts";

test("12 XS boards with faults: all but the refused one end on the target version, in XS", async (t) => {
  const r = await runFleet({ devices: 12, engine: "xs", faults: "mix", imageSize: 32 * 1024, timeoutMs: 45_000 });
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

test("engine xs runs the http dialect only: the MQTT dialects are refused with a reason", async (t) => {
  t.is(fleetDialect("xs", undefined), "http");
  t.is(fleetDialect("node", undefined), "mix");
  for (const d of ["alibaba", "quec", "mix"] as const) {
    await t.throwsAsync(runFleet({ devices: 1, engine: "xs", dialect: d }), { message: /engine xs runs the http dialect only/ });
  }
  await t.throwsAsync(runFleet({ devices: 1, engine: "bogus" as "xs" }), { message: /fleet engine must be node or xs/ });
});
