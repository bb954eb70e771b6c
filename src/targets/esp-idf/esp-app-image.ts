// ESP32 application image: structural check that streams the image in bounded chunks.
// Source: esp-idf components/bootloader_support/include/esp_app_format.h and
// src/esp_image_format.c (boot-formats.md section 3). Portable ECMAScript (runs on XS).

import { OtaError, ErrorCode } from "../../errors.ts";
import type { ChipInfo, Digest, DigestPort } from "../../ports.ts";
import { equalBytes, readU16LE, readU32LE, xorBytes } from "../../util/bytes.ts";
import { APP_DESC_IMAGE_OFFSET, APP_DESC_SIZE, parseAppDesc, type AppDesc } from "./esp-app-desc.ts";
import { chipMismatch, type ImageChipFields } from "./esp-chip.ts";

/** ESP_IMAGE_HEADER_MAGIC (esp_app_format.h). */
export const ESP_IMAGE_MAGIC = 0xe9;
/** ESP_IMAGE_MAX_SEGMENTS (esp_app_format.h). */
export const ESP_IMAGE_MAX_SEGMENTS = 16;
/** sizeof(esp_image_header_t), static-asserted 24 (esp_app_format.h). */
export const ESP_IMAGE_HEADER_SIZE = 24;
/** sizeof(esp_image_segment_header_t): load_addr u32, data_len u32 (esp_app_format.h). */
export const ESP_SEGMENT_HEADER_SIZE = 8;
/** ESP_ROM_CHECKSUM_INITIAL (esp_image_format.c). */
export const ESP_CHECKSUM_SEED = 0xef;
/** Offset of hash_appended in esp_image_header_t. */
export const ESP_HASH_APPENDED_OFFSET = 23;
/** Offset of entry_addr (u32) and chip_id (u16) in esp_image_header_t. */
export const ESP_ENTRY_ADDR_OFFSET = 4;
export const ESP_CHIP_ID_OFFSET = 12;
/** Offsets of min_chip_rev (u8, legacy), min_chip_rev_full (u16) and max_chip_rev_full (u16),
 * major * 100 + minor, in the packed esp_image_header_t (boot-formats.md 3.1). */
export const ESP_MIN_CHIP_REV_OFFSET = 14;
export const ESP_MIN_CHIP_REV_FULL_OFFSET = 15;
export const ESP_MAX_CHIP_REV_FULL_OFFSET = 17;
/** Length of the appended SHA-256. */
export const ESP_APPENDED_HASH_SIZE = 32;
/** Largest read checkEspImage issues. */
export const ESP_CHECK_CHUNK = 4096;

export interface EspImageInfo {
  /** Total image length, including the checksum block and the appended hash if any. */
  length: number;
  segmentCount: number;
  entryAddr: number;
  chipId: number;
  minChipRevFull: number;
  maxChipRevFull: number;
  hashAppended: boolean;
  appDesc: AppDesc;
}

function fail(reason: string): never {
  throw new OtaError(ErrorCode.VerifyFailed, reason);
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);

/** Length of the block after the last segment holding the checksum in its last byte:
 * pads the image to a 16-byte boundary, always at least one byte. */
export function checksumBlockLength(unpadded: number): number {
  return ((unpadded + 1 + 15) & ~15) - unpadded;
}

export interface EspCheckOptions {
  /** The chip the image must run on: chip_id must match and the revision must lie in
   * [min_chip_rev_full, max_chip_rev_full] (see esp-chip.ts). Unset: not checked. */
  chip?: ChipInfo;
}

/**
 * Walks an image stored at [0, limit) of a slot, reading at most ESP_CHECK_CHUNK bytes at a time.
 * Checks the magic, segment count and lengths, the chip (when options.chip is given), that the
 * entry address lies inside one of the image's segments (the code the bootloader jumps to must be
 * code the image loads or maps: 0 or a stray address would crash the new image at once), the XOR
 * checksum, the app descriptor and (when hash_appended) the SHA-256 over [0, end of the checksum
 * block). Throws OtaError(VerifyFailed).
 */
export function checkEspImage(
  read: (offset: number, length: number) => Uint8Array,
  limit: number,
  digests: DigestPort,
  options: EspCheckOptions = {},
): EspImageInfo {
  let sha: Digest | undefined;
  let pos = 0;
  // Reads [pos, pos + n) (n <= ESP_CHECK_CHUNK), feeds the SHA-256 (if any) and advances.
  const next = (n: number): Uint8Array => {
    if (pos + n > limit) fail(`image runs past the slot end (needs ${hex(pos + n)}, slot is ${hex(limit)})`);
    const b = read(pos, n);
    if (b.length !== n) fail(`short read at ${hex(pos)}: wanted ${n}, got ${b.length}`);
    sha?.update(b);
    pos += n;
    return b;
  };

  const header = next(ESP_IMAGE_HEADER_SIZE);
  if (header[0] !== ESP_IMAGE_MAGIC) fail(`bad magic ${hex(header[0])} at 0`);
  const segmentCount = header[1];
  if (segmentCount === 0) fail("image has no segments");
  if (segmentCount > ESP_IMAGE_MAX_SEGMENTS) fail(`segment count ${segmentCount} exceeds ${ESP_IMAGE_MAX_SEGMENTS}`);
  const entryAddr = readU32LE(header, ESP_ENTRY_ADDR_OFFSET);
  const { chipId, minChipRevFull, maxChipRevFull } = imageChipFields(header);
  const hashAppended = header[ESP_HASH_APPENDED_OFFSET] !== 0;
  if (hashAppended) {
    sha = digests.create("sha256");
    sha.update(header);
  }

  let checksum = ESP_CHECKSUM_SEED;
  let appDesc: AppDesc | undefined;
  let entryInSegment = false;
  for (let s = 0; s < segmentCount; s++) {
    const sh = next(ESP_SEGMENT_HEADER_SIZE);
    const load = readU32LE(sh, 0);
    const len = readU32LE(sh, 4);
    if (entryAddr >= load && entryAddr < load + len) entryInSegment = true;
    if (len % 4) fail(`segment ${s} length ${hex(len)} not a multiple of 4`);
    if (pos + len > limit) {
      fail(`image runs past the slot end (segment ${s} length ${hex(len)} at ${hex(pos)}, slot is ${hex(limit)})`);
    }
    if (s === 0 && len < APP_DESC_SIZE) fail(`app descriptor missing: segment 0 length ${hex(len)}`);
    for (let left = len; left > 0; ) {
      const n = left < ESP_CHECK_CHUNK ? left : ESP_CHECK_CHUNK;
      const data = next(n);
      if (!appDesc) appDesc = parseAppDesc(data.subarray(0, APP_DESC_SIZE)); // first chunk of segment 0
      checksum = xorBytes(data, checksum);
      left -= n;
    }
  }

  const block = next(checksumBlockLength(pos));
  const stored = block[block.length - 1];
  if (stored !== checksum) fail(`checksum mismatch: stored ${hex(stored)}, computed ${hex(checksum)}`);

  if (sha) {
    const computed = sha.finish();
    if (pos + ESP_APPENDED_HASH_SIZE > limit) fail(`image runs past the slot end (appended hash at ${hex(pos)})`);
    const appended = read(pos, ESP_APPENDED_HASH_SIZE);
    if (appended.length !== ESP_APPENDED_HASH_SIZE) fail(`short read at ${hex(pos)}`);
    if (!equalBytes(appended, computed)) fail("appended SHA-256 mismatch");
    pos += ESP_APPENDED_HASH_SIZE;
  }
  // What the chip can run, checked last: a corrupted header reads as corruption above.
  if (options.chip) {
    const mismatch = chipMismatch({ chipId, minChipRevFull, maxChipRevFull }, options.chip);
    if (mismatch) fail(mismatch);
  }
  if (!entryInSegment) fail(`entry address ${hex(entryAddr)} is outside every segment of the image`);
  return { length: pos, segmentCount, entryAddr, chipId, minChipRevFull, maxChipRevFull, hashAppended, appDesc: appDesc! };
}

/** The chip fields of an esp_image_header_t (at least ESP_IMAGE_HEADER_SIZE bytes). */
export function imageChipFields(header: Uint8Array): ImageChipFields {
  return {
    chipId: readU16LE(header, ESP_CHIP_ID_OFFSET),
    minChipRevFull: readU16LE(header, ESP_MIN_CHIP_REV_FULL_OFFSET),
    maxChipRevFull: readU16LE(header, ESP_MAX_CHIP_REV_FULL_OFFSET),
  };
}

/**
 * Early check on the first chunk of a download. Returns undefined while fewer than
 * 0x20 + 256 bytes are available; throws OtaError(VerifyFailed) when the image magic, the
 * segment count or the app descriptor magic is wrong; otherwise returns the descriptor.
 */
export function peekAppDesc(firstBytes: Uint8Array): AppDesc | undefined {
  if (firstBytes.length < APP_DESC_IMAGE_OFFSET + APP_DESC_SIZE) return undefined;
  if (firstBytes[0] !== ESP_IMAGE_MAGIC) fail(`bad magic ${hex(firstBytes[0])} at 0`);
  if (firstBytes[1] === 0 || firstBytes[1] > ESP_IMAGE_MAX_SEGMENTS) {
    fail(`segment count ${firstBytes[1]} outside 1..${ESP_IMAGE_MAX_SEGMENTS}`);
  }
  return parseAppDesc(firstBytes.subarray(APP_DESC_IMAGE_OFFSET, APP_DESC_IMAGE_OFFSET + APP_DESC_SIZE));
}
