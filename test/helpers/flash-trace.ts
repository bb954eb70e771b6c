// The flash operations (writes and erases, in order, with chip addresses and lengths) of whole
// simulated updates on a fresh esp32-4mb board: the fingerprint of what the runtime and the
// simulated bootloader do to flash, compared across engines and against a recording.

import { simUpdate, type SimUpdateOptions } from "../../host-sim/sim-update.ts";
import { SimBoard } from "../../host-sim/board.ts";
import { profile } from "../../host-sim/boards/profiles.ts";
import { buildTestImage } from "../../host-sim/image-builder.ts";

/** The runs whose traces are recorded: an update, a rollback and an update resumed after two
 * power losses and a dropped connection. */
export const TRACE_RUNS: Readonly<Record<string, Partial<SimUpdateOptions>>> = Object.freeze({
  update: {},
  rollback: { failSelfTest: true },
  resumed: { rebootAt: [20_000, 41_000], dropAt: [9_000] },
});

export interface Trace {
  errorCode: number;
  bootedSlot: string;
  ops: string[];
}

export async function flashTrace(run: keyof typeof TRACE_RUNS, engine: "node" | "xs"): Promise<Trace> {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const ops: string[] = [];
  board.flash.onOp = (op) => ops.push(`${op.kind} 0x${op.address.toString(16)} +${op.length}`);
  const r = await simUpdate({ existing: board, size: 64 * 1024 + 5, engine, ...TRACE_RUNS[run] });
  return { errorCode: r.errorCode, bootedSlot: r.bootedSlot, ops };
}
