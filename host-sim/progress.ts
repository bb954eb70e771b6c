// A progress bar for people at a terminal (cli-progress). The bar runs over percent (0..100); the
// image's byte count travels in payload tokens of our own: cli-progress fills {percentage}, and
// its {value} and {total} are the bar's, so they cannot carry the bytes.

import cliProgress from "cli-progress";
import type { Progress } from "../src/agent/types.ts";

export interface ProgressBarOptions {
  /** Where the bar is drawn (default: stderr, as cli-progress). */
  stream?: NodeJS.WritableStream;
  /** Draw even when the stream is not a terminal (tests). */
  force?: boolean;
}

export const PROGRESS_FORMAT = "{phase} [{bar}] {percentage}% | {bytes}/{imageSize} bytes";

export function progressBar(o: ProgressBarOptions = {}): { update(p: Progress): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      format: PROGRESS_FORMAT, hideCursor: true, clearOnComplete: false,
      stream: o.stream, noTTYOutput: o.force === true, notTTYSchedule: 0, fps: 1000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { phase: p.phase.padEnd(8), bytes: p.bytes, imageSize: p.total };
      if (!started) {
        bar.start(100, p.percent, payload);
        started = true;
      }
      bar.update(p.percent, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
