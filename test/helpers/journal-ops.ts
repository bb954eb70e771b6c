// The journal's flash operations in an uncut simulated update, with what each write recorded:
// cut points for tests that aim at one journal record ("just before the staging record").
import { simUpdate } from "../../host-sim/sim-update.ts";
import type { SimBoard } from "../../host-sim/board.ts";
import { findPartition } from "../../src/targets/esp-idf/partition-table.ts";
import { decodeRecord, RecordType } from "../../src/agent/journal-record.ts";
import { readU32LE } from "../../src/util/bytes.ts";
import { utf8Decode } from "../../src/util/utf8.ts";

export interface JournalOp {
  /** Flash operation index (a cut point for simUpdate's cutAt). */
  index: number;
  kind: "write" | "erase";
  /** Writes: the record's type, and the phase (State) or progress (Progress) it holds. */
  type?: number;
  phase?: string;
  progress?: number;
}

export async function journalOps(makeBoard: () => SimBoard, size: number, failSelfTest = false): Promise<JournalOp[]> {
  const b = makeBoard();
  const journal = findPartition(b.entries, "otajournal");
  if (!journal) throw new Error("board has no otajournal partition");
  const out: JournalOp[] = [];
  let last: { op: JournalOp; address: number; length: number } | undefined;
  // onOp runs before the operation: a write is decoded once it has happened (at the next
  // operation, or at the end).
  const settle = () => {
    if (!last) return;
    const r = decodeRecord(b.flash.bytes, last.address, last.address + last.length);
    if (r) {
      last.op.type = r.type;
      if (r.type === RecordType.State) last.op.phase = (JSON.parse(utf8Decode(r.payload)) as { phase: string }).phase;
      if (r.type === RecordType.Progress) last.op.progress = readU32LE(r.payload, 0);
    }
    last = undefined;
  };
  b.flash.onOp = (op, index) => {
    settle();
    if (op.address < journal.address || op.address >= journal.address + journal.size) return;
    const j: JournalOp = { index, kind: op.kind };
    out.push(j);
    if (op.kind === "write") last = { op: j, address: op.address, length: op.length };
  };
  const r = await simUpdate({ existing: b, size, failSelfTest });
  settle();
  if (failSelfTest ? r.errorCode !== -1 : !r.ok) throw new Error(`uncut run failed: ${r.reason}`);
  return out;
}
