// Streams an image into an inactive slot, as NOR flash wants it: each sector is erased just
// before its first byte is written, writes are buffered to the write alignment, nothing is ever
// written outside the slot, and every write is read back. The owner learns when a sector is
// complete (all of its bytes programmed and checked) through onSectorDone: that is the point
// that may be recorded as durable. In sectors larger than the checkpoint unit (the 128 KiB
// sectors of an STM32F4) it also learns of every unit programmed inside the sector, so that
// durable progress does not wait for a sector boundary; a resume continues inside the sector
// (resumeStart).
// Each write-alignment unit is programmed once after its sector's erase (never twice: ECC
// write-once flash refuses a second program of a double-word).

import type { FlashPartition, Sector } from "../ports.ts";
import { equalBytes } from "../util/bytes.ts";

export class FlashWriteError extends Error {
  // A field, not an assignment: XS freezes Error.prototype, where assigning `name` throws.
  override readonly name = "FlashWriteError";
  constructor(message: string) {
    super(message);
  }
}

export class SlotWriter {
  readonly part: FlashPartition;
  /** Bytes accepted so far (the stream position). */
  private pos = 0;
  /** Everything below this is erased or programmed in this session. */
  private erasedTo = 0;
  /** Bytes accepted but not yet programmed (less than one alignment unit). */
  private pending: Uint8Array;
  private pendingLength = 0;
  /** Cache of sectorAt(). */
  private lastSector: Sector | undefined;
  onSectorDone: ((end: number) => void) | undefined;
  /** Durable points inside sectors larger than this (0: sector ends only). */
  readonly checkpointUnit: number;
  /** The last durable point reported. */
  private reported = 0;

  constructor(part: FlashPartition, checkpointUnit = 0) {
    this.part = part;
    this.pending = new Uint8Array(part.geometry.writeAlign);
    if (checkpointUnit % part.geometry.writeAlign !== 0) throw new FlashWriteError(`checkpoint unit ${checkpointUnit} is not a multiple of the write alignment`);
    this.checkpointUnit = checkpointUnit;
  }

  get position(): number {
    return this.pos;
  }

  /** The start of the sector holding `offset` (the slot size for an offset at or past the end):
   * where writing may resume when `offset` bytes are durable. The bytes of the sector before
   * `offset` are written again; everything below the result stays as it is in flash. */
  sectorStart(offset: number): number {
    return offset >= this.part.geometry.size ? this.part.geometry.size : this.sectorAt(offset).offset;
  }

  /** Where writing may resume when `offset` bytes are durable: `offset` itself when it lies
   * inside a sector larger than the checkpoint unit, on a unit boundary, and the bytes after it
   * can take the same data again; otherwise the sector's start (sectorStart), whose sector is then
   * erased again. Bytes after the checkpoint were programmed (in full, or torn: a torn program
   * clears some of the bits the data clears, never others) with the same image, which the
   * journal guarantees: on plain NOR programming them again with the same bytes is allowed and
   * completes them (each write is read back). On write-once flash (ECC words) they must still
   * read erased, else the sector starts again. */
  resumeStart(offset: number): number {
    const start = this.sectorStart(offset);
    const unit = this.checkpointUnit;
    if (start === offset || unit === 0 || offset % unit !== 0) return start;
    const sector = this.sectorAt(offset);
    if (sector.size <= unit) return start;
    if (!this.part.geometry.writeOnce) return offset;
    const erased = this.part.geometry.erasedValue;
    const end = sector.offset + sector.size;
    for (let at = offset; at < end; at += unit) {
      const bytes = this.part.read(at, Math.min(unit, end - at));
      for (let i = 0; i < bytes.length; i++) if (bytes[i] !== erased) return start;
    }
    return offset;
  }

  /** Starts (or restarts) writing at `offset`. At a sector start, that sector is erased again
   * before its first write, whatever it holds; inside a sector (a resumeStart() answer) the rest
   * of the sector is written without an erase. */
  seek(offset: number): void {
    const sector = this.sectorAt(offset);
    const inside = offset !== this.part.geometry.size && sector.offset !== offset;
    if (inside && (this.checkpointUnit === 0 || offset % this.checkpointUnit !== 0 || sector.size <= this.checkpointUnit)) {
      throw new FlashWriteError(`resume offset 0x${offset.toString(16)} is not on a sector boundary`);
    }
    this.pos = offset;
    this.erasedTo = inside ? sector.offset + sector.size : offset;
    this.pendingLength = 0;
    this.reported = offset;
  }

  write(chunk: Uint8Array): void {
    if (this.pos + chunk.length > this.part.geometry.size) {
      throw new FlashWriteError(
        `image overflows slot ${this.part.label}: byte 0x${(this.pos + chunk.length).toString(16)} past its 0x${this.part.geometry.size.toString(16)} bytes`,
      );
    }
    const align = this.pending.length;
    let i = 0;
    // Fill an open alignment unit first.
    if (this.pendingLength > 0) {
      const n = Math.min(align - this.pendingLength, chunk.length);
      this.pending.set(chunk.subarray(0, n), this.pendingLength);
      this.pendingLength += n;
      this.pos += n;
      i = n;
      if (this.pendingLength === align) {
        this.program(this.pos - align, this.pending.slice());
        this.pendingLength = 0;
      }
    }
    while (i < chunk.length) {
      const sector = this.sectorAt(this.pos);
      const room = sector.offset + sector.size - this.pos;
      const n = Math.min(room, chunk.length - i);
      const whole = n - (n % align);
      if (whole > 0) {
        this.program(this.pos, chunk.subarray(i, i + whole));
        this.pos += whole;
        i += whole;
      }
      if (whole < n) {
        // Only the end of a chunk can leave part of a unit: sectors are whole units.
        this.pending.set(chunk.subarray(i, i + n - whole), 0);
        this.pendingLength = n - whole;
        this.pos += n - whole;
        i += n - whole;
      }
    }
  }

  /** Programs a final partial alignment unit, padded with the erased value. */
  flush(): void {
    if (this.pendingLength === 0) return;
    const unit = new Uint8Array(this.pending.length).fill(this.part.geometry.erasedValue);
    unit.set(this.pending.subarray(0, this.pendingLength));
    const at = this.pos - this.pendingLength;
    this.pendingLength = 0;
    this.program(at, unit);
    this.report(this.pos);
  }

  private program(at: number, data: Uint8Array): void {
    const sector = this.sectorAt(at);
    if (at + data.length > sector.offset + sector.size) throw new FlashWriteError("write crosses a sector boundary");
    if (this.erasedTo <= at) {
      this.part.erase(sector.offset, sector.size);
      this.erasedTo = sector.offset + sector.size;
    }
    this.part.write(at, data);
    const back = this.part.read(at, data.length);
    if (!equalBytes(back, data)) throw new FlashWriteError(`read-back mismatch at 0x${at.toString(16)} in ${this.part.label}`);
    const end = at + data.length;
    if (end === sector.offset + sector.size) this.report(end);
    else if (this.checkpointUnit > 0 && sector.size > this.checkpointUnit) {
      const point = end - (end % this.checkpointUnit);
      if (point > this.reported && point > sector.offset) this.report(point);
    }
  }

  private report(end: number): void {
    this.reported = end;
    this.onSectorDone?.(end);
  }

  /** The sector holding `offset`: the last one found, else a binary search (the map is ascending
   * and gap-free). Never a scan of the map: this runs for every chunk, and a platform's map may
   * make each element on access (the Moddable one is a Proxy: scanning it cost XS about 60
   * meter units per image byte, more than everything else the runtime does). */
  private sectorAt(offset: number): Sector {
    const last = this.lastSector;
    if (last && offset >= last.offset && offset < last.offset + last.size) return last;
    const sectors = this.part.geometry.sectors;
    let lo = 0;
    let hi = sectors.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = sectors[mid];
      if (offset < s.offset) hi = mid - 1;
      else if (offset >= s.offset + s.size) lo = mid + 1;
      else {
        this.lastSector = s;
        return s;
      }
    }
    return { offset: this.part.geometry.size, size: 0 };
  }
}
