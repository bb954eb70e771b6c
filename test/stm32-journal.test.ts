// The journal and the slot writer on the STM32 geometries: the 128 KiB sectors of stm32f4-1mb
// (durable progress every 4 KiB inside a sector, a resume that continues inside the sector only
// when the rest of it still reads erased) and the ECC write-once double-words of
// stm32l4-dualbank-1mb (a journal slot whose words a torn program consumed is skipped).

import test from "ava";
import { boardProfile, chipGeometry, layoutEntry } from "../host-sim/boards/profiles.ts";
import { NorFlash } from "../host-sim/flash/nor-flash.ts";
import { Journal } from "../src/agent/journal.ts";
import { SlotWriter } from "../src/flash/slot-writer.ts";
import { simUpdate } from "../host-sim/sim-update.ts";

function region(board: string, label: string) {
  const p = boardProfile(board);
  const flash = new NorFlash(chipGeometry(p));
  const e = layoutEntry(p, label);
  return { flash, part: flash.partition(label, e.offset, e.size), address: e.offset };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

test("stm32l4: a journal slot that reads erased but whose ECC double-word a torn program consumed is skipped", (t) => {
  const { flash, part } = region("stm32l4-dualbank-1mb", "journal");
  const j = new Journal(part);
  j.load();
  j.save({ phase: "download", progress: 0, slot: "bank2" });
  const first = part.read(0, 2048);
  let end = first.length;
  while (end > 0 && first[end - 1] === 0xff) end--;
  const next = Math.ceil(end / 32) * 32;
  // A program of all ones consumes the word as a torn program does, and still reads erased.
  part.write(next, new Uint8Array(8).fill(0xff));
  const again = new Journal(flash.partition("journal", layoutEntry(boardProfile("stm32l4-dualbank-1mb"), "journal").offset, part.geometry.size));
  t.is(again.load().phase, "download");
  t.notThrows(() => again.checkpoint(4096));
  const reloaded = new Journal(part);
  t.is(reloaded.load().progress, 4096);
  t.is(reloaded.state.slot, "bank2");
});

test("stm32f4: inside a 128 KiB sector the slot writer reports durable progress every 4 KiB", (t) => {
  const { part } = region("stm32f4-1mb", "secondary");
  const data = bytes(10_000, 1);
  const w = new SlotWriter(part, 4096);
  const points: number[] = [];
  w.onSectorDone = (end) => points.push(end);
  for (let at = 0; at < data.length; at += 1000) w.write(data.subarray(at, at + 1000));
  t.deepEqual(points, [4096, 8192]);
  const coarse = new SlotWriter(part, 0);
  const none: number[] = [];
  coarse.onSectorDone = (end) => none.push(end);
  coarse.seek(0);
  for (let at = 0; at < data.length; at += 1000) coarse.write(data.subarray(at, at + 1000));
  t.deepEqual(none, [], "without a unit, only a sector's end is durable");
});

test("stm32f4: a resume continues inside the sector, programming the bytes written after the checkpoint again", (t) => {
  const { flash, part } = region("stm32f4-1mb", "secondary");
  const data = bytes(200_000, 3);
  const w = new SlotWriter(part, 4096);
  w.write(data.subarray(0, 10_000)); // durable to 8192; 8192..10000 written, not recorded
  t.is(w.resumeStart(8192), 8192);
  const erases = flash.counters.erases;
  const r = new SlotWriter(part, 4096);
  r.seek(8192);
  r.write(data.subarray(8192));
  r.flush();
  t.is(flash.counters.erases - erases, 1, "the first sector is not erased again; the second one is erased once");
  t.deepEqual(part.read(0, data.length), data);
});

test("write-once (ECC) flash with large sectors: a resume continues inside the sector only where the rest reads erased", (t) => {
  const KiB = 1024;
  const flash = new NorFlash({ size: 256 * KiB, sectors: [{ offset: 0, size: 128 * KiB }, { offset: 128 * KiB, size: 128 * KiB }], writeAlign: 8, erasedValue: 0xff, eccWordSize: 8 });
  const part = flash.partition("slot", 0, 256 * KiB);
  t.true(part.geometry.writeOnce);
  const data = bytes(20_000, 5);
  const w = new SlotWriter(part, 4096);
  w.write(data.subarray(0, 8192));
  t.is(w.resumeStart(8192), 8192, "nothing after the checkpoint");
  w.write(data.subarray(8192, 9000));
  t.is(new SlotWriter(part, 4096).resumeStart(8192), 0, "bytes after the checkpoint cannot be programmed again: the sector starts again");
  const r = new SlotWriter(part, 4096);
  r.seek(0);
  r.write(data);
  r.flush();
  t.deepEqual(part.read(0, data.length), data);
});

test("stm32f4: a power loss inside a 128 KiB sector fetches again at most a few KiB", async (t) => {
  const r = await simUpdate({ board: "stm32f4-1mb", size: 200 * 1024, rebootAt: [100_000] });
  t.true(r.ok, r.reason);
  t.true(r.bytesFetchedAgain < 16 * 1024, `${r.bytesFetchedAgain} bytes fetched again`);
});
