// Engine "qemu": the runtime bundle in XS on the emulated Cortex-M4 board (firmware/ on QEMU
// mps2-an386, host-sim/qemu/). Needs qemu-system-arm, gcc-arm-none-eabi and
// libnewlib-arm-none-eabi (npm test's preflight installs them); without them these tests fail
// with the missing tool's name, they are never skipped. The firmware is built when stale.

import test from "ava";
import { simUpdate, type SimUpdateReport } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import type { FlashOp } from "../host-sim/flash/nor-flash.ts";
import { flashMismatch, type QemuRunResult } from "../host-sim/qemu/sim-engine.ts";

const CUT_SIZE = 256 * 1024;

function freshBoard(): SimBoard {
  return SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
}

/** The report without what depends on the wall clock. */
function withoutTimings(r: SimUpdateReport): Omit<SimUpdateReport, "seconds"> {
  const { seconds: _seconds, ...rest } = r;
  return rest;
}

test.serial("qemu: the update 1.0.0 -> 2.0.0 (1 MiB, trial boot, confirm) reports what the node engine reports", async (t) => {
  const node = await simUpdate({ engine: "node" });
  const qemu = await simUpdate({ engine: "qemu" });
  t.true(qemu.ok, qemu.reason);
  t.is(qemu.bootedVersion, "2.0.0");
  t.is(qemu.imageState, "valid");
  t.is(qemu.slotSha256, qemu.imageSha256);
  t.is(qemu.boots, 2);
  t.deepEqual(withoutTimings(qemu), withoutTimings(node));
});

test.serial("qemu: a RAM budget too small for the runtime fails loudly, naming the budget", async (t) => {
  const board = freshBoard();
  const slots = (): Uint8Array[] => ["ota_0", "ota_1", "otajournal"].map((l) => board.partition(l).read(0, board.partition(l).geometry.size));
  const before = slots();
  const error = await t.throwsAsync(simUpdate({ engine: "qemu", existing: board, size: 64 * 1024, qemu: { ramLimit: 128 * 1024 } }));
  t.regex(error!.message, /RAM budget exceeded: .* \(RAM limit 131072 bytes\)/);
  t.deepEqual(slots(), before, "the slots and the journal are intact");
});

test("qemu host: a firmware that stops during a flash operation is reported by its own error, the flash difference added", (t) => {
  // The host replays an operation when it is announced; a FATAL (the RAM budget) while the
  // firmware waits for GO leaves it in the simulator only. That difference once replaced the
  // firmware's "RAM budget exceeded" as the whole report.
  const expected = Uint8Array.of(0xff, 0x15);
  const actual = Uint8Array.of(0xff, 0xff);
  const fatal: QemuRunResult = { outcome: "error", error: { name: "Error", message: "firmware: RAM budget exceeded: 4096 bytes more wanted" }, log: [] };
  flashMismatch(expected, actual, fatal);
  t.is(fatal.outcome, "error");
  t.regex(fatal.error!.message, /^firmware: RAM budget exceeded: 4096 bytes more wanted \(then the firmware's flash differs from the simulator's at 0x1 \(0xff vs 0x15\)\)$/);
  const done: QemuRunResult = { outcome: "done", value: 1, log: [] };
  flashMismatch(expected, actual, done);
  t.is(done.outcome, "error");
  t.is(done.error!.message, "the firmware's flash differs from the simulator's at 0x1 (0xff vs 0x15)");
  const same: QemuRunResult = { outcome: "done", value: 1, log: [] };
  flashMismatch(expected, expected.slice(), same);
  t.is(same.outcome, "done");
});

test.serial("qemu: a power cut during the download, during the boot-flag write and during confirm: each recovers to 2.0.0", async (t) => {
  // The operations of an uncut run, to aim the cuts.
  const board = freshBoard();
  const ops: { index: number; label: string; kind: FlashOp["kind"] }[] = [];
  board.flash.onOp = (op, index) => {
    const entry = board.entries.find((e) => op.address >= e.address && op.address < e.address + e.size);
    ops.push({ index, label: entry?.label ?? "?", kind: op.kind });
  };
  const uncut = await simUpdate({ engine: "node", existing: board, size: CUT_SIZE });
  t.true(uncut.ok, uncut.reason);
  t.truthy(findPartition(board.entries, "otadata"));
  const slotOps = ops.filter((o) => o.label === "ota_1" && o.kind === "write");
  const lastSlotOp = slotOps[slotOps.length - 1].index;
  const otadataWrites = ops.filter((o) => o.label === "otadata" && o.kind === "write");
  const cuts = {
    download: slotOps[Math.floor(slotOps.length / 2)].index,
    "boot-flag write": otadataWrites.find((o) => o.index > lastSlotOp)!.index,
    confirm: otadataWrites[otadataWrites.length - 1].index,
  };
  t.true(cuts["boot-flag write"] < cuts.confirm, "staging comes before the confirm");

  for (const [where, at] of Object.entries(cuts)) {
    for (const mode of ["before", "torn-write"] as const) {
      const r = await simUpdate({ engine: "qemu", existing: freshBoard(), size: CUT_SIZE, cutAt: [at], cutMode: mode, seed: 7 });
      const what = `cut ${mode} at operation ${at} (${where})`;
      t.deepEqual(r.warnings, [], `${what}: the cut fired`);
      t.true(r.boots >= 3, `${what}: the board lost power and booted again (${r.boots} boots)`);
      t.true(r.ok, `${what}: ${r.reason}`);
      t.is(r.bootedVersion, "2.0.0", what);
      t.is(r.imageState, "valid", what);
      t.is(r.slotSha256, r.imageSha256, what);
    }
  }
});
