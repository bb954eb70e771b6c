// A worker thread of `xs-ota sim torture --jobs N` (torture.ts runPlan): runs the sweep's runs it
// is handed, one at a time, and answers each with its flash operation count and first problem.
// workerData: LaneSetup {size, engine, delta, board}; messages in: {i, run} or null (no more runs); out: LaneResult.

import { parentPort, workerData } from "node:worker_threads";
import { runSetup, tortureRun, type LaneResult, type LaneSetup, type PlannedRun } from "./torture.ts";

const port = parentPort;
if (!port) throw new Error("torture-lane.ts runs as a worker thread of torture.ts");
const setup = runSetup(workerData as LaneSetup);
port.on("message", (m: { i: number; run: PlannedRun } | null) => {
  if (m === null) {
    port.close();
    return;
  }
  tortureRun(setup, m.run).then(
    (r) => port.postMessage({ i: m.i, ...r } satisfies LaneResult),
    (e: unknown) => port.postMessage({ i: m.i, ops: 0, problem: `threw: ${e instanceof Error ? e.message : String(e)}` } satisfies LaneResult),
  );
});
