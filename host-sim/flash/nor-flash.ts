// A NOR flash chip simulator, in memory or backed by a file (flash-store.ts). It enforces the NOR rules (erase sets whole
// sectors to the erased value, a write can only clear bits, writes are aligned), counts every
// operation, and can cut the power at a chosen operation in three ways (before, torn-write,
// torn-erase), deterministically from a seed.
// ECC write-once mode (STM32L4-class flash, RM0351 §3.3.7 "Flash main memory programming
// sequence": programming is by 64-bit double-word, and a double-word can only be programmed once
// after an erase because 8 ECC bits are stored with it): with `eccWordSize` set, writes must be
// aligned to it, and a second write to a double-word fails even when it only clears bits (or
// writes all ones: programming 0xFF..FF still consumes the word).

import type { FlashGeometry, FlashPartition, Sector } from "../../src/ports.ts";
import { Rng } from "../rng.ts";
import { FileStore, MemoryStore, type FlashStore } from "./flash-store.ts";

export type CutMode = "before" | "torn-write" | "torn-erase";
export const CUT_MODES: readonly CutMode[] = ["before", "torn-write", "torn-erase"];

/** Thrown by every flash operation from the cut on: the board has no power. */
export class PowerCut extends Error {
  constructor(readonly op: number) {
    super(`power cut at flash operation ${op}`);
    this.name = "PowerCut";
  }
}

export class FlashRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlashRuleError";
  }
}

export interface ChipGeometry {
  size: number;
  /** Sector map of the whole chip, ascending, covering [0, size). */
  sectors: readonly Sector[];
  writeAlign: number;
  erasedValue: number;
  /** ECC write-once unit (8 on STM32L4): each such word is programmable once per erase. */
  eccWordSize?: number;
}

export interface FlashCounters {
  reads: number;
  writes: number;
  erases: number;
  bytesWritten: number;
}

export interface CutPlan {
  /** 1-based index of the write/erase operation that loses power. */
  at: number;
  mode: CutMode;
  seed: number;
}

export interface FlashOp {
  kind: "write" | "erase";
  address: number;
  length: number;
}

export class NorFlash {
  readonly geometry: ChipGeometry;
  /** Totals since the board was opened; they carry over power cycles. */
  counters: FlashCounters = { reads: 0, writes: 0, erases: 0, bytesWritten: 0 };
  /** Write and erase operations so far (reads are not cut points); carries over power cycles. */
  ops = 0;
  /** Erase count per sector start address. */
  sectorErases = new Map<number, number>();
  private cuts: CutPlan[] = [];
  private dead = false;
  /** ECC mode: one byte per word, 1 when the word was programmed since its last erase. */
  private programmed: Uint8Array | undefined;
  private store: FlashStore;
  /** False once a power cycle handed the store to the next chip object (close() leaves it open). */
  private ownsStore = true;
  onOp: ((op: FlashOp, index: number) => void) | undefined;

  /** `bytes` (default: erased) become the chip's cells, shared, not copied. A store is how a
   * file-backed chip is made (openFile) and handed over a power cycle, with its ECC state. */
  constructor(geometry: ChipGeometry, bytes?: Uint8Array | FlashStore, programmed?: Uint8Array) {
    this.geometry = geometry;
    this.store = bytes === undefined || bytes instanceof Uint8Array
      ? new MemoryStore(bytes ?? new Uint8Array(geometry.size).fill(geometry.erasedValue))
      : bytes;
    if (this.store.size !== geometry.size) {
      throw new Error(`flash image is ${this.store.size} bytes, the board has ${geometry.size}`);
    }
    const w = geometry.eccWordSize;
    if (w !== undefined) {
      if (geometry.writeAlign % w !== 0) throw new Error(`ECC word of ${w} bytes needs a write alignment that is a multiple of it`);
      this.programmed = programmed ?? this.scanProgrammed(w);
    }
  }

  /** Opens (or creates, erased) a flash image file. Every operation reads and writes the file at
   * its offset; no copy of the chip is kept in memory. */
  static openFile(path: string, geometry: ChipGeometry): NorFlash {
    return new NorFlash(geometry, FileStore.open(path, geometry.size, geometry.erasedValue));
  }

  /** The cells of an in-memory chip, live (tests edit them directly). A file-backed chip has
   * none: use read() or snapshot(). */
  get bytes(): Uint8Array {
    if (this.store instanceof MemoryStore) return this.store.bytes;
    throw new Error(`the flash is backed by the file ${(this.store as FileStore).path}: it has no bytes in memory (use read() or snapshot())`);
  }

  /** A copy of the whole chip, whatever its power state; not counted as a read. */
  snapshot(): Uint8Array {
    return this.store.read(0, this.geometry.size);
  }

  close(): void {
    if (this.ownsStore) this.store.close();
  }

  /** A new chip object on the same cells, as after a power cycle. Counters, the operation index
   * and the cuts not yet fired carry over. */
  powerCycle(): NorFlash {
    const next = new NorFlash(this.geometry, this.store, this.programmed);
    next.counters = this.counters;
    next.ops = this.ops;
    next.sectorErases = this.sectorErases;
    next.cuts = this.cuts;
    next.onOp = this.onOp;
    next.ownsStore = this.ownsStore;
    this.ownsStore = false;
    this.dead = true;
    return next;
  }

  /** Plans power cuts at operation indices (counted from the first operation of the run). */
  armCuts(plans: CutPlan[]): void {
    this.cuts = plans.slice();
  }

  /** Power is lost now: every later operation throws PowerCut. */
  powerOff(): void {
    this.dead = true;
  }

  get isDead(): boolean {
    return this.dead;
  }

  sectorAt(address: number): Sector {
    for (const s of this.geometry.sectors) {
      if (address >= s.offset && address < s.offset + s.size) return s;
    }
    throw new FlashRuleError(`address 0x${address.toString(16)} is outside the flash`);
  }

  read(address: number, length: number): Uint8Array {
    this.alive();
    this.bounds(address, length);
    this.counters.reads++;
    return this.store.read(address, length);
  }

  write(address: number, data: Uint8Array): void {
    this.alive();
    this.bounds(address, data.length);
    const a = this.geometry.writeAlign;
    if (address % a !== 0 || data.length % a !== 0) {
      throw new FlashRuleError(`misaligned write of ${data.length} bytes at 0x${address.toString(16)} (alignment ${a})`);
    }
    const cells = this.store.read(address, data.length);
    for (let i = 0; i < data.length; i++) {
      const old = cells[i];
      if ((data[i] & ~old) & 0xff) {
        throw new FlashRuleError(
          `write at 0x${(address + i).toString(16)} sets bits 0->1 (0x${old.toString(16)} -> 0x${data[i].toString(16)}): erase first`,
        );
      }
    }
    const w = this.geometry.eccWordSize;
    if (w !== undefined && this.programmed) {
      for (let i = address / w; i < (address + data.length) / w; i++) {
        if (this.programmed[i]) {
          throw new FlashRuleError(`ECC double-word at 0x${(i * w).toString(16)} was already programmed since its last erase (write-once)`);
        }
      }
    }
    this.beginOp({ kind: "write", address, length: data.length }, data);
    this.program(address, data, data.length, cells);
    this.counters.writes++;
    this.counters.bytesWritten += data.length;
  }

  erase(address: number, length: number): void {
    this.alive();
    this.bounds(address, length);
    const first = this.sectorAt(address);
    if (first.offset !== address) throw new FlashRuleError(`erase at 0x${address.toString(16)} is not on a sector start`);
    let end = address;
    while (end < address + length) end += this.sectorAt(end).size;
    if (end !== address + length) throw new FlashRuleError(`erase length 0x${length.toString(16)} does not end on a sector boundary`);
    for (let s = address; s < end; s += this.sectorAt(s).size) {
      const sector = this.sectorAt(s);
      this.beginOp({ kind: "erase", address: s, length: sector.size });
      this.store.fill(s, sector.size, this.geometry.erasedValue);
      this.markEcc(s, sector.size, 0);
      this.counters.erases++;
      this.sectorErases.set(s, (this.sectorErases.get(s) ?? 0) + 1);
    }
  }

  /** A partition view: offsets relative to `address`, bounds-checked, sharing the counters. */
  partition(label: string, address: number, size: number): FlashPartition {
    const sectors: Sector[] = [];
    for (let s = address; s < address + size; ) {
      const sector = this.sectorAt(s);
      if (sector.offset !== s) throw new Error(`partition ${label} does not start on a sector boundary`);
      sectors.push({ offset: s - address, size: sector.size });
      s += sector.size;
    }
    const geometry: FlashGeometry = {
      size,
      sectors,
      writeAlign: this.geometry.writeAlign,
      erasedValue: this.geometry.erasedValue,
    };
    if (this.geometry.eccWordSize !== undefined) geometry.writeOnce = true;
    const check = (offset: number, length: number) => {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new FlashRuleError(`${label}: access [0x${offset.toString(16)}, +0x${length.toString(16)}) outside the partition`);
      }
    };
    return {
      label,
      geometry,
      read: (offset, length) => (check(offset, length), this.read(address + offset, length)),
      write: (offset, data) => (check(offset, data.length), this.write(address + offset, data)),
      erase: (offset, length) => (check(offset, length), this.erase(address + offset, length)),
    };
  }

  private alive(): void {
    if (this.dead) throw new PowerCut(this.ops);
  }

  private bounds(address: number, length: number): void {
    if (address < 0 || length < 0 || address + length > this.geometry.size) {
      throw new FlashRuleError(`access [0x${address.toString(16)}, +0x${length.toString(16)}) outside the flash`);
    }
  }

  /** Counts the operation and applies a planned cut, which throws PowerCut. */
  private beginOp(op: FlashOp, data?: Uint8Array): void {
    const index = ++this.ops;
    this.onOp?.(op, index);
    const k = this.cuts.findIndex((c) => c.at === index);
    if (k < 0) return;
    const cut = this.cuts[k];
    this.cuts.splice(k, 1);
    this.dead = true;
    const rng = new Rng(cut.seed ^ (index * 0x9e3779b1));
    if (cut.mode === "torn-write" && data) this.tearWrite(op, data, rng);
    if (cut.mode === "torn-erase" && op.kind === "erase") this.tearErase(op, rng);
    throw new PowerCut(index);
  }

  private tearWrite(op: FlashOp, data: Uint8Array, rng: Rng): void {
    const prefix = rng.int(op.length);
    this.program(op.address, data, prefix);
    const at = op.address + prefix;
    const cell = this.store.read(at, 1);
    const toClear = cell[0] & ~data[prefix] & 0xff;
    cell[0] &= ~(toClear & rng.int(256)) & 0xff;
    this.store.write(at, cell);
    this.markEcc(at, 1, 1); // a torn program still consumed its ECC word
  }

  private tearErase(op: FlashOp, rng: Rng): void {
    if (rng.int(2) === 0) {
      const n = rng.int(op.length);
      if (n > 0) this.store.fill(op.address, n, this.geometry.erasedValue);
      const w = this.geometry.eccWordSize ?? 1;
      this.markEcc(op.address, n - (n % w), 0);
    } else {
      const noise = new Uint8Array(op.length);
      for (let i = 0; i < op.length; i++) noise[i] = rng.int(256);
      this.store.write(op.address, noise);
      this.markEcc(op.address, op.length, 1); // unknown cells: not programmable until erased
    }
  }

  /** Programs the first `count` bytes of `data` (bits only cleared); `cells` are the current
   * contents when the caller already read them. */
  private program(address: number, data: Uint8Array, count: number, cells?: Uint8Array): void {
    if (count <= 0) return;
    const next = cells ? cells.subarray(0, count) : this.store.read(address, count);
    for (let i = 0; i < count; i++) next[i] &= data[i];
    this.store.write(address, next);
    this.markEcc(address, count, 1);
  }

  /** ECC mode, a chip opened on existing cells: every word that does not read erased counts as
   * programmed. */
  private scanProgrammed(w: number): Uint8Array {
    const programmed = new Uint8Array(Math.ceil(this.geometry.size / w));
    const step = w * 8192;
    for (let base = 0; base < this.geometry.size; base += step) {
      const cells = this.store.read(base, Math.min(step, this.geometry.size - base));
      for (let k = 0; k < cells.length; k++) if (cells[k] !== this.geometry.erasedValue) programmed[(base + k) / w | 0] = 1;
    }
    return programmed;
  }

  /** ECC mode: marks the words touching [address, address + length) programmed (1) or erased (0).
   * A torn erase leaves the words it did not finish marked as they were. */
  private markEcc(address: number, length: number, value: 0 | 1): void {
    const w = this.geometry.eccWordSize;
    if (w === undefined || !this.programmed || length <= 0) return;
    for (let i = Math.floor(address / w); i < Math.ceil((address + length) / w); i++) this.programmed[i] = value;
  }
}
