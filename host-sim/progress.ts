// A progress bar for people at a terminal (cli-progress).

import cliProgress from "cli-progress";
import type { Progress } from "../src/agent/types.ts";

export function progressBar(): { update(p: Progress): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    { format: "{phase} [{bar}] {percent}% | {bytes}/{total} bytes", hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(100, 0, { phase: p.phase.padEnd(8), bytes: 0, total: p.total });
        started = true;
      }
      bar.update(p.percent, { phase: p.phase.padEnd(8), bytes: p.bytes, total: p.total });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
