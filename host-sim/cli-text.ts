// What the CLI prints: the update summary, the torture summary and the counters, in words a
// person reads (singular and plural, no JSON inside sentences).

import type { SimUpdateReport } from "./sim-update.ts";
import type { TortureReport } from "./torture.ts";

/** "1 boot", "2 boots"; `many` for irregular plurals. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function updateSummary(r: SimUpdateReport): string {
  const lines = [
    r.ok ? `Update ${r.fromVersion} -> ${r.toVersion}: OK` : `Update ${r.fromVersion} -> ${r.toVersion}: FAILED (${r.errorCode}) ${r.reason}`,
    `  booted      ${r.bootedSlot || "-"} running ${r.bootedVersion || "-"} (${r.imageState})`,
    `  downloaded  ${count(r.bytesDownloaded, "byte")}, ${r.bytesFetchedAgain} fetched again, ${count(r.interruptions, "interruption")}${r.patchBytes === undefined ? "" : ` (a ${r.patchBytes}-byte patch)`}`,
    `  flash       ${count(r.flashErases, "sector erase")}, ${count(r.flashWrites, "write")}`,
    `  time        ${r.seconds.toFixed(2)} s over ${count(r.boots, "boot")}`,
  ];
  if (r.ok) lines.splice(1, 0, `  ${r.reason}`);
  return lines.join("\n");
}

/** One line: runs, the cut points swept per cycle (all of them, or a sample), modes, failures. */
export function tortureSummary(r: TortureReport, sample?: number): string {
  const cycles = Object.entries(r.cutPoints).map(([cycle, n]) =>
    sample === undefined || sample >= n ? `all ${count(n, "flash operation")} of the ${cycle} cycle` : `${sample} of the ${count(n, "flash operation")} of the ${cycle} cycle`);
  const modes = `${r.modes.length === 1 ? "mode" : "modes"} ${r.modes.join(", ")}`;
  return `${count(r.runs, "run")}, a cut at ${cycles.join(" and ")}, ${modes}: ${count(r.failures, "failure")} (${r.seconds.toFixed(1)} s)`;
}

/** A `done/total runs` counter on one terminal line; end() finishes that line so the next
 * output starts on a line of its own. */
export function runCounter(stream: { write(s: string): unknown }): { onRun(done: number, total: number): void; end(): void } {
  let open = false;
  return {
    onRun(done, total) {
      stream.write(`\r${done}/${count(total, "run")}`);
      open = true;
    },
    end() {
      if (open) stream.write("\n");
      open = false;
    },
  };
}
