// A NOR flash chip simulator backed by a file. It enforces the NOR rules (erase sets whole
// sectors to the erased value, a write can only clear bits, writes are aligned), counts every
// operation, and can cut the power at a chosen operation in three ways (before, torn-write,
// torn-erase), deterministically from a seed.
// ECC write-once mode (STM32L4-class flash, RM0351 §3.3.7 "Flash main memory programming
// sequence": programming is by 64-bit double-word, and a double-word can only be programmed once
// after an erase because 8 ECC bits are stored with it): with `eccWordSize` set, writes must be
// aligned to it, and a second write to a double-word fails even when it only clears bits (or
// writes all ones: programming 0xFF..FF still consumes the word).

import * as fs from "node:fs";
import type { FlashGeometry, FlashPartition, Sector } from "../../src/ports.ts";
import { Rng } from "../rng.ts";

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
  readonly bytes: Uint8Array;
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
  private fd: number | undefined;
  onOp: ((op: FlashOp, index: number) => void) | undefined;

  constructor(geometry: ChipGeometry, bytes?: Uint8Array) {
    this.geometry = geometry;
    this.bytes = bytes ?? new Uint8Array(geometry.size).fill(geometry.erasedValue);
    if (this.bytes.length !== geometry.size) {
      throw new Error(`flash image is ${this.bytes.length} bytes, the board has ${geometry.size}`);
    }
    const w = geometry.eccWordSize;
    if (w !== undefined) {
      if (geometry.writeAlign % w !== 0) throw new Error(`ECC word of ${w} bytes needs a write alignment that is a multiple of it`);
      // A chip opened from bytes (a file) counts every word that does not read erased as programmed.
      this.programmed = new Uint8Array(Math.ceil(geometry.size / w));
      for (let i = 0; i < this.programmed.length; i++) {
        for (let k = i * w; k < (i + 1) * w; k++) if (this.bytes[k] !== geometry.erasedValue) this.programmed[i] = 1;
      }
    }
  }

  /** Opens (or creates, erased) a flash image file; every operation is written through. */
  static openFile(path: string, geometry: ChipGeometry): NorFlash {
    let bytes: Uint8Array;
    if (fs.existsSync(path)) {
      bytes = new Uint8Array(fs.readFileSync(path));
    } else {
      bytes = new Uint8Array(geometry.size).fill(geometry.erasedValue);
      fs.writeFileSync(path, bytes);
    }
    const flash = new NorFlash(geometry, bytes);
    flash.fd = fs.openSync(path, "r+");
    return flash;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** A new chip object on the same bytes, as after a power cycle. Counters, the operation index
   * and the cuts not yet fired carry over. */
  powerCycle(): NorFlash {
    const next = new NorFlash(this.geometry, this.bytes);
    next.fd = this.fd;
    next.counters = this.counters;
    next.ops = this.ops;
    next.sectorErases = this.sectorErases;
    next.cuts = this.cuts;
    next.onOp = this.onOp;
    next.programmed = this.programmed;
    this.fd = undefined;
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
    return this.bytes.slice(address, address + length);
  }

  write(address: number, data: Uint8Array): void {
    this.alive();
    this.bounds(address, data.length);
    const a = this.geometry.writeAlign;
    if (address % a !== 0 || data.length % a !== 0) {
      throw new FlashRuleError(`misaligned write of ${data.length} bytes at 0x${address.toString(16)} (alignment ${a})`);
    }
    for (let i = 0; i < data.length; i++) {
      const old = this.bytes[address + i];
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
    this.program(address, data, data.length);
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
      this.bytes.fill(this.geometry.erasedValue, s, s + sector.size);
      this.markEcc(s, sector.size, 0);
      this.persist(s, sector.size);
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
    const toClear = this.bytes[at] & ~data[prefix] & 0xff;
    this.bytes[at] &= ~(toClear & rng.int(256)) & 0xff;
    this.markEcc(at, 1, 1); // a torn program still consumed its ECC word
    this.persist(at, 1);
  }

  private tearErase(op: FlashOp, rng: Rng): void {
    if (rng.int(2) === 0) {
      const n = rng.int(op.length);
      this.bytes.fill(this.geometry.erasedValue, op.address, op.address + n);
      const w = this.geometry.eccWordSize ?? 1;
      this.markEcc(op.address, n - (n % w), 0);
    } else {
      for (let i = 0; i < op.length; i++) this.bytes[op.address + i] = rng.int(256);
      this.markEcc(op.address, op.length, 1); // unknown cells: not programmable until erased
    }
    this.persist(op.address, op.length);
  }

  private program(address: number, data: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) this.bytes[address + i] &= data[i];
    this.markEcc(address, count, 1);
    this.persist(address, count);
  }

  /** ECC mode: marks the words touching [address, address + length) programmed (1) or erased (0).
   * A torn erase leaves the words it did not finish marked as they were. */
  private markEcc(address: number, length: number, value: 0 | 1): void {
    const w = this.geometry.eccWordSize;
    if (w === undefined || !this.programmed || length <= 0) return;
    for (let i = Math.floor(address / w); i < Math.ceil((address + length) / w); i++) this.programmed[i] = value;
  }

  private persist(address: number, length: number): void {
    if (this.fd !== undefined && length > 0) fs.writeSync(this.fd, this.bytes, address, length, address);
  }
}
