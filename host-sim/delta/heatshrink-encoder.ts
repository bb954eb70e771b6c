// heatshrink (LZSS) encoder, window 2^8, lookahead 2^7, for patches that detools' C library and
// esp_delta_ota decode (src/delta/heatshrink-decoder.ts describes the bit stream; source:
// atomicobject/heatshrink heatshrink_encoder.c, which this does not copy: any token stream the
// decoder reads is valid). Greedy longest match over the last 256 bytes, found through chains
// of earlier positions with the same two bytes; a back-reference (16 bits) is used from 2 bytes
// on, where two literals would cost 18. The last byte is padded with 0 bits.

import { HEATSHRINK_LOOKAHEAD_BITS, HEATSHRINK_WINDOW_BITS } from "../../src/delta/heatshrink-decoder.ts";
import { ByteSink } from "./bsdiff.ts";

const WINDOW = 1 << HEATSHRINK_WINDOW_BITS;
const MAX_MATCH = 1 << HEATSHRINK_LOOKAHEAD_BITS;
const MIN_MATCH = 2;

class BitWriter {
  private acc = 0;
  private count = 0;
  constructor(private readonly out: ByteSink) {}
  bits(value: number, n: number): void {
    this.acc = (this.acc << n) | value;
    this.count += n;
    while (this.count >= 8) {
      this.count -= 8;
      this.out.push((this.acc >> this.count) & 0xff);
    }
    this.acc &= (1 << this.count) - 1;
  }
  flush(): void {
    if (this.count > 0) this.out.push((this.acc << (8 - this.count)) & 0xff);
    this.acc = 0;
    this.count = 0;
  }
}

export function heatshrinkEncode(data: Uint8Array): Uint8Array {
  const out = new ByteSink();
  const w = new BitWriter(out);
  const n = data.length;
  const head = new Int32Array(1 << 16).fill(-1);
  const prev = new Int32Array(n);
  const insert = (i: number): void => {
    if (i + 1 >= n) return;
    const h = (data[i] << 8) | data[i + 1];
    prev[i] = head[h];
    head[h] = i;
  };
  let i = 0;
  while (i < n) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + 1 < n) {
      const limit = Math.min(MAX_MATCH, n - i);
      for (let j = head[(data[i] << 8) | data[i + 1]]; j >= 0 && i - j <= WINDOW; j = prev[j]) {
        let len = 2;
        while (len < limit && data[j + len] === data[i + len]) len++;
        if (len > bestLen) {
          bestLen = len;
          bestDist = i - j;
          if (len === limit) break;
        }
      }
    }
    if (bestLen >= MIN_MATCH) {
      w.bits(0, 1);
      w.bits(bestDist - 1, HEATSHRINK_WINDOW_BITS);
      w.bits(bestLen - 1, HEATSHRINK_LOOKAHEAD_BITS);
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      w.bits(0x100 | data[i], 9);
      insert(i);
      i++;
    }
  }
  w.flush();
  return out.bytes();
}
