import test from "ava";
import { torture } from "../host-sim/torture.ts";
import { simUpdate } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import type { CutMode, FlashOp } from "../host-sim/flash/nor-flash.ts";
import { ENGINES, type Engine } from "./helpers/engines.ts";
import { journalOps } from "./helpers/journal-ops.ts";

const SIZE = 64 * 1024;
const board = () => SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));

test("full sweep: a cut at every flash operation, all modes, update and rollback: no failure", async (t) => {
  const r = await torture({ size: SIZE });
  t.log(JSON.stringify(r));
  t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
  t.true(r.cutPoints.update > 50 && r.cutPoints.rollback > 50);
  t.is(r.runs, 3 * (r.cutPoints.update + r.cutPoints.rollback));
});

// Issue 9 §1: offers whose size is not a multiple of 4, 16 or 4096 (a valid image plus trailing
// bytes). The end-of-image checkpoint is then off every boundary; a cut before the staging record
// left a journal that failed every later boot with -4. One size gets the full sweep; the others a
// sample plus every journal operation (each record, the staging one included), in all modes.
test("odd size 64 KiB+1: a cut at every flash operation, all modes, update and rollback: no failure", async (t) => {
  const r = await torture({ size: SIZE + 1 });
  t.log(JSON.stringify(r));
  t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
  t.is(r.runs, 3 * (r.cutPoints.update + r.cutPoints.rollback));
});

for (const size of [SIZE + 6, SIZE + 19]) {
  test(`odd size 64 KiB+${size - SIZE}: sampled cuts and every journal operation, all modes: no failure`, async (t) => {
    const journal = (await journalOps(board, size)).length;
    const r = await torture({ size, cutPoints: 16, cutJournal: true });
    t.log(JSON.stringify(r));
    t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
    t.true(r.runs >= 3 * journal, `${r.runs} runs, ${journal} journal operations per update`);
  });
}

/** Operation indices of an uncut update, with what each one was. */
async function opsOfCleanRun(failSelfTest = false): Promise<{ index: number; op: FlashOp }[]> {
  const b = board();
  const ops: { index: number; op: FlashOp }[] = [];
  b.flash.onOp = (op, index) => ops.push({ index, op });
  const r = await simUpdate({ existing: b, size: SIZE, failSelfTest });
  if (failSelfTest ? r.errorCode !== -1 : !r.ok) throw new Error(`clean run failed: ${r.reason}`);
  return ops;
}

const otadata = findPartition(board().entries, "otadata")!;
const inOtadata = (op: FlashOp) => op.address >= otadata.address && op.address < otadata.address + otadata.size;

async function cutAndCheck(t: import("ava").ExecutionContext, engine: Engine, at: number, mode: CutMode, want: "2.0.0" | "1.0.0", failSelfTest = false) {
  const r = await simUpdate({ engine, existing: board(), size: SIZE, cutAt: [at], cutMode: mode, seed: at, failSelfTest });
  t.is(r.bootedVersion, want, r.reason);
  t.is(r.imageState, "valid");
  if (want === "2.0.0") t.true(r.ok, r.reason);
  else t.is(r.errorCode, -1);
}

// The named regressions run on every engine (the operation indices are the same: torture-xs.test.ts).
for (const engine of ENGINES) {
  // Regression: a cut at operation 4 (the journal record of the first response's ETag) threw
  // PowerCut out of the HTTP response callback instead of ending the exchange.
  test(`${engine}: cut at 4 before: the validator's journal write fails inside the response callback`, async (t) => {
    await cutAndCheck(t, engine, 4, "before", "2.0.0");
  });

  // Regression: the bootloader's NEW -> PENDING_VERIFY rewrite erases the new image's record first;
  // a cut there booted 1.0.0 and the update was reported failed instead of staged again.
  for (const mode of ["before", "torn-erase"] as CutMode[]) {
    test(`${engine}: cut at the bootloader's NEW->PENDING_VERIFY erase (${mode}): the image is staged again`, async (t) => {
      const ops = await opsOfCleanRun();
      const stagedWrite = ops.filter((o) => inOtadata(o.op) && o.op.kind === "write")[1];
      const bootloaderErase = ops.find((o) => o.index > stagedWrite.index && inOtadata(o.op) && o.op.kind === "erase")!;
      await cutAndCheck(t, engine, bootloaderErase.index, mode, "2.0.0");
    });
  }

  // Regression: a cut during the trial boot, before the confirm's first write, let the bootloader
  // abort the trial; the agent now gives the image another trial.
  for (const mode of ["before", "torn-write"] as CutMode[]) {
    test(`${engine}: cut at the confirm's first write (${mode}): another trial, then 2.0.0 confirmed`, async (t) => {
      const ops = await opsOfCleanRun();
      const writes = ops.filter((o) => inOtadata(o.op) && o.op.kind === "write");
      // writes: bootloader initial record, stage, bootloader PENDING_VERIFY, confirm state bits, confirm VALID record
      await cutAndCheck(t, engine, writes[3].index, mode, "2.0.0");
      await cutAndCheck(t, engine, writes[4].index, mode, "2.0.0");
    });
  }

  test(`${engine}: cut at the mark-invalid write during a rollback: still ends on 1.0.0 valid with -1`, async (t) => {
    const ops = await opsOfCleanRun(true);
    const writes = ops.filter((o) => inOtadata(o.op));
    for (const w of writes.slice(-4)) await cutAndCheck(t, engine, w.index, "torn-write", "1.0.0", true);
  });
}
