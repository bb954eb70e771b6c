// checkEspImage refuses images the chip cannot run: another chip id, a chip revision outside
// [min_chip_rev_full, max_chip_rev_full], an entry address outside the image's segments.
import test from "ava";
import { checkEspImage, ESP_CHECK_CHUNK } from "../src/targets/esp-idf/esp-app-image.ts";
import { ESP_CHIP_ID, chipMismatch, chipRevisionText } from "../src/targets/esp-idf/esp-chip.ts";
import { OtaError } from "../src/errors.ts";
import { readU16LE, readU32LE } from "../src/util/bytes.ts";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTestImage, imageBuildCommand, type TestImageOptions } from "../host-sim/image-builder.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import type { ChipInfo } from "../src/ports.ts";

const ESP32_V3: ChipInfo = { name: "esp32", id: ESP_CHIP_ID.ESP32, revisionFull: 300 };

function image(o: Partial<TestImageOptions> = {}): Uint8Array {
  return buildTestImage({ version: "2.0.0", size: 16 * 1024, ...o });
}

function check(img: Uint8Array, chip?: ChipInfo) {
  const read = (off: number, len: number) => {
    if (len > ESP_CHECK_CHUNK) throw new Error(`read of ${len}`);
    return img.slice(off, off + len);
  };
  return checkEspImage(read, img.length, nodeDigests, { chip });
}

/** Load address and length of each segment. */
function segments(img: Uint8Array): { load: number; len: number }[] {
  const out: { load: number; len: number }[] = [];
  let pos = 24;
  for (let s = 0; s < img[1]; s++) {
    out.push({ load: readU32LE(img, pos), len: readU32LE(img, pos + 4) });
    pos += 8 + readU32LE(img, pos + 4);
  }
  return out;
}

function refused(t: import("ava").ExecutionContext, img: Uint8Array, chip: ChipInfo | undefined, reason: RegExp) {
  const e = t.throws(() => check(img, chip));
  t.true(e instanceof OtaError, String(e));
  t.is((e as OtaError).code, -3);
  t.regex((e as OtaError).reason, reason);
}

test("the image builder writes the chip fields where esp_image_header_t has them", (t) => {
  const img = image({ chipId: 0x0009, minChipRevFull: 101, maxChipRevFull: 199, entryAddr: 0x40080004 });
  t.is(readU16LE(img, 12), 0x0009);
  t.is(img[14], 1, "legacy min_chip_rev: the major revision");
  t.is(readU16LE(img, 15), 101);
  t.is(readU16LE(img, 17), 199);
  t.is(readU32LE(img, 4), 0x40080004);
  const info = check(img);
  t.is(info.chipId, 0x0009);
  t.is(info.minChipRevFull, 101);
  t.is(info.maxChipRevFull, 199);
});

test("an ESP32 image passes on an ESP32 v3.0 board", (t) => {
  const info = check(image(), ESP32_V3);
  t.is(info.chipId, 0);
  t.is(info.length, 16 * 1024);
});

test("an image for another chip id (ESP32-S3, 0xFFFF) is refused with -3", (t) => {
  refused(t, image({ chipId: ESP_CHIP_ID.ESP32S3 }), ESP32_V3, /chip id 0x0009 \(ESP32S3\), this board is 0x0000 \(esp32\)/);
  refused(t, image({ chipId: 0xffff }), ESP32_V3, /chip id 0xffff/);
  refused(t, image(), { id: ESP_CHIP_ID.ESP32C3 }, /chip id 0x0000 \(ESP32\), this board is 0x0005 \(ESP32C3\)/);
});

test("the chip revision must lie in [min_chip_rev_full, max_chip_rev_full]", (t) => {
  refused(t, image({ minChipRevFull: 301 }), ESP32_V3, /revision >= v3\.1, this chip is v3\.0/);
  refused(t, image({ maxChipRevFull: 299 }), ESP32_V3, /revision <= v2\.99, this chip is v3\.0/);
  t.notThrows(() => check(image({ minChipRevFull: 300, maxChipRevFull: 300 }), ESP32_V3), "bounds are inclusive");
  // max 0 and 0xFFFF mean "no maximum" (IS_FIELD_SET in ESP-IDF).
  t.notThrows(() => check(image({ maxChipRevFull: 0 }), ESP32_V3));
  t.notThrows(() => check(image({ maxChipRevFull: 0xffff }), ESP32_V3));
  // An unknown revision is not checked, the chip id still is.
  t.notThrows(() => check(image({ minChipRevFull: 301 }), { id: 0 }));
});

test("an entry address of 0 or outside every segment is refused with -3", (t) => {
  refused(t, image({ entryAddr: 0 }), undefined, /entry address 0x0 is outside every segment/);
  refused(t, image({ entryAddr: 0x40000000 }), ESP32_V3, /entry address 0x40000000/);
  // The IRAM segment (load address 0x40080000) holds the default entry; its last word is inside too.
  const iram = segments(image()).find((s) => s.load === 0x40080000)!;
  const iramLen = iram.len;
  t.notThrows(() => check(image({ entryAddr: 0x40080000 + iramLen - 4 })));
  refused(t, image({ entryAddr: 0x40080000 + iramLen }), undefined, /outside every segment/);
});

test("chipMismatch and chipRevisionText follow ESP-IDF's wording", (t) => {
  t.is(chipRevisionText(301), "v3.1");
  t.is(chipRevisionText(0), "v0.0");
  t.is(chipMismatch({ chipId: 0, minChipRevFull: 0, maxChipRevFull: 399 }, ESP32_V3), undefined);
  t.regex(chipMismatch({ chipId: 0x20, minChipRevFull: 0, maxChipRevFull: 0 }, ESP32_V3) ?? "", /ESP32S31/);
  t.regex(chipMismatch({ chipId: 0x1234, minChipRevFull: 0, maxChipRevFull: 0 }, ESP32_V3) ?? "", /0x1234 \(unknown\)/);
});

test("imageBuildCommand passes the chip fields through", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "xs-ota-chip-"));
  const out = join(dir, "s3.bin");
  imageBuildCommand({ version: "2.0.0", size: "16K", out, chipId: 0x0009, minChipRevFull: 2, maxChipRevFull: 99, entryAddr: 0x40080000 });
  const img = new Uint8Array(readFileSync(out));
  t.is(readU16LE(img, 12), 0x0009);
  t.is(readU16LE(img, 15), 2);
  t.is(readU16LE(img, 17), 99);
  refused(t, img, ESP32_V3, /chip id 0x0009/);
});
