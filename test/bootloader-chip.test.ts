// The simulated bootloader refuses an app image built for another chip or chip revision, as
// bootloader_common_check_chip_validity does (called from verify_image_header in
// esp_image_format.c), and falls back as for any image that does not load.

import test from "ava";
import { createHash } from "node:crypto";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { bootEsp } from "../host-sim/bootloader/esp-idf.ts";
import { EspBootControl } from "../src/targets/esp-idf/esp-boot-control.ts";
import { OtaState } from "../src/targets/esp-idf/esp-otadata.ts";

const SIZE = 8192;
/** The board's chip: ESP32 (esp_chip_id_t 0), revision v3.0. */
const CHIP = { id: 0x0000, revisionFull: 300 };

interface Header {
  chipId?: number;
  minRevFull?: number;
  maxRevFull?: number;
}

/** 2.0.0 with its esp_image_header_t chip fields replaced (chip_id u16 @12, min_chip_rev_full
 * u16 @15, max_chip_rev_full u16 @17; boot-formats.md 3.1) and the appended SHA-256 redone, so
 * that only the chip check can refuse it. */
function image(h: Header): Uint8Array {
  const img = buildTestImage({ version: "2.0.0", size: SIZE });
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  if (h.chipId !== undefined) dv.setUint16(12, h.chipId, true);
  if (h.minRevFull !== undefined) dv.setUint16(15, h.minRevFull, true);
  if (h.maxRevFull !== undefined) dv.setUint16(17, h.maxRevFull, true);
  img.set(createHash("sha256").update(img.subarray(0, SIZE - 32)).digest(), SIZE - 32);
  return img;
}

/** A board running 1.0.0 from ota_0 with `next` staged NEW in ota_1. */
function staged(next: Uint8Array) {
  const b = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE }));
  b.boot();
  const slot = b.partition("ota_1");
  slot.erase(0, SIZE);
  slot.write(0, next);
  const bc = new EspBootControl(b.partition("otadata"), 2);
  bc.stage(1);
  return { b, bc };
}

const refused: [string, Header, RegExp][] = [
  ["ESP32-S3 chip id", { chipId: 0x0009 }, /mismatch chip ID, expected 0, found 9/],
  ["chip id 0xFFFF", { chipId: 0xffff }, /mismatch chip ID, expected 0, found 65535/],
  ["minimum revision above the chip's", { minRevFull: 301 }, /requires chip rev >= v3\.1, but chip is v3\.0/],
  ["maximum revision below the chip's", { maxRevFull: 299 }, /requires chip rev <= v2\.99, but chip is v3\.0/],
];

for (const [name, header, reason] of refused) {
  test(`an image with ${name} is not booted: fallback to the running slot`, (t) => {
    const { b, bc } = staged(image(header));
    const out = bootEsp(b.flash, { tableOffset: b.profile.tableOffset, chip: CHIP });
    t.is(out.slot, "ota_0", out.log.join("\n"));
    t.is(out.image.appDesc.version, "1.0.0");
    t.true(out.fellBack);
    t.true(out.log.some((l) => l.startsWith("ota_1: ") && reason.test(l)), out.log.join("\n"));
    // As in ESP-IDF the NEW entry was armed before the image was tried; the next boot aborts it.
    t.is(bc.stateOf(1), OtaState.PendingVerify);
    const next = bootEsp(b.flash, { tableOffset: b.profile.tableOffset, chip: CHIP });
    t.is(next.slot, "ota_0");
    t.false(next.fellBack, "the record for the foreign image is ABORTED: ota_0's record is selected");
  });
}

const accepted: [string, Header][] = [
  ["the chip's revision as its minimum and maximum", { minRevFull: 300, maxRevFull: 300 }],
  ["no maximum (0)", { maxRevFull: 0 }],
  ["no maximum (0xFFFF)", { minRevFull: 100, maxRevFull: 0xffff }],
];

for (const [name, header] of accepted) {
  test(`an image for this chip with ${name} boots`, (t) => {
    const { b, bc } = staged(image(header));
    const out = bootEsp(b.flash, { tableOffset: b.profile.tableOffset, chip: CHIP });
    t.is(out.slot, "ota_1", out.log.join("\n"));
    t.false(out.fellBack);
    t.is(bc.stateOf(1), OtaState.PendingVerify);
  });
}
