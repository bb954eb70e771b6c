// The simulated ESP-IDF bootloader against torn otadata: what it boots and, byte for byte, what
// it leaves in otadata. The model below is an independent transcription of
// bootloader_utility_get_selected_boot_partition, bootloader_utility_load_boot_image and
// set_actual_ota_seq (espressif/esp-idf components/bootloader_support/src/bootloader_utility.c,
// bootloader_common_loader.c), rollback enabled, no anti-rollback, no factory app.

import test from "ava";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NorFlash } from "../host-sim/flash/nor-flash.ts";
import { EspBootControl } from "../src/targets/esp-idf/esp-boot-control.ts";
import { otadataCrc } from "../src/util/crc32.ts";
import { toHex } from "../src/util/bytes.ts";

const ENTRY = 32;
const SECTOR = 0x1000;
const ERASED = 0xffffffff;
const [NEW, PENDING, VALID, INVALID, ABORTED] = [0, 1, 2, 3, 4];
const IMAGE_SIZE = 4096;

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
const setU32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v, true);

/** A 32-byte esp_ota_select_entry_t; `label` fills seq_label. */
function entry(seq: number, state: number, opts: { crc?: number; label?: number } = {}): Uint8Array {
  const b = new Uint8Array(ENTRY).fill(0xff);
  setU32(b, 0, seq);
  if (opts.label !== undefined) b.fill(opts.label, 4, 24);
  setU32(b, 24, state);
  setU32(b, 28, opts.crc ?? otadataCrc(seq));
  return b;
}

/** The entry as a cut in the middle of its write leaves it: the first `programmed` bytes landed,
 * the rest of the erased sector is still 0xFF. */
function torn(full: Uint8Array, programmed: number): Uint8Array {
  const b = full.slice();
  b.fill(0xff, programmed);
  return b;
}

const erased = () => new Uint8Array(ENTRY).fill(0xff);

interface Model {
  /** OTA slot booted, or -1 for none. */
  slot: number;
  otadata: Uint8Array[];
}

/** ESP-IDF's bootloader over two entries and the OTA slots that hold a loadable image. */
function model(input: Uint8Array[], loadable: boolean[]): Model {
  const ota: Uint8Array[] = input.map((e) => e.slice());
  const seq = (b: Uint8Array) => u32(b, 0);
  const state = (b: Uint8Array) => u32(b, 24);
  const crcOk = (b: Uint8Array) => u32(b, 28) === otadataCrc(seq(b));
  for (const e of ota) if (state(e) === PENDING) setU32(e, 24, ABORTED);
  const invalid = (b: Uint8Array) => seq(b) === ERASED || state(b) === INVALID || state(b) === ABORTED;
  const valid = (b: Uint8Array) => !invalid(b) && crcOk(b);
  const n = loadable.length;
  let index = -1;
  let initial = false;
  if (invalid(ota[0]) && invalid(ota[1])) {
    index = 0;
    initial = ota.every((b) => seq(b) === ERASED || !crcOk(b));
  } else {
    let active = -1;
    if (valid(ota[0]) && valid(ota[1])) active = Math.max(seq(ota[0]), seq(ota[1])) === seq(ota[0]) ? 0 : 1;
    else active = valid(ota[0]) ? 0 : valid(ota[1]) ? 1 : -1;
    if (active >= 0) {
      index = Number(BigInt.asUintN(32, BigInt(seq(ota[active])) - 1n) % BigInt(n));
      if (state(ota[active]) === NEW) setU32(ota[active], 24, PENDING);
    }
  }
  const order: number[] = [];
  for (let i = index; i >= 0; i--) order.push(i); // factory (-1) is absent
  for (let i = index + 1; i < n; i++) order.push(i);
  for (const i of order) {
    if (!loadable[i]) continue;
    if (initial) ota[0] = entry(i + 1, VALID);
    return { slot: i, otadata: ota };
  }
  return { slot: -1, otadata: ota };
}

/** A board with 1.0.0 in ota_0 and 2.0.0 in ota_1 (either one corrupted on request). */
function makeBoard(corrupt?: 0 | 1) {
  const b = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: IMAGE_SIZE }));
  const ota1 = b.partition("ota_1");
  ota1.erase(0, SECTOR);
  ota1.write(0, buildTestImage({ version: "2.0.0", size: IMAGE_SIZE }));
  if (corrupt !== undefined) {
    const slot = b.partition(`ota_${corrupt}`);
    const bytes = slot.read(0, IMAGE_SIZE);
    bytes[IMAGE_SIZE / 2] ^= 0x40;
    slot.erase(0, SECTOR);
    slot.write(0, bytes);
  }
  const base = b.entries.find((e) => e.label === "otadata")!.address;
  /** Puts a flash state into otadata directly (both sectors erased, then the two entries). */
  const place = (entries: Uint8Array[]) => {
    for (let i = 0; i < 2; i++) {
      b.flash.bytes.fill(0xff, base + i * SECTOR, base + (i + 1) * SECTOR);
      b.flash.bytes.set(entries[i], base + i * SECTOR);
    }
  };
  const read = () => [0, 1].map((i) => b.flash.bytes.slice(base + i * SECTOR, base + i * SECTOR + ENTRY));
  const rest = () => [0, 1].every((i) => b.flash.bytes.subarray(base + i * SECTOR + ENTRY, base + (i + 1) * SECTOR).every((x) => x === 0xff));
  return { b, place, read, rest };
}

function bootAndCompare(t: import("ava").ExecutionContext, entries: Uint8Array[], corrupt?: 0 | 1) {
  const { b, place, read } = makeBoard(corrupt);
  place(entries);
  const want = model(entries, [corrupt !== 0, corrupt !== 1]);
  const got = b.boot();
  t.is(got.slot, `ota_${want.slot}`, got.log.join("\n"));
  t.deepEqual(read().map(toHex), want.otadata.map(toHex), got.log.join("\n"));
  return { got, after: read() };
}

test("a torn entry next to an erased one is not 'initial contents': otadata is left as it is", (t) => {
  // stage() of a fresh board writes sector 0 = {seq 2, NEW}; the cut landed after ota_seq.
  const tornEntry = torn(entry(2, NEW), 4);
  const { got, after } = bootAndCompare(t, [tornEntry, erased()]);
  t.is(got.slot, "ota_0", "no valid entry and no factory: every partition is tried from ota_0");
  t.is(toHex(after[0]), toHex(tornEntry), "ESP-IDF does not write {1, VALID} over a torn entry whose seq is set");
  t.is(toHex(after[1]), toHex(erased()));
});

test("both entries erased or with a bad crc, and both invalid, is 'initial contents': entry 0 = {N+1, VALID}", (t) => {
  // ABORTED entry whose crc write was cut, next to an erased sector.
  const { after } = bootAndCompare(t, [torn(entry(3, ABORTED), 28), erased()]);
  t.is(toHex(after[0]), toHex(entry(1, VALID)));
  // The same with ota_0 broken: ota_1 boots and entry 0 records seq 2.
  const second = bootAndCompare(t, [erased(), torn(entry(2, INVALID), 28)], 0);
  t.is(second.got.slot, "ota_1");
  t.is(toHex(second.after[0]), toHex(entry(2, VALID)));
});

test("aborting a PENDING_VERIFY entry writes it back as read: a bad crc stays bad", (t) => {
  // The bootloader's own NEW -> PENDING_VERIFY rewrite of sector 1 was cut before the crc landed.
  const tornPending = torn(entry(2, PENDING, { label: 0x00 }), 28);
  const { got, after } = bootAndCompare(t, [entry(1, VALID), tornPending]);
  t.is(got.slot, "ota_0");
  const expected = tornPending.slice();
  setU32(expected, 24, ABORTED);
  t.is(toHex(after[1]), toHex(expected), "only ota_state changes; seq_label and the bad crc stay");
  t.is(u32(after[1], 28), ERASED);
});

test("a torn PENDING_VERIFY next to an erased sector is aborted and then counts as initial contents", (t) => {
  const { after } = bootAndCompare(t, [erased(), torn(entry(2, PENDING), 28)]);
  t.is(toHex(after[0]), toHex(entry(1, VALID)), "both invalid, both without a good crc: set_actual_ota_seq runs");
  t.is(u32(after[1], 24), ABORTED);
  t.is(u32(after[1], 28), ERASED, "the aborted entry keeps its bad crc");
});

test("seq arithmetic is uint32: seq 0 selects slot 0xFFFFFFFF % app_count, not -1", (t) => {
  // A garbage entry that happens to carry seq 0 with its matching crc, next to a torn one.
  const { got } = bootAndCompare(t, [entry(0, VALID), torn(entry(3, NEW), 4)]);
  t.is(got.slot, `ota_${0xffffffff % 2}`);
  t.is(got.image.appDesc.version, "2.0.0");
  t.false(got.fellBack, "ota_1 is the selected slot, not a fallback");
});

test("NEW -> PENDING_VERIFY keeps the entry's seq_label as read", (t) => {
  const staged = entry(2, NEW, { label: 0x5a });
  const { got, after } = bootAndCompare(t, [entry(1, VALID), staged]);
  t.is(got.slot, "ota_1");
  const expected = staged.slice();
  setU32(expected, 24, PENDING);
  t.is(toHex(after[1]), toHex(expected));
});

test("every pair of erased, valid and torn entries boots and leaves otadata as ESP-IDF does", (t) => {
  const seqs = [0, 1, 2, 3, 0xfffffffe];
  const states = [NEW, PENDING, VALID, INVALID, ABORTED, ERASED];
  const variants: Uint8Array[] = [erased()];
  for (const s of seqs) {
    variants.push(torn(entry(s, NEW), 4));
    for (const st of states) {
      variants.push(entry(s, st));
      variants.push(torn(entry(s, st), 28));
    }
  }
  let runs = 0;
  const mismatches: string[] = [];
  for (const corrupt of [undefined, 0, 1] as const) {
    const { b, place, read, rest } = makeBoard(corrupt);
    for (const a of variants) for (const c of variants) {
      place([a, c]);
      const want = model([a, c], [corrupt !== 0, corrupt !== 1]);
      const got = b.boot();
      const after = read();
      runs++;
      if (got.slot !== `ota_${want.slot}` || toHex(after[0]) !== toHex(want.otadata[0]) || toHex(after[1]) !== toHex(want.otadata[1]) || !rest()) {
        mismatches.push(`${toHex(a)} / ${toHex(c)} (corrupt ${corrupt}): booted ${got.slot}, model ota_${want.slot}`);
      }
    }
  }
  t.is(runs, 3 * variants.length ** 2);
  t.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} of ${runs} states disagree`);
});

test("the application side never writes a seq that wraps past uint32 (it would read as erased or as 0)", (t) => {
  const flash = new NorFlash({ size: 2 * SECTOR, sectors: [{ offset: 0, size: SECTOR }, { offset: SECTOR, size: SECTOR }], writeAlign: 4, erasedValue: 0xff });
  flash.write(0, entry(0xfffffffe, VALID)); // slot (0xfffffffe - 1) % 2 = 1 is running
  const before = toHex(flash.bytes);
  const bc = new EspBootControl(flash.partition("otadata", 0, 2 * SECTOR), 2);
  t.is(bc.active()?.slot, 1);
  t.throws(() => bc.stage(0), { instanceOf: RangeError, message: /does not fit below 0xffffffff/ });
  t.is(toHex(flash.bytes), before, "nothing was written");
});
