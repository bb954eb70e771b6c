// MCUboot image trailer and the application API (src/targets/mcuboot/trailer.ts, boot-control.ts)
// against the byte layout of shared/reference/boot-formats.md §4.3-§4.5 (the offsets and magic
// bytes below are typed from the reference's table, not computed by the code under test) and
// against the trailers imgtool wrote into the padded vectors (shared/vectors/mcuboot/).

import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NorFlash, type FlashOp } from "../host-sim/flash/nor-flash.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";
import { SwapType, readSwapState, trailerLayout, writeFlag, writeMagic } from "../src/targets/mcuboot/trailer.ts";
import { OtaError } from "../src/errors.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");
const vector = (f: string) => new Uint8Array(readFileSync(path.join(VECTORS, f)));

// boot-formats.md §4.3 "Magic values".
const MAGIC_A8 = [0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80];
const MAGIC_A32 = [0x20, 0x00, 0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a];

/** Two slots on one chip: primary (4 sectors) at 0, secondary (3 sectors) after it. */
function board(sector = 0x1000, writeAlign = 8, bytes?: Uint8Array) {
  const size = 7 * sector;
  const flash = new NorFlash({ size, sectors: Array.from({ length: 7 }, (_, i) => ({ offset: i * sector, size: sector })), writeAlign, erasedValue: 0xff }, bytes);
  const ops: FlashOp[] = [];
  flash.onOp = (op) => void ops.push(op);
  const primary = flash.partition("primary", 0, 4 * sector);
  const secondary = flash.partition("secondary", 4 * sector, 3 * sector);
  return { flash, ops, primary, secondary, sector };
}

test("offsets from the slot end follow the reference table for max-align 8 and 32", (t) => {
  const S = 0x20000;
  const a8 = trailerLayout(S, { writeAlign: 8, strategy: "swap-move", imageSectors: 4 });
  t.deepEqual([a8.magicOff, a8.imageOkOff, a8.copyDoneOff, a8.swapInfoOff, a8.swapSizeOff], [S - 16, S - 24, S - 32, S - 40, S - 48]);
  t.deepEqual([a8.magicWriteOff, a8.magicWriteSize], [S - 16, 16]);
  const a32 = trailerLayout(S, { maxAlign: 32, writeAlign: 8, strategy: "swap-move", imageSectors: 4 });
  t.deepEqual([a32.magicOff, a32.imageOkOff, a32.copyDoneOff, a32.swapInfoOff, a32.swapSizeOff], [S - 16, S - 64, S - 96, S - 128, S - 160]);
  t.deepEqual([a32.magicWriteOff, a32.magicWriteSize], [S - 32, 32]);
  // boot_trailer_sz = MAX_IMG_SECTORS x STATE_COUNT(3) x write size + boot_trailer_info_sz (48 for A=8)
  t.is(a8.trailerSize, 4 * 3 * 8 + 48);
  t.is(a8.statusOff, S - (4 * 3 * 8 + 48));
  t.is(a32.trailerSize, 4 * 3 * 8 + 4 * 32 + 32);
  t.is(trailerLayout(S, { writeAlign: 4, strategy: "overwrite-only", imageSectors: 4 }).trailerSize, 48);
  t.throws(() => trailerLayout(S, { maxAlign: 8, writeAlign: 16, strategy: "swap-move", imageSectors: 4 }), { instanceOf: RangeError });
});

test("the trailers imgtool wrote (--pad, --confirm, --max-align 32) decode to the swap the table gives", (t) => {
  const cases: [string, number, number, string, string][] = [
    ["ecdsa-p256_h200_4096_pad_slot20000.bin", 0x20000, 8, "unset", "TEST"],
    ["ecdsa-p256_h200_4096_confirm_slot8000.bin", 0x8000, 8, "set", "PERM"],
    ["ed25519_h200_4096_pad_maxalign32_slot8000.bin", 0x8000, 32, "unset", "TEST"],
  ];
  for (const [file, slot, maxAlign, imageOk, swap] of cases) {
    const img = vector(file);
    t.is(img.length, slot, file);
    const magic = maxAlign === 8 ? MAGIC_A8 : MAGIC_A32;
    t.deepEqual([...img.subarray(slot - 16)], magic, file);
    const sector = slot / 2;
    const { primary, flash } = board(sector);
    flash.bytes.set(img, 4 * sector); // the image file fills the secondary slot's first two sectors...
    const sec = flash.partition("secondary", 4 * sector, 2 * sector); // ...which is a slot of its size
    const bc = new McubootBootControl(primary, sec, { strategy: "swap-move", maxAlign });
    t.is(bc.secondaryState().magic, "good", file);
    t.is(bc.secondaryState().imageOk as string, imageOk, file);
    t.is(bc.pendingSwap(), SwapType[swap as "TEST" | "PERM"], file);
    // the other max-align reads the same bytes as a bad magic
    const other = new McubootBootControl(primary, sec, { strategy: "swap-move", maxAlign: maxAlign === 8 ? 32 : 8 });
    t.is(other.secondaryState().magic, "bad", file);
  }
});

test("stage() writes magic, then image_ok (permanent only), then swap_info, each aligned, as bootutil", (t) => {
  for (const permanent of [false, true]) {
    const { primary, secondary, ops, flash, sector } = board();
    const bc = new McubootBootControl(primary, secondary, { strategy: "swap-move" });
    bc.stage(permanent);
    const S = 4 * sector + 3 * sector; // absolute end of the secondary slot
    const expected = [{ kind: "write", address: S - 16, length: 16 }];
    if (permanent) expected.push({ kind: "write", address: S - 24, length: 8 });
    expected.push({ kind: "write", address: S - 40, length: 8 });
    t.deepEqual(ops, expected);
    const tail = [...flash.bytes.subarray(S - 48)];
    const want = new Array(48).fill(0xff);
    want.splice(32, 16, ...MAGIC_A8);
    if (permanent) want[24] = 0x01;
    want[8] = permanent ? 0x03 : 0x02; // swap_info = (image 0 << 4) | PERM 3 / TEST 2
    t.deepEqual(tail, want);
    t.is(bc.pendingSwap(), permanent ? SwapType.PERM : SwapType.TEST);
    bc.stage(permanent); // magic GOOD: already scheduled, nothing written
    t.is(ops.length, expected.length);
  }
});

test("max-align 32: the magic goes out as 32 bytes from S-32 (0xFF-prefixed), image_ok at S-64", (t) => {
  const { primary, secondary, ops, flash, sector } = board(0x1000, 8);
  const bc = new McubootBootControl(primary, secondary, { strategy: "swap-move", maxAlign: 32 });
  bc.stage(true);
  const S = 7 * sector;
  t.deepEqual(ops.map((o) => [o.address - S, o.length]), [[-32, 32], [-64, 8], [-128, 8]]);
  t.deepEqual([...flash.bytes.subarray(S - 32)], [...new Array(16).fill(0xff), ...MAGIC_A32]);
  t.is(flash.bytes[S - 64], 0x01);
  t.is(flash.bytes[S - 128], 0x03);
});

test("a bad secondary magic is refused and nothing is written", (t) => {
  const { primary, secondary, ops, sector } = board();
  secondary.write(3 * sector - 16, new Uint8Array(16).fill(0x12));
  ops.length = 0;
  const bc = new McubootBootControl(primary, secondary, { strategy: "swap-move" });
  const e = t.throws(() => bc.stage(), { instanceOf: OtaError });
  t.regex(e.message, /BOOT_EBADIMAGE/);
  t.is(ops.length, 0);
});

test("confirm(): a test image after its swap is 'trial' until image_ok is written on the primary", (t) => {
  const { primary, secondary, ops, sector } = board();
  const bc = new McubootBootControl(primary, secondary, { strategy: "swap-move" });
  t.is(bc.runningState(), "confirmed"); // factory image: primary trailer erased
  bc.confirm(); // magic UNSET: nothing to do
  t.is(ops.length, 0);
  // What the bootloader leaves after a TEST swap: primary magic GOOD, copy_done 1, image_ok unset.
  const l = bc.primaryLayout;
  writeMagic(primary, l);
  writeFlag(primary, l, l.copyDoneOff);
  ops.length = 0;
  t.is(bc.runningState(), "trial");
  t.true(bc.canRevert());
  t.is(bc.pendingSwap(), SwapType.REVERT);
  bc.confirm();
  t.deepEqual(ops, [{ kind: "write", address: 4 * sector - 24, length: 8 }]);
  t.is(bc.runningState(), "confirmed");
  t.is(bc.pendingSwap(), SwapType.NONE);
  t.false(bc.canRevert());
  bc.confirm();
  t.is(ops.length, 1);
  t.is(readSwapState(primary, l).imageOk, "set");
  const ow = new McubootBootControl(primary, secondary, { strategy: "overwrite-only" });
  t.false(ow.canRevert());
});
