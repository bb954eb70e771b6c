// Streaming heatshrink (LZSS) decoder, window 2^8, lookahead 2^7: the configuration detools' C
// library ships (c/heatshrink/heatshrink_config.h: static decoder, window 8, lookahead 7) and the
// only one esp_delta_ota accepts. Source of the format: atomicobject/heatshrink
// heatshrink_decoder.c as vendored in eerimoq/detools c/heatshrink/ at 53d1f47 (st_* states and
// get_bits); shared/vectors/detools/README.md "(a) Heatshrink".
//
// Bit stream, most significant bit first: tag 1 -> literal (8 bits); tag 0 -> back-reference:
// index (8 bits, distance = index + 1) then count (7 bits, length = count + 1), copied byte by
// byte from the window (overlap allowed). The window starts zero-filled. No end marker: the last
// byte is padded with 0 bits. Fixed memory: the 256-byte window and a few numbers; the whole
// state (window included) serialises to HEATSHRINK_STATE_BYTES, so a decode can stop and resume
// between any two input bytes or output bytes.

/** log2 of the window and of the lookahead (detools' defaults, header byte 0x44). */
export const HEATSHRINK_WINDOW_BITS = 8;
export const HEATSHRINK_LOOKAHEAD_BITS = 7;
const WINDOW_SIZE = 1 << HEATSHRINK_WINDOW_BITS;
const WINDOW_MASK = WINDOW_SIZE - 1;

// Decoder states (heatshrink_decoder.c HSDS_*; the MSB states do not exist for 8/7).
const TAG_BIT = 0;
const YIELD_LITERAL = 1;
const BACKREF_INDEX = 2;
const BACKREF_COUNT = 3;
const YIELD_BACKREF = 4;

/** Serialised size: state, bit count, bits, head, distance, count (u8 each but distance/count
 * u16) and the window. */
export const HEATSHRINK_STATE_BYTES = 1 + 1 + 1 + 1 + 2 + 2 + WINDOW_SIZE;

/** Where a decoder takes its input from: `bytes[pos...]`, shared with the patch reader so both
 * see one position in the patch. */
export interface ByteCursor {
  bytes: Uint8Array;
  pos: number;
}

export class HeatshrinkDecoder {
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private head = 0;
  private state = TAG_BIT;
  /** Bits taken from input but not yet used (at most 7 between calls), right-aligned. */
  private bits = 0;
  private bitCount = 0;
  private distance = 0;
  private count = 0;

  constructor(private readonly src: ByteCursor) {}

  /** Next `n` (<= 8) bits, or -1 when the input runs out first (nothing is consumed then beyond
   * the bytes already taken into the bit buffer, which the state keeps). */
  private getBits(n: number): number {
    while (this.bitCount < n) {
      const src = this.src;
      if (src.pos >= src.bytes.length) return -1;
      this.bits = (this.bits << 8) | src.bytes[src.pos++];
      this.bitCount += 8;
    }
    this.bitCount -= n;
    const v = this.bits >> this.bitCount;
    this.bits &= (1 << this.bitCount) - 1;
    return v;
  }

  /** Decodes up to `max` bytes into out[start...]; returns how many. Fewer than `max` only when
   * the input is used up. */
  read(out: Uint8Array, start: number, max: number): number {
    const w = this.window;
    let n = 0;
    while (n < max) {
      switch (this.state) {
        case TAG_BIT: {
          const b = this.getBits(1);
          if (b < 0) return n;
          this.state = b ? YIELD_LITERAL : BACKREF_INDEX;
          break;
        }
        case YIELD_LITERAL: {
          const b = this.getBits(8);
          if (b < 0) return n;
          w[this.head] = b;
          this.head = (this.head + 1) & WINDOW_MASK;
          out[start + n++] = b;
          this.state = TAG_BIT;
          break;
        }
        case BACKREF_INDEX: {
          const b = this.getBits(HEATSHRINK_WINDOW_BITS);
          if (b < 0) return n;
          this.distance = b + 1;
          this.state = BACKREF_COUNT;
          break;
        }
        case BACKREF_COUNT: {
          const b = this.getBits(HEATSHRINK_LOOKAHEAD_BITS);
          if (b < 0) return n;
          this.count = b + 1;
          this.state = YIELD_BACKREF;
          break;
        }
        default: {
          // A back-reference: its first min(k, distance) bytes come from the window without
          // overlap; the rest repeats them with period `distance`, so it is copied by doubling
          // inside `out`. Then the window takes the newest (at most 256) of the bytes. Native
          // copies instead of a byte loop: XS interprets every loop iteration.
          const k = this.count < max - n ? this.count : max - n;
          this.count -= k;
          const o = start + n;
          const d = this.distance;
          const first = k < d ? k : d;
          const s = (this.head - d) & WINDOW_MASK;
          const a = first < WINDOW_SIZE - s ? first : WINDOW_SIZE - s;
          out.set(w.subarray(s, s + a), o);
          if (first > a) out.set(w.subarray(0, first - a), o + a);
          for (let filled = first; filled < k; ) {
            const m = filled < k - filled ? filled : k - filled;
            out.copyWithin(o + filled, o, o + m);
            filled += m;
          }
          const keep = k < WINDOW_SIZE ? k : WINDOW_SIZE;
          const h = (this.head + k - keep) & WINDOW_MASK;
          const b = keep < WINDOW_SIZE - h ? keep : WINDOW_SIZE - h;
          w.set(out.subarray(o + k - keep, o + k - keep + b), h);
          if (keep > b) w.set(out.subarray(o + k - keep + b, o + k), 0);
          this.head = (this.head + k) & WINDOW_MASK;
          n += k;
          if (this.count === 0) this.state = TAG_BIT;
        }
      }
    }
    return n;
  }

  /** Whether decoded bytes are still pending from a back-reference (more output than the
   * patch needs: trailing data). */
  get pendingOutput(): boolean {
    return this.state === YIELD_BACKREF && this.count > 0;
  }

  /** Writes the state (HEATSHRINK_STATE_BYTES) at out[at...]. */
  save(out: Uint8Array, at: number): void {
    out[at] = this.state;
    out[at + 1] = this.bitCount;
    out[at + 2] = this.bits;
    out[at + 3] = this.head;
    out[at + 4] = this.distance & 0xff;
    out[at + 5] = this.distance >> 8;
    out[at + 6] = this.count & 0xff;
    out[at + 7] = this.count >> 8;
    out.set(this.window, at + 8);
  }

  /** Restores a state written by save(); false when it is not one save() can write. */
  load(from: Uint8Array, at: number): boolean {
    const state = from[at];
    const bitCount = from[at + 1];
    const bits = from[at + 2];
    const distance = from[at + 4] | (from[at + 5] << 8);
    const count = from[at + 6] | (from[at + 7] << 8);
    if (state > YIELD_BACKREF || bitCount > 7 || bits >> bitCount !== 0) return false;
    if (distance > WINDOW_SIZE || count > 1 << HEATSHRINK_LOOKAHEAD_BITS) return false;
    this.state = state;
    this.bitCount = bitCount;
    this.bits = bits;
    this.head = from[at + 3];
    this.distance = distance;
    this.count = count;
    this.window.set(from.subarray(at + 8, at + 8 + WINDOW_SIZE));
    return true;
  }
}
