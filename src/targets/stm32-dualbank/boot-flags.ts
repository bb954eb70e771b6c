// The dual-bank boot flag record the runtime writes next to the option bit (this project's own
// format; the chip has no trial/confirm state): append-only 16-byte records, each programmed once
// with a single write of two 64-bit double-words (STM32L4 ECC flash: a double-word is programmed
// once per erase, RM0351 §3.3.7), in a region of two or more pages used in turn. The record with
// the highest sequence number and a good CRC is the current one.
//   off 0  u32 magic "XSBF" (0x46425358)
//   off 4  u32 seq
//   off 8  u8  bank (1 or 2): the bank the record is about
//   off 9  u8  state: TRIAL 1 (staged, not booted yet), BOOTED 2 (trial running), CONFIRMED 3
//   off 10 u16 reserved (0xFFFF)
//   off 12 u32 CRC-32 (src/util/crc32.ts) of bytes 0..11
// A slot that does not read erased, or fails to program (a torn write left its ECC word used),
// is skipped; when the page in use is full the next page is erased and used.

import type { FlashPartition } from "../../ports.ts";
import { crc32 } from "../../util/crc32.ts";
import { readU32LE, writeU16LE, writeU32LE } from "../../util/bytes.ts";

export const FLAG_RECORD_SIZE = 16;
export const FLAG_MAGIC = 0x46425358;
const OFF_MAGIC = 0;
const OFF_SEQ = 4;
const OFF_BANK = 8;
const OFF_STATE = 9;
const OFF_RESERVED = 10;
const OFF_CRC = 12;

export const FlagState = Object.freeze({ TRIAL: 1, BOOTED: 2, CONFIRMED: 3 } as const);
export type FlagStateValue = (typeof FlagState)[keyof typeof FlagState];

export interface FlagRecord {
  seq: number;
  bank: 1 | 2;
  state: FlagStateValue;
  /** Offset of the record in the region. */
  offset: number;
}

export function encodeFlagRecord(seq: number, bank: 1 | 2, state: FlagStateValue): Uint8Array {
  const b = new Uint8Array(FLAG_RECORD_SIZE);
  writeU32LE(b, OFF_MAGIC, FLAG_MAGIC);
  writeU32LE(b, OFF_SEQ, seq);
  b[OFF_BANK] = bank;
  b[OFF_STATE] = state;
  writeU16LE(b, OFF_RESERVED, 0xffff);
  writeU32LE(b, OFF_CRC, crc32(b.subarray(0, OFF_CRC)));
  return b;
}

export function decodeFlagRecord(b: Uint8Array, offset: number): FlagRecord | undefined {
  if (readU32LE(b, OFF_MAGIC) !== FLAG_MAGIC || readU32LE(b, OFF_CRC) !== crc32(b.subarray(0, OFF_CRC))) return undefined;
  const bank = b[OFF_BANK];
  const state = b[OFF_STATE];
  if ((bank !== 1 && bank !== 2) || state < FlagState.TRIAL || state > FlagState.CONFIRMED) return undefined;
  return { seq: readU32LE(b, OFF_SEQ), bank, state: state as FlagStateValue, offset };
}

function erased(b: Uint8Array, v: number): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== v) return false;
  return true;
}

/** The current record, or undefined when the region holds none. */
export function readCurrentFlag(f: FlashPartition): FlagRecord | undefined {
  let best: FlagRecord | undefined;
  for (let off = 0; off + FLAG_RECORD_SIZE <= f.geometry.size; off += FLAG_RECORD_SIZE) {
    const r = decodeFlagRecord(f.read(off, FLAG_RECORD_SIZE), off);
    if (r && (!best || r.seq > best.seq)) best = r;
  }
  return best;
}

/** Appends a record after the current one (seq + 1). */
export function appendFlag(f: FlashPartition, bank: 1 | 2, state: FlagStateValue): FlagRecord {
  const cur = readCurrentFlag(f);
  const seq = cur ? cur.seq + 1 : 1;
  const data = encodeFlagRecord(seq, bank, state);
  const sectors = f.geometry.sectors;
  const sectorOf = (off: number) => sectors.findIndex((s) => off >= s.offset && off < s.offset + s.size);
  if (!cur && !erased(f.read(0, FLAG_RECORD_SIZE), f.geometry.erasedValue)) f.erase(0, f.geometry.size); // no record to keep
  let off = cur ? cur.offset + FLAG_RECORD_SIZE : 0;
  let erasedNext = false;
  for (let tries = 0; tries < f.geometry.size / FLAG_RECORD_SIZE + sectors.length; tries++) {
    if (off + FLAG_RECORD_SIZE > f.geometry.size) off = 0;
    const si = sectorOf(off);
    // entering another sector: erase it first (it holds only older records)
    if (cur && !erasedNext && si !== sectorOf(cur.offset) && off === sectors[si].offset) {
      f.erase(sectors[si].offset, sectors[si].size);
      erasedNext = true;
    }
    if (erased(f.read(off, FLAG_RECORD_SIZE), f.geometry.erasedValue)) {
      try {
        f.write(off, data);
        return { seq, bank, state, offset: off };
      } catch {
        // a slot whose ECC words a torn write used refuses the write: skip it (after a power loss
        // the next read throws again)
      }
    }
    off += FLAG_RECORD_SIZE;
  }
  throw new Error("boot flag region: no slot accepts a record");
}
