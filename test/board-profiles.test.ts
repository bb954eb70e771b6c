// Board profiles for the STM32 boards: sector maps, layouts on sector boundaries without overlap,
// the MCUboot swap-move slot rule, and the ESP board unchanged.

import test from "ava";
import { BOARD_PROFILES, boardProfile, chipGeometry, layoutEntry, profile, PROFILES } from "../host-sim/boards/profiles.ts";
import { NorFlash } from "../host-sim/flash/nor-flash.ts";

const KiB = 1024;

test("stm32f4-1mb: 4x16 KiB, 1x64 KiB, 7x128 KiB; every region starts and ends on a sector boundary", (t) => {
  const p = boardProfile("stm32f4-1mb");
  const g = chipGeometry(p);
  t.deepEqual(g.sectors.map((s) => s.size / KiB), [16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128]);
  t.is(g.size, 1024 * KiB);
  const flash = new NorFlash(g);
  for (const e of p.layout!) t.notThrows(() => flash.partition(e.label, e.offset, e.size), e.label);
  // swap-move: equal sectors in both slots, primary one sector larger
  const pri = flash.partition("primary", layoutEntry(p, "primary").offset, layoutEntry(p, "primary").size);
  const sec = flash.partition("secondary", layoutEntry(p, "secondary").offset, layoutEntry(p, "secondary").size);
  t.is(pri.geometry.sectors.length, sec.geometry.sectors.length + 1);
  t.true([...pri.geometry.sectors, ...sec.geometry.sectors].every((s) => s.size === 128 * KiB));
  // the journal's sectors are small: a checkpoint never erases 128 KiB
  const j = flash.partition("journal", layoutEntry(p, "journal").offset, layoutEntry(p, "journal").size);
  t.true(j.geometry.sectors.every((s) => s.size === 16 * KiB));
});

test("stm32l4-dualbank-1mb: two 512 KiB banks of 2 KiB pages with 8-byte ECC words", (t) => {
  const p = boardProfile("stm32l4-dualbank-1mb");
  if (p.target !== "stm32-dualbank") return t.fail();
  const g = chipGeometry(p);
  t.is(g.eccWordSize, 8);
  t.is(g.writeAlign, 8);
  t.true(g.sectors.every((s) => s.size === 2 * KiB));
  t.is(layoutEntry(p, "bank1").offset, 0);
  t.is(layoutEntry(p, "bank2").offset, p.dualBank.bankSize);
  t.is(layoutEntry(p, "bank2").offset + layoutEntry(p, "bank2").size + layoutEntry(p, "boot-flags").size, 2 * p.dualBank.bankSize);
});

test("layouts do not overlap and stay inside the chip", (t) => {
  for (const p of Object.values(BOARD_PROFILES)) {
    const l = [...(p.layout ?? [])].sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < l.length; i++) {
      t.true(l[i].offset + l[i].size <= p.flashSize, `${p.name} ${l[i].label}`);
      if (i > 0) t.true(l[i - 1].offset + l[i - 1].size <= l[i].offset, `${p.name} ${l[i].label}`);
    }
  }
});

test("profile() still returns the ESP board and names the target of the others", (t) => {
  t.is(profile("esp32-4mb").tableOffset, 0x8000);
  t.deepEqual(Object.keys(PROFILES), ["esp32-4mb"]);
  t.throws(() => profile("stm32f4-1mb"), { message: /mcuboot board without an ESP partition table/ });
  t.throws(() => boardProfile("nope"), { message: /unknown board nope/ });
  t.is(chipGeometry(profile("esp32-4mb")).sectors.length, 1024);
});
