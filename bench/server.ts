// The update server under a simulated fleet: N boards (default 200; `-- 1000` for more) update
// through the server with staged rollout (25% waves), each with its own 4 MB flash file in a
// temporary folder, and the fault mix (drops, reboots, power cuts inside flash operations, low
// battery and low signal refused by the plan's strategy). Prints one JSON line: {devices,
// succeeded, failed, rejected, seconds, bytesServed, peakConcurrent, p50Seconds, p99Seconds,
// devicesPerMinute, waves, faults, p99SecondsToSuccess}.

import { runFleet } from "../host-sim/server/fleet.ts";

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  for (const devices of sizes.length ? sizes : [200]) {
    const r = await runFleet({ devices, progress: (l) => console.error(l) });
    console.log(JSON.stringify({ ...r, p99SecondsToSuccess: r.p99Seconds }));
  }
}

void main();
