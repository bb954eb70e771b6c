// ECC write-once mode of the NOR simulator (STM32L4-class flash: 64-bit double-words programmed
// once per erase, RM0351 §3.3.7), and that the MCUboot trailer writes never program a
// double-word twice.

import test from "ava";
import { NorFlash, FlashRuleError, PowerCut } from "../host-sim/flash/nor-flash.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";
import { writeFlag, writeMagic } from "../src/targets/mcuboot/trailer.ts";

const PAGE = 0x800;
const ecc = () => ({ size: 4 * PAGE, sectors: [0, 1, 2, 3].map((i) => ({ offset: i * PAGE, size: PAGE })), writeAlign: 8, erasedValue: 0xff, eccWordSize: 8 });

test("a double-word programs once after an erase; a second write fails even if it only clears bits", (t) => {
  const f = new NorFlash(ecc());
  f.write(0, Uint8Array.of(0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  const e = t.throws(() => f.write(0, Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), { instanceOf: FlashRuleError });
  t.regex(e.message, /already programmed/);
  t.is(f.bytes[0], 0xf0, "the refused write changed nothing");
  t.is(f.counters.writes, 1);
  // writing all ones also consumes the word
  f.write(8, new Uint8Array(8).fill(0xff));
  t.throws(() => f.write(8, new Uint8Array(8)), { instanceOf: FlashRuleError, message: /already programmed/ });
  // a 16-byte write fails whole when its second word is taken
  f.write(24, new Uint8Array(8).fill(0));
  t.throws(() => f.write(16, new Uint8Array(16)), { instanceOf: FlashRuleError });
  t.is(f.bytes[16], 0xff, "nothing of the refused 16-byte write was programmed");
  f.erase(0, PAGE);
  f.write(0, new Uint8Array(8));
  t.deepEqual([...f.read(0, 8)], new Array(8).fill(0));
});

test("the same double-word rule on a plain NOR chip lets bits be cleared twice (ECC off)", (t) => {
  const g = ecc();
  delete (g as { eccWordSize?: number }).eccWordSize;
  const f = new NorFlash(g);
  f.write(0, new Uint8Array(8).fill(0xf0));
  f.write(0, new Uint8Array(8).fill(0x00));
  t.is(f.bytes[0], 0);
});

test("ECC writes must be 8-byte aligned in address and length", (t) => {
  const f = new NorFlash(ecc());
  t.throws(() => f.write(4, new Uint8Array(8)), { instanceOf: FlashRuleError, message: /misaligned/ });
  t.throws(() => f.write(0, new Uint8Array(4)), { instanceOf: FlashRuleError, message: /misaligned/ });
  t.throws(() => new NorFlash({ ...ecc(), writeAlign: 4 }), { message: /ECC word/ });
});

test("the write-once state survives a power cycle, a torn write and an erase of another page", (t) => {
  let f = new NorFlash(ecc());
  f.write(PAGE, new Uint8Array(8).fill(0x55));
  f.armCuts([{ at: 2, mode: "torn-write", seed: 3 }]);
  t.throws(() => f.write(PAGE + 8, new Uint8Array(8).fill(0x00)), { instanceOf: PowerCut });
  f = f.powerCycle();
  t.throws(() => f.write(PAGE, new Uint8Array(8)), { instanceOf: FlashRuleError, message: /already programmed/ });
  f.erase(0, PAGE);
  t.throws(() => f.write(PAGE, new Uint8Array(8)), { instanceOf: FlashRuleError });
  f.erase(PAGE, PAGE);
  f.write(PAGE, new Uint8Array(8));
  f.write(PAGE + 8, new Uint8Array(8));
  // a chip opened from bytes treats every non-erased word as programmed
  const g = new NorFlash(ecc(), f.bytes.slice());
  t.throws(() => g.write(PAGE, new Uint8Array(8)), { instanceOf: FlashRuleError });
  g.write(PAGE + 16, new Uint8Array(8));
});

test("MCUboot stage and confirm program every trailer double-word once (a second magic write is refused)", (t) => {
  const flash = new NorFlash({ ...ecc(), size: 8 * PAGE, sectors: Array.from({ length: 8 }, (_, i) => ({ offset: i * PAGE, size: PAGE })) });
  const primary = flash.partition("primary", 0, 4 * PAGE);
  const secondary = flash.partition("secondary", 4 * PAGE, 4 * PAGE);
  for (const maxAlign of [8, 32]) {
    flash.erase(0, 8 * PAGE);
    const bc = new McubootBootControl(primary, secondary, { strategy: "swap-move", maxAlign });
    bc.stage(true);
    bc.stage(true);
    writeMagic(primary, bc.primaryLayout);
    writeFlag(primary, bc.primaryLayout, bc.primaryLayout.copyDoneOff);
    bc.confirm();
    bc.confirm();
    t.is(bc.runningState(), "confirmed");
    t.throws(() => writeMagic(secondary, bc.secondaryLayout), { instanceOf: FlashRuleError, message: /already programmed/ });
  }
});
