// SHA-512 and SHA-384 (FIPS 180-4 §6.4, §6.5) in portable ECMAScript, for the small inputs of
// Ed25519 (RFC 8032 hashes R ‖ A ‖ M) and of MCUboot's SHA-512 KEYHASH. 64-bit words are kept as
// two 32-bit halves (XS has no fast 64-bit integers; BigInt would allocate per operation).
// A platform with a native SHA-384/512 provides it through SignaturePort.createDigest.

import type { Digest, SignaturePort, WideDigestAlgorithm } from "../ports.ts";

/** FIPS 180-4 §4.2.3: the 80 round constants, as [hi, lo] pairs flattened. */
const K = Object.freeze([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc, 0x3956c25b, 0xf348b538,
  0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118, 0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe,
  0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2, 0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235,
  0xc19bf174, 0xcf692694, 0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
  0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5, 0x983e5152, 0xee66dfab,
  0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4, 0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725,
  0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70, 0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed,
  0x53380d13, 0x9d95b3df, 0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
  0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30, 0xd192e819, 0xd6ef5218,
  0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8, 0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53,
  0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8, 0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373,
  0x682e6ff3, 0xd6b2b8a3, 0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
  0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b, 0xca273ece, 0xea26619c,
  0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178, 0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6,
  0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b, 0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc,
  0x431d67c4, 0x9c100d4c, 0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
]);

/** FIPS 180-4 §5.3.5 (SHA-512) and §5.3.4 (SHA-384) initial hash values, [hi, lo] pairs. */
const IV512 = Object.freeze([
  0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
  0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
]);
const IV384 = Object.freeze([
  0xcbbb9d5d, 0xc1059ed8, 0x629a292a, 0x367cd507, 0x9159015a, 0x3070dd17, 0x152fecd8, 0xf70e5939,
  0x67332667, 0xffc00b31, 0x8eb44a87, 0x68581511, 0xdb0c2e0d, 0x64f98fa7, 0x47b5481d, 0xbefa4fa4,
]);

const BLOCK = 128;

/** A streaming SHA-512 (or SHA-384: other IV, output truncated to 48 bytes). */
export class Sha512 implements Digest {
  private readonly h = new Int32Array(16);
  private readonly w = new Int32Array(160);
  private readonly buf = new Uint8Array(BLOCK);
  private fill = 0;
  private total = 0; // bytes; inputs here are far below 2^53
  constructor(private readonly bits: 384 | 512 = 512) {
    this.reset();
  }

  private reset(): void {
    this.h.set(this.bits === 384 ? IV384 : IV512);
    this.fill = 0;
    this.total = 0;
  }

  update(data: Uint8Array): void {
    this.total += data.length;
    let i = 0;
    if (this.fill) {
      const n = Math.min(BLOCK - this.fill, data.length);
      this.buf.set(data.subarray(0, n), this.fill);
      this.fill += n;
      i = n;
      if (this.fill < BLOCK) return;
      this.block(this.buf, 0);
      this.fill = 0;
    }
    for (; i + BLOCK <= data.length; i += BLOCK) this.block(data, i);
    if (i < data.length) {
      this.buf.set(data.subarray(i), 0);
      this.fill = data.length - i;
    }
  }

  finish(): Uint8Array {
    const bitsLo = (this.total * 8) >>> 0;
    const bitsHi = Math.floor(this.total / 0x20000000) >>> 0;
    const pad = new Uint8Array(this.fill < 112 ? 128 - this.fill : 256 - this.fill);
    pad[0] = 0x80;
    const n = pad.length;
    pad[n - 8] = bitsHi >>> 24;
    pad[n - 7] = bitsHi >>> 16;
    pad[n - 6] = bitsHi >>> 8;
    pad[n - 5] = bitsHi;
    pad[n - 4] = bitsLo >>> 24;
    pad[n - 3] = bitsLo >>> 16;
    pad[n - 2] = bitsLo >>> 8;
    pad[n - 1] = bitsLo;
    this.update(pad);
    const out = new Uint8Array(this.bits / 8);
    for (let i = 0; i < out.length; i++) out[i] = this.h[i >> 2] >>> (24 - 8 * (i & 3));
    this.reset();
    return out;
  }

  private block(d: Uint8Array, o: number): void {
    const w = this.w;
    for (let i = 0; i < 32; i++, o += 4) w[i] = (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
    for (let i = 32; i < 160; i += 2) {
      // σ0(w[t-15]) and σ1(w[t-2]) on (hi, lo) pairs
      let xh = w[i - 30], xl = w[i - 29];
      const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
      const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25));
      xh = w[i - 4];
      xl = w[i - 3];
      const s1h = ((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6);
      const s1l = ((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^ ((xl >>> 6) | (xh << 26));
      let lo = (s0l >>> 0) + (s1l >>> 0) + (w[i - 13] >>> 0) + (w[i - 31] >>> 0);
      w[i] = s0h + s1h + w[i - 14] + w[i - 32] + Math.floor(lo / 0x100000000);
      w[i + 1] = lo;
    }
    const h = this.h;
    let ah = h[0], al = h[1], bh = h[2], bl = h[3], ch = h[4], cl = h[5], dh = h[6], dl = h[7];
    let eh = h[8], el = h[9], fh = h[10], fl = h[11], gh = h[12], gl = h[13], hh = h[14], hl = h[15];
    for (let i = 0; i < 160; i += 2) {
      // Σ1(e), Ch(e, f, g), Σ0(a), Maj(a, b, c)
      const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
      const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
      const chh = (eh & fh) ^ (~eh & gh);
      const chl = (el & fl) ^ (~el & gl);
      const t1l = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K[i + 1] >>> 0) + (w[i + 1] >>> 0);
      const t1h = hh + S1h + chh + K[i] + w[i] + Math.floor(t1l / 0x100000000);
      const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
      const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
      const mjh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
      const mjl = (al & bl) ^ (al & cl) ^ (bl & cl);
      const t2l = (S0l >>> 0) + (mjl >>> 0);
      const t2h = S0h + mjh + Math.floor(t2l / 0x100000000);
      hh = gh; hl = gl; gh = fh; gl = fl; fh = eh; fl = el;
      const el2 = (dl >>> 0) + (t1l >>> 0);
      eh = (dh + t1h + Math.floor(el2 / 0x100000000)) | 0;
      el = el2 | 0;
      dh = ch; dl = cl; ch = bh; cl = bl; bh = ah; bl = al;
      const al2 = (t1l >>> 0) + (t2l >>> 0);
      ah = (t1h + t2h + Math.floor(al2 / 0x100000000)) | 0;
      al = al2 | 0;
    }
    const add = (k: number, xh: number, xl: number): void => {
      const lo = (h[k + 1] >>> 0) + (xl >>> 0);
      h[k] = h[k] + xh + Math.floor(lo / 0x100000000);
      h[k + 1] = lo;
    };
    add(0, ah, al); add(2, bh, bl); add(4, ch, cl); add(6, dh, dl);
    add(8, eh, el); add(10, fh, fl); add(12, gh, gl); add(14, hh, hl);
  }
}

/** A SHA-384 or SHA-512 digest: the platform's native one when it has it, else the portable one. */
export function wideDigest(algorithm: WideDigestAlgorithm, port?: SignaturePort): Digest {
  return port?.createDigest?.(algorithm) ?? new Sha512(algorithm === "sha384" ? 384 : 512);
}

/** SHA-512 of one buffer. */
export function sha512(data: Uint8Array, port?: SignaturePort): Uint8Array {
  const d = wideDigest("sha512", port);
  d.update(data);
  return d.finish();
}
