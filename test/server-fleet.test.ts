// A simulated fleet of 150 boards updates from one server with staged rollout and the fault
// mix (connection drops, power losses mid-download, low batteries the strategy refuses): every
// board that the policy did not refuse ends on the target version, wave by wave.

import test from "ava";
import { runFleet } from "../host-sim/server/fleet.ts";

test("150 boards with faults: all but the refused ones end on the target version", async (t) => {
  const r = await runFleet({ devices: 150, faults: "mix", wavePercent: 25 });
  t.is(r.devices, 150);
  // 1 in 20 boards has a 10% battery under the plan's 20% minimum.
  t.is(r.rejected, Math.ceil((150 - 11) / 20));
  t.is(r.failed, 0);
  t.is(r.succeeded, 150 - r.rejected);
  t.is(r.waves, 4);
  t.true(r.peakConcurrent > 0 && r.peakConcurrent <= 150);
  t.true(r.bytesServed >= r.succeeded * 64 * 1024);
});
