// Small byte helpers. Portable ECMAScript (no Buffer, no TextEncoder): runs on XS.

const HEX = "0123456789abcdef";

/** Lower-case hex, two digits per byte. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return s;
}

/** Parses hex (either case). Throws on odd length or a non-hex character. */
export function fromHex(str: string): Uint8Array {
  if (str.length % 2) throw new RangeError("hex string has odd length");
  const out = new Uint8Array(str.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(str.charCodeAt(2 * i));
    const lo = hexDigit(str.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new RangeError(`bad hex at ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Whether every character of `str` is a hex digit (either case); true for "". */
export function isHex(str: string): boolean {
  for (let i = 0; i < str.length; i++) if (hexDigit(str.charCodeAt(i)) < 0) return false;
  return true;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** ASCII bytes of `str`. Throws RangeError on a character above 0x7F. */
export function asciiEncode(str: string): Uint8Array {
  const out = new Uint8Array(str.length);
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`non-ASCII character at ${i}`);
    out[i] = c;
  }
  return out;
}

/** Decodes bytes as single-byte characters up to (not including) the first NUL. */
export function asciiDecodeZ(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Arrays shorter than this are compared or folded byte by byte (no views made). */
const WORDWISE_MIN = 64;

/** Views `n` 32-bit words at the start of `b`, or undefined when it does not start on a 4-byte
 * boundary of its buffer. */
function words(b: Uint8Array, n: number): Int32Array | undefined {
  return (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, n) : undefined;
}

/** Whether `a` and `b` hold the same bytes. Compares 32-bit words, four at a time, when both are
 * 4-byte aligned: XS interprets every loop iteration, so a byte loop over a flash read-back cost
 * 25 meter units per byte; this costs about 4. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  const length = a.length;
  if (length !== b.length) return false;
  let i = 0;
  if (length >= WORDWISE_MIN) {
    const n = length >> 2;
    const wa = words(a, n);
    const wb = wa && words(b, n);
    if (wa && wb) {
      let k = 0;
      for (const end = n & ~3; k < end; k += 4) {
        if ((wa[k] ^ wb[k]) | (wa[k + 1] ^ wb[k + 1]) | (wa[k + 2] ^ wb[k + 2]) | (wa[k + 3] ^ wb[k + 3])) return false;
      }
      for (; k < n; k++) if (wa[k] !== wb[k]) return false;
      i = n << 2;
    }
  }
  for (; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `seed` XORed with every byte of `data` (a byte). Word-wise when `data` is 4-byte aligned: the
 * XOR of the words folded to a byte is the XOR of the bytes. */
export function xorBytes(data: Uint8Array, seed: number): number {
  const length = data.length;
  let x = seed & 0xff;
  let i = 0;
  if (length >= WORDWISE_MIN) {
    const n = length >> 2;
    const w = words(data, n);
    if (w) {
      let acc = 0;
      let k = 0;
      for (const end = n & ~7; k < end; k += 8) acc ^= w[k] ^ w[k + 1] ^ w[k + 2] ^ w[k + 3] ^ w[k + 4] ^ w[k + 5] ^ w[k + 6] ^ w[k + 7];
      for (; k < n; k++) acc ^= w[k];
      acc ^= acc >>> 16;
      acc ^= acc >>> 8;
      x ^= acc & 0xff;
      i = n << 2;
    }
  }
  for (; i < length; i++) x ^= data[i];
  return x;
}

export function readU16LE(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}

export function readU32LE(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

export function writeU16LE(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function writeU32LE(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
