// The serialised state of a delta apply (src/delta/patch-applier.ts), what a journal keeps to
// resume after a power cut. This project's own format, version 1, little-endian, 404 bytes:
//
//   0   u32  magic "XSDA" (0x41445358)        24  u32  old image size
//   4   u8   version (1)                      28  u32  bytes left in the current diff/extra
//   5   u8   stage                            32  u32  partial size field: value so far
//   6   u8   compression (detools code)       36  u8   partial size field: bytes read
//   7   u8   flags (bit 0: esp header)        37  u8   partial size field: negative
//   8   u32  patch offset (bytes consumed)    38  u8   esp header bytes read
//   12  u32  to-size                          40  32   base SHA-256 (esp header patches)
//   16  u32  target offset (bytes written)    72  64   esp header bytes read so far
//   20  i32  old-image position               136 264  decoder state (heatshrink or crle)
//   400 u32  CRC-32 (IEEE) of bytes [0, 400)

import { ErrorCode, OtaError } from "../errors.ts";
import { readU32LE, writeU32LE } from "../util/bytes.ts";
import { crc32 } from "../util/crc32.ts";
import { CRLE_STATE_BYTES } from "./crle-decoder.ts";
import { ESP_DELTA_BASE_SHA256_SIZE, ESP_DELTA_HEADER_SIZE } from "./esp-delta-header.ts";
import { HEATSHRINK_STATE_BYTES } from "./heatshrink-decoder.ts";

const STATE_MAGIC = 0x41445358;
const STATE_VERSION = 1;
const ST_MAGIC = 0;
const ST_VERSION = 4;
const ST_STAGE = 5;
const ST_COMPRESSION = 6;
const ST_FLAGS = 7;
const ST_PATCH_OFFSET = 8;
const ST_TO_SIZE = 12;
const ST_TARGET = 16;
const ST_OLD_POS = 20;
const ST_OLD_SIZE = 24;
const ST_REMAINING = 28;
const ST_SIZE_VALUE = 32;
const ST_SIZE_BYTES = 36;
const ST_SIZE_NEG = 37;
const ST_ESP_COUNT = 38;
const ST_BASE_SHA256 = 40;
const ST_ESP_HEADER = ST_BASE_SHA256 + ESP_DELTA_BASE_SHA256_SIZE;
const ST_DECODER = ST_ESP_HEADER + ESP_DELTA_HEADER_SIZE;
/** Room for either decoder's state. */
export const DECODER_STATE_BYTES = HEATSHRINK_STATE_BYTES > CRLE_STATE_BYTES ? HEATSHRINK_STATE_BYTES : CRLE_STATE_BYTES;
const ST_CRC = ST_DECODER + DECODER_STATE_BYTES;
const FLAG_ESP_HEADER = 1;
/** Bytes of a serialised state (404). */
export const APPLY_STATE_BYTES = ST_CRC + 4;

export interface ApplyState {
  stage: number;
  compression: number;
  espHeader: boolean;
  patchOffset: number;
  toSize: number;
  target: number;
  oldPos: number;
  oldSize: number;
  remaining: number;
  sizeValue: number;
  sizeBytes: number;
  sizeNeg: number;
  espCount: number;
  /** 32 bytes. */
  baseSha256: Uint8Array;
  /** ESP_DELTA_HEADER_SIZE bytes. */
  espHeaderBytes: Uint8Array;
  /** DECODER_STATE_BYTES bytes. */
  decoder: Uint8Array;
}

export function encodeApplyState(a: ApplyState): Uint8Array {
  const s = new Uint8Array(APPLY_STATE_BYTES);
  writeU32LE(s, ST_MAGIC, STATE_MAGIC);
  s[ST_VERSION] = STATE_VERSION;
  s[ST_STAGE] = a.stage;
  s[ST_COMPRESSION] = a.compression;
  s[ST_FLAGS] = a.espHeader ? FLAG_ESP_HEADER : 0;
  writeU32LE(s, ST_PATCH_OFFSET, a.patchOffset);
  writeU32LE(s, ST_TO_SIZE, a.toSize);
  writeU32LE(s, ST_TARGET, a.target);
  writeU32LE(s, ST_OLD_POS, a.oldPos >>> 0);
  writeU32LE(s, ST_OLD_SIZE, a.oldSize);
  writeU32LE(s, ST_REMAINING, a.remaining);
  writeU32LE(s, ST_SIZE_VALUE, a.sizeValue >>> 0);
  s[ST_SIZE_BYTES] = a.sizeBytes;
  s[ST_SIZE_NEG] = a.sizeNeg;
  s[ST_ESP_COUNT] = a.espCount;
  s.set(a.baseSha256, ST_BASE_SHA256);
  s.set(a.espHeaderBytes, ST_ESP_HEADER);
  s.set(a.decoder, ST_DECODER);
  writeU32LE(s, ST_CRC, crc32(s.subarray(0, ST_CRC)));
  return s;
}

/** Reads a state; OtaError -1 when it is damaged or of another version. The byte fields are
 * views into `s`. */
export function decodeApplyState(s: Uint8Array): ApplyState {
  const ok =
    s.length === APPLY_STATE_BYTES &&
    readU32LE(s, ST_MAGIC) === STATE_MAGIC &&
    s[ST_VERSION] === STATE_VERSION &&
    readU32LE(s, ST_CRC) === crc32(s.subarray(0, ST_CRC));
  if (!ok) throw new OtaError(ErrorCode.UpdateFailed, "delta apply state is damaged or from another version");
  return {
    stage: s[ST_STAGE],
    compression: s[ST_COMPRESSION],
    espHeader: (s[ST_FLAGS] & FLAG_ESP_HEADER) !== 0,
    patchOffset: readU32LE(s, ST_PATCH_OFFSET),
    toSize: readU32LE(s, ST_TO_SIZE),
    target: readU32LE(s, ST_TARGET),
    oldPos: readU32LE(s, ST_OLD_POS) | 0,
    oldSize: readU32LE(s, ST_OLD_SIZE),
    remaining: readU32LE(s, ST_REMAINING),
    sizeValue: readU32LE(s, ST_SIZE_VALUE),
    sizeBytes: s[ST_SIZE_BYTES],
    sizeNeg: s[ST_SIZE_NEG],
    espCount: s[ST_ESP_COUNT],
    baseSha256: s.subarray(ST_BASE_SHA256, ST_ESP_HEADER),
    espHeaderBytes: s.subarray(ST_ESP_HEADER, ST_DECODER),
    decoder: s.subarray(ST_DECODER, ST_CRC),
  };
}

/** Where a state continues, read without resuming it: the patch is fetched again from
 * `patchOffset`, the target is written from `targetOffset`. */
export function applyStateInfo(state: Uint8Array): { patchOffset: number; targetOffset: number; toSize: number } {
  const s = decodeApplyState(state);
  return { patchOffset: s.patchOffset, targetOffset: s.target, toSize: s.toSize };
}
