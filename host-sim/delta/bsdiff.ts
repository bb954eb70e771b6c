// The bsdiff chunk stream of a detools sequential patch: for each chunk a diff size, the diff
// bytes (new - old, modulo 256), an extra size, the extra bytes and the old-image adjustment, the
// sizes in detools' sign-and-magnitude encoding. A port of detools/bsdiff.c at eerimoq/detools
// 53d1f47 (create_patch_loop, write_diff_extra_and_adjustment, search, matchlen; from bsdiff 4.3,
// Colin Percival, BSD-2-Clause). The output is the uncompressed payload after the data-format
// size; src/delta/detools-sequential.ts describes the format.

import { packSize } from "../../src/delta/detools-sequential.ts";
import { suffixArray } from "./suffix-array.ts";

/** A growable byte buffer. */
export class ByteSink {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  push(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }
  append(bytes: Uint8Array | readonly number[]): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function matchLength(from: Uint8Array, fromPos: number, to: Uint8Array, toPos: number): number {
  const max = Math.min(from.length - fromPos, to.length - toPos);
  let i = 0;
  while (i < max && from[fromPos + i] === to[toPos + i]) i++;
  return i;
}

/** Compares from[fromPos...] with to[toPos...] over the shorter length (memcmp < 0). */
function lessThan(from: Uint8Array, fromPos: number, to: Uint8Array, toPos: number): boolean {
  const max = Math.min(from.length - fromPos, to.length - toPos);
  for (let i = 0; i < max; i++) {
    const d = from[fromPos + i] - to[toPos + i];
    if (d) return d < 0;
  }
  return false;
}

/** The longest match of to[toPos...] among the suffixes of `from`: [length, position]. */
function search(sa: Int32Array, from: Uint8Array, to: Uint8Array, toPos: number, out: Int32Array): number {
  let begin = 0;
  let end = from.length;
  while (end - begin >= 2) {
    const x = begin + ((end - begin) >> 1);
    if (lessThan(from, sa[x], to, toPos)) begin = x;
    else end = x;
  }
  const x = matchLength(from, sa[begin], to, toPos);
  const y = matchLength(from, sa[end], to, toPos);
  if (x > y) {
    out[0] = sa[begin];
    return x;
  }
  out[0] = sa[end];
  return y;
}

/** The chunk stream turning `from` into `to` (without the data-format size). */
export function bsdiffChunks(from: Uint8Array, to: Uint8Array): Uint8Array {
  const out = new ByteSink();
  if (to.length === 0) return out.bytes();
  const sa = suffixArray(from);
  const fromSize = from.length;
  const toSize = to.length;
  const posOut = new Int32Array(1);
  const sizes: number[] = [];
  const appendSize = (v: number): void => {
    sizes.length = 0;
    packSize(v, sizes);
    out.append(sizes);
  };

  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  while (scan < toSize) {
    let fromScore = 0;
    scan += len;
    let scsc = scan;
    for (; scan < toSize; scan++) {
      len = fromSize === 0 ? 0 : search(sa, from, to, scan, posOut);
      pos = posOut[0];
      for (; scsc < scan + len; scsc++) {
        if (scsc + lastOffset < fromSize && from[scsc + lastOffset] === to[scsc]) fromScore++;
      }
      if ((len === fromScore && len !== 0) || len > fromScore + 8) break;
      if (scan + lastOffset < fromSize && from[scan + lastOffset] === to[scan]) fromScore--;
    }
    if (len === fromScore && scan !== toSize) continue;

    // write_diff_extra_and_adjustment
    let s = 0;
    let sf = 0;
    let diffSize = 0;
    for (let i = 0; lastScan + i < scan && lastPos + i < fromSize; ) {
      if (from[lastPos + i] === to[lastScan + i]) s++;
      i++;
      if (s * 2 - i > sf * 2 - diffSize) {
        sf = s;
        diffSize = i;
      }
    }
    let lenb = 0;
    if (scan < toSize) {
      s = 0;
      let sb = 0;
      for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
        if (from[pos - i] === to[scan - i]) s++;
        if (s * 2 - i > sb * 2 - lenb) {
          sb = s;
          lenb = i;
        }
      }
    }
    const overlap = lastScan + diffSize - (scan - lenb);
    if (overlap > 0) {
      s = 0;
      let ss = 0;
      let lens = 0;
      for (let i = 0; i < overlap; i++) {
        if (to[lastScan + diffSize - overlap + i] === from[lastPos + diffSize - overlap + i]) s++;
        if (to[scan - lenb + i] === from[pos - lenb + i]) s--;
        if (s > ss) {
          ss = s;
          lens = i + 1;
        }
      }
      diffSize += lens - overlap;
      lenb -= lens;
    }
    appendSize(diffSize);
    const diff = new Uint8Array(diffSize);
    for (let i = 0; i < diffSize; i++) diff[i] = to[lastScan + i] - from[lastPos + i];
    out.append(diff);
    const extraPos = lastScan + diffSize;
    const extraSize = scan - lenb - extraPos;
    appendSize(extraSize);
    out.append(to.subarray(extraPos, extraPos + extraSize));
    appendSize(pos - lenb - (lastPos + diffSize));
    lastScan = scan - lenb;
    lastPos = pos - lenb;
    lastOffset = pos - scan;
  }
  return out.bytes();
}
