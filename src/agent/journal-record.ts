// The update journal's on-flash record: xs-ota's own format (no external source).
// Records are appended into erased flash in 32-byte slots and never cross a sector boundary.
// A single CRC-32 (IEEE) covers header and payload, so a torn record of any length fails the
// check and is skipped as one slot of garbage.
//
//   offset size field
//   0      2    magic 0x4A58 ("XJ", little-endian)
//   2      1    type (RecordType)
//   3      1    slots: record length in 32-byte slots, header included
//   4      4    seq: increases by one per record, across sectors
//   8      2    payload length
//   10     2    reserved, 0xFFFF
//   12     4    crc32 over bytes 0..11 and the payload
//   16     n    payload; the rest of the last slot stays erased

import { crc32 } from "../util/crc32.ts";
import { readU16LE, readU32LE, writeU16LE, writeU32LE } from "../util/bytes.ts";

export const RECORD_MAGIC = 0x4a58;
export const RECORD_SLOT = 32;
export const RECORD_HEADER = 16;
const OFF_MAGIC = 0;
const OFF_TYPE = 2;
const OFF_SLOTS = 3;
const OFF_SEQ = 4;
const OFF_LEN = 8;
const OFF_RESERVED = 10;
const OFF_CRC = 12;
export const MAX_RECORD_SLOTS = 64;

export const RecordType = Object.freeze({
  /** Whole state: offer, validator, progress, phase (JSON). Also written as the first record of a
   * sector after a wrap, so the newest sector always holds a complete state. */
  State: 1,
  /** Durable progress: u32 bytes of the image programmed and read back. */
  Progress: 2,
  /** Delta checkpoint: u32 bytes of the target image programmed and read back, then the patch
   * applier's whole state (src/delta/apply-state.ts, 404 bytes): one record of 14 slots, so a
   * torn write fails the CRC and the previous checkpoint stands. */
  DeltaCheckpoint: 3,
} as const);

export interface JournalRecord {
  type: number;
  seq: number;
  payload: Uint8Array;
  /** Offset of the record and its length in bytes (a multiple of RECORD_SLOT). */
  offset: number;
  length: number;
}

export function encodeRecord(type: number, seq: number, payload: Uint8Array, erased: number): Uint8Array {
  const slots = Math.ceil((RECORD_HEADER + payload.length) / RECORD_SLOT);
  if (slots > MAX_RECORD_SLOTS) throw new Error(`journal record of ${payload.length} bytes is too large`);
  const out = new Uint8Array(slots * RECORD_SLOT).fill(erased);
  writeU16LE(out, OFF_MAGIC, RECORD_MAGIC);
  out[OFF_TYPE] = type;
  out[OFF_SLOTS] = slots;
  writeU32LE(out, OFF_SEQ, seq);
  writeU16LE(out, OFF_LEN, payload.length);
  writeU16LE(out, OFF_RESERVED, 0xffff);
  out.set(payload, RECORD_HEADER);
  writeU32LE(out, OFF_CRC, recordCrc(out.subarray(0, OFF_CRC), payload));
  return out;
}

function recordCrc(header: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(header));
}

/** Decodes the record starting at `at` in `bytes` (a sector image), or undefined when the slot
 * does not start a complete, intact record that fits before `end`. */
export function decodeRecord(bytes: Uint8Array, at: number, end: number): JournalRecord | undefined {
  if (at + RECORD_HEADER > end) return undefined;
  if (readU16LE(bytes, at + OFF_MAGIC) !== RECORD_MAGIC) return undefined;
  const slots = bytes[at + OFF_SLOTS];
  const length = slots * RECORD_SLOT;
  const payloadLength = readU16LE(bytes, at + OFF_LEN);
  if (slots === 0 || slots > MAX_RECORD_SLOTS || at + length > end) return undefined;
  if (RECORD_HEADER + payloadLength > length) return undefined;
  const payload = bytes.slice(at + RECORD_HEADER, at + RECORD_HEADER + payloadLength);
  if (recordCrc(bytes.subarray(at, at + OFF_CRC), payload) !== readU32LE(bytes, at + OFF_CRC)) return undefined;
  return { type: bytes[at + OFF_TYPE], seq: readU32LE(bytes, at + OFF_SEQ), payload, offset: at, length };
}

export function isErased(bytes: Uint8Array, at: number, length: number, erased: number): boolean {
  for (let i = at; i < at + length; i++) if (bytes[i] !== erased) return false;
  return true;
}
