// The ESP-IDF boot target moved behind the BootTarget interface (src/targets/) with the same
// flash operations: test/fixtures/esp32-flash-ops.json was recorded by test/helpers/flash-trace.ts
// on main at 23acd5f, before the move, on the node engine (an update, a rollback after a failed
// self-test, an update resumed after power losses and a drop; 114, 114 and 125 operations). Both
// engines must still do exactly those writes and erases, in that order, at those addresses.

import test from "ava";
import * as fs from "node:fs";
import { ENGINES } from "./helpers/engines.ts";
import { flashTrace, TRACE_RUNS, type Trace } from "./helpers/flash-trace.ts";

const recorded = JSON.parse(fs.readFileSync(new URL("./fixtures/esp32-flash-ops.json", import.meta.url), "utf8")) as Record<string, Trace>;

for (const engine of ENGINES) {
  for (const run of Object.keys(TRACE_RUNS) as (keyof typeof TRACE_RUNS)[]) {
    test(`${engine}: the esp32 ${run} does the flash operations recorded before the boot-target refactor`, async (t) => {
      const trace = await flashTrace(run, engine);
      t.true(trace.ops.length > 100);
      t.deepEqual(trace, recorded[run]);
    });
  }
}
