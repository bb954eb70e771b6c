// Streaming CRLE decoder (detools' "compressed run-length encoding"). Source of the format:
// eerimoq/detools c/detools.c at 53d1f47 (patch_reader_crle_*, unpack_usize) and
// detools/compression/crle.py; shared/vectors/detools/README.md "(a) CRLE".
//
// Records: a kind byte, 0 = scattered: an unsigned size N then N literal bytes; 1 = repeated: an
// unsigned size N then one byte that is output N times. Unsigned sizes: 7 bits per byte, least
// significant group first, bit 7 = more. Any other kind is corrupt.

import type { ByteCursor } from "./heatshrink-decoder.ts";

const KIND = 0;
const SCATTERED_SIZE = 1;
const SCATTERED_DATA = 2;
const REPEATED_SIZE = 3;
const REPEATED_BYTE = 4;
const REPEATED_DATA = 5;

export const CRLE_KIND_SCATTERED = 0;
export const CRLE_KIND_REPEATED = 1;
/** More groups than this in an unsigned size is corrupt (a size below 2^28). */
const USIZE_MAX_BYTES = 4;

/** Serialised size: state, size bytes read, byte, value u32, left u32. */
export const CRLE_STATE_BYTES = 1 + 1 + 1 + 4 + 4;

/** Thrown (as a plain Error; the patch reader turns it into an OtaError) on a corrupt record. */
export class CrleError extends Error {}

export class CrleDecoder {
  private state = KIND;
  private sizeBytes = 0;
  private value = 0;
  private left = 0;
  private byte = 0;

  constructor(private readonly src: ByteCursor) {}

  /** Decodes up to `max` bytes into out[start...]; fewer only when the input is used up. */
  read(out: Uint8Array, start: number, max: number): number {
    const src = this.src;
    let n = 0;
    while (n < max) {
      if (this.state === SCATTERED_DATA || this.state === REPEATED_DATA) {
        if (this.left === 0) {
          this.state = KIND;
          continue;
        }
        let k = this.left < max - n ? this.left : max - n;
        if (this.state === SCATTERED_DATA) {
          const avail = src.bytes.length - src.pos;
          if (avail === 0) return n;
          if (k > avail) k = avail;
          out.set(src.bytes.subarray(src.pos, src.pos + k), start + n);
          src.pos += k;
        } else {
          out.fill(this.byte, start + n, start + n + k);
        }
        n += k;
        this.left -= k;
        continue;
      }
      if (src.pos >= src.bytes.length) return n;
      const b = src.bytes[src.pos++];
      switch (this.state) {
        case KIND:
          if (b !== CRLE_KIND_SCATTERED && b !== CRLE_KIND_REPEATED) throw new CrleError(`CRLE record kind ${b} (only 0 and 1 exist)`);
          this.state = b === CRLE_KIND_SCATTERED ? SCATTERED_SIZE : REPEATED_SIZE;
          this.sizeBytes = 0;
          this.value = 0;
          break;
        case SCATTERED_SIZE:
        case REPEATED_SIZE:
          if (this.sizeBytes === USIZE_MAX_BYTES) throw new CrleError("CRLE size longer than 4 bytes");
          this.value += (b & 0x7f) * 2 ** (7 * this.sizeBytes++);
          if (b & 0x80) break;
          this.left = this.value;
          this.state = this.state === SCATTERED_SIZE ? SCATTERED_DATA : REPEATED_BYTE;
          break;
        default:
          this.byte = b;
          this.state = REPEATED_DATA;
      }
    }
    return n;
  }

  /** Whether a record still has bytes to give (more output than the patch needs). */
  get pendingOutput(): boolean {
    return this.state !== KIND && !((this.state === SCATTERED_DATA || this.state === REPEATED_DATA) && this.left === 0);
  }

  save(out: Uint8Array, at: number): void {
    const v = new DataView(out.buffer, out.byteOffset + at, CRLE_STATE_BYTES);
    v.setUint8(0, this.state);
    v.setUint8(1, this.sizeBytes);
    v.setUint8(2, this.byte);
    v.setUint32(3, this.value, true);
    v.setUint32(7, this.left, true);
  }

  load(from: Uint8Array, at: number): boolean {
    const v = new DataView(from.buffer, from.byteOffset + at, CRLE_STATE_BYTES);
    const state = v.getUint8(0);
    const sizeBytes = v.getUint8(1);
    if (state > REPEATED_DATA || sizeBytes > USIZE_MAX_BYTES) return false;
    this.state = state;
    this.sizeBytes = sizeBytes;
    this.byte = v.getUint8(2);
    this.value = v.getUint32(3, true);
    this.left = v.getUint32(7, true);
    return true;
  }
}
