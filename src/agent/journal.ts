// The update journal: what is being applied and how far it got, kept in its own flash partition
// so that a cut at any instant loses at most the newest record. Records (journal-record.ts) are
// appended into erased flash; a checkpoint costs one 32-byte write, no erase. When a sector is
// full the journal moves to the next one (circularly), erases it and writes a complete State
// record there first, so the newest sector always holds the whole state and the sector being
// erased never holds the only copy of anything current. Needs at least two sectors.

import type { FlashPartition } from "../ports.ts";
import type { Offer } from "./offer.ts";
import { FlashWriteError } from "../flash/slot-writer.ts";
import { decodeRecord, encodeRecord, isErased, RecordType, RECORD_SLOT, type JournalRecord } from "./journal-record.ts";
import { readU32LE, writeU32LE, equalBytes, fromHex, isHex, toHex } from "../util/bytes.ts";
import { utf8Decode, utf8Encode } from "../util/utf8.ts";

export type JournalPhase = "idle" | "download" | "staging" | "staged" | "rejected";

export interface JournalState {
  phase: JournalPhase;
  offer?: Offer;
  /** Version running when the update started. */
  fromVersion?: string;
  /** Label of the slot being written. */
  slot?: string;
  /** ETag (or Last-Modified) of the first response, for If-Range. */
  validator?: string;
  /** Bytes of the image durably programmed into the slot. */
  progress: number;
  /** How many times the image was staged (a trial cut short by power loss is staged again). */
  attempts?: number;
  /** Resume bookkeeping, saved before a resume starts so that it survives a cut or a crash:
   * the offset the last resume started from and how many resumes started there. A checkpoint
   * past that offset means the resume advanced; the agent starts again from byte 0 when two
   * resumes from the same offset made no progress. Absent in journals written before these
   * fields (read as no resume yet); older readers ignore them. */
  resumeAt?: number;
  resumeTries?: number;
  /** A delta update (offer.delta): the patch applier's state at `progress` (src/delta/
   * apply-state.ts); absent until the first checkpoint. In State records it travels as hex. */
  applyState?: Uint8Array;
}

/** Slots one append may skip because they refuse a write (torn ECC words) before it gives up. */
const MAX_SKIPPED_SLOTS = 8;

export const IDLE: JournalState = Object.freeze({ phase: "idle", progress: 0 });

export class Journal {
  private readonly part: FlashPartition;
  private sector = 0;
  private writePos = 0;
  private seq = 0;
  private current: JournalState = IDLE;

  constructor(part: FlashPartition) {
    const g = part.geometry;
    if (g.sectors.length < 2) throw new Error(`journal partition ${part.label} needs two sectors or more`);
    if (RECORD_SLOT % g.writeAlign !== 0) throw new Error(`journal slots cannot meet a write alignment of ${g.writeAlign}`);
    this.part = part;
  }

  get state(): JournalState {
    return this.current;
  }

  /** Reads every sector and rebuilds the newest state; torn or garbage records are ignored. */
  load(): JournalState {
    const { sectors, erasedValue } = this.part.geometry;
    const records: JournalRecord[] = [];
    const ends: number[] = [];
    let best = -1;
    this.seq = 0;
    for (let i = 0; i < sectors.length; i++) {
      const bytes = this.part.read(sectors[i].offset, sectors[i].size);
      let end = 0;
      for (let at = 0; at < bytes.length; ) {
        if (isErased(bytes, at, RECORD_SLOT, erasedValue)) {
          at += RECORD_SLOT;
          continue;
        }
        const r = decodeRecord(bytes, at, bytes.length);
        at += r ? r.length : RECORD_SLOT;
        end = at;
        if (!r) continue;
        records.push(r);
        if (r.seq >= this.seq) {
          this.seq = r.seq;
          best = i;
        }
      }
      ends.push(end);
    }
    this.sector = best < 0 ? 0 : best;
    this.writePos = ends[this.sector];
    this.current = replay(records);
    return this.current;
  }

  /** Replaces the whole state (one record). */
  save(state: JournalState): void {
    this.current = { ...state };
    this.append(RecordType.State, encodeState(this.current));
  }

  /** Records durable progress (one 32-byte record). */
  checkpoint(progress: number): void {
    this.current = { ...this.current, progress };
    const payload = new Uint8Array(4);
    writeU32LE(payload, 0, progress);
    this.append(RecordType.Progress, payload);
  }

  /** Records a delta checkpoint: durable target progress and the applier's state (one record). */
  deltaCheckpoint(progress: number, applyState: Uint8Array): void {
    this.current = { ...this.current, progress, applyState };
    const payload = new Uint8Array(4 + applyState.length);
    writeU32LE(payload, 0, progress);
    payload.set(applyState, 4);
    this.append(RecordType.DeltaCheckpoint, payload);
  }

  clear(): void {
    this.save(IDLE);
  }

  private append(type: number, payload: Uint8Array): void {
    const { sectors, erasedValue } = this.part.geometry;
    const wanted = encodeRecord(type, this.seq + 1, payload, erasedValue);
    // A slot that reads erased may still refuse the write: on ECC write-once flash (STM32L4) a
    // program a cut tore consumed its double-words even where they still read 0xFF. Such a slot
    // is skipped (a record never goes over a slot that was programmed, even torn); a failure that
    // is not the slot's (no power) fails the read that follows it too.
    for (let tries = 0; ; tries++) {
      let record = wanted;
      if (this.writePos + record.length > sectors[this.sector].size) {
        this.sector = (this.sector + 1) % sectors.length;
        this.writePos = 0;
        this.part.erase(sectors[this.sector].offset, sectors[this.sector].size);
        // The first record of a sector is always the whole state.
        if (type !== RecordType.State) record = encodeRecord(RecordType.State, this.seq + 1, encodeState(this.current), erasedValue);
      }
      const at = sectors[this.sector].offset + this.writePos;
      try {
        this.part.write(at, record);
      } catch (e) {
        this.part.read(at, RECORD_SLOT);
        if (tries >= MAX_SKIPPED_SLOTS) throw e;
        this.writePos += RECORD_SLOT;
        continue;
      }
      if (!equalBytes(this.part.read(at, record.length), record)) {
        throw new FlashWriteError(`journal record at 0x${at.toString(16)} did not read back`);
      }
      this.writePos += record.length;
      this.seq++;
      return;
    }
  }
}

function replay(records: JournalRecord[]): JournalState {
  records.sort((a, b) => a.seq - b.seq);
  let state: JournalState = IDLE;
  for (const r of records) {
    if (r.type === RecordType.State) {
      const decoded = decodeState(r.payload);
      if (decoded) state = decoded;
    } else if (r.type === RecordType.Progress && r.payload.length >= 4 && state.phase !== "idle") {
      state = { ...state, progress: readU32LE(r.payload, 0) };
    } else if (r.type === RecordType.DeltaCheckpoint && r.payload.length > 4 && state.phase === "download") {
      state = { ...state, progress: readU32LE(r.payload, 0), applyState: r.payload.slice(4) };
    }
  }
  return state;
}

function encodeState(state: JournalState): Uint8Array {
  const { applyState, ...rest } = state;
  return utf8Encode(JSON.stringify(applyState ? { ...rest, applyState: toHex(applyState) } : rest));
}

function decodeState(payload: Uint8Array): JournalState | undefined {
  try {
    const s = JSON.parse(utf8Decode(payload)) as JournalState;
    if (typeof s !== "object" || s === null || typeof s.phase !== "string" || typeof s.progress !== "number") return undefined;
    const hex = (s as { applyState?: unknown }).applyState;
    if (hex !== undefined) {
      if (typeof hex !== "string" || !isHex(hex)) return undefined;
      s.applyState = fromHex(hex);
    }
    return s;
  } catch {
    return undefined;
  }
}
