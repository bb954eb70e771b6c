// Pure-JavaScript SHA-256 (FIPS 180-4) and MD5 (RFC 1321), evaluated inside XS by the
// benchmarks to price hashing in JavaScript against the native digests. Defines globalThis.Sha256
// and globalThis.Md5 (update(bytes), digest()).
export const PURE_JS_DIGESTS = `
const K256 = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
class Block64 {
  update(data) {
    let o = 0; const n = data.length; this.length += n;
    if (this.fill) { while (o < n && this.fill < 64) this.buf[this.fill++] = data[o++]; if (this.fill === 64) { this.block(this.buf, 0); this.fill = 0; } }
    for (; o + 64 <= n; o += 64) this.block(data, o);
    while (o < n) this.buf[this.fill++] = data[o++];
  }
}
class Sha256 extends Block64 {
  constructor() { super(); this.h = new Int32Array([0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19]); this.w = new Int32Array(64); this.buf = new Uint8Array(64); this.fill = 0; this.length = 0; }
  block(b, o) {
    const w = this.w, h = this.h;
    for (let i = 0; i < 16; i++, o += 4) w[i] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + bb) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
  }
  digest() {
    const bits = this.length * 8; const pad = new Uint8Array((this.fill < 56 ? 64 : 128) - this.fill);
    pad[0] = 0x80; const l = pad.length;
    const hi = Math.floor(bits / 4294967296), lo = bits >>> 0;
    pad[l - 8] = hi >>> 24; pad[l - 7] = hi >>> 16; pad[l - 6] = hi >>> 8; pad[l - 5] = hi;
    pad[l - 4] = lo >>> 24; pad[l - 3] = lo >>> 16; pad[l - 2] = lo >>> 8; pad[l - 1] = lo;
    this.update(pad);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) { const v = this.h[i]; out[4 * i] = v >>> 24; out[4 * i + 1] = v >>> 16; out[4 * i + 2] = v >>> 8; out[4 * i + 3] = v; }
    return out;
  }
}
const MD5_S = [7,12,17,22,7,12,17,22,7,12,17,22,7,12,17,22,5,9,14,20,5,9,14,20,5,9,14,20,5,9,14,20,4,11,16,23,4,11,16,23,4,11,16,23,4,11,16,23,6,10,15,21,6,10,15,21,6,10,15,21,6,10,15,21];
const MD5_K = new Int32Array(64); for (let i = 0; i < 64; i++) MD5_K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;
class Md5 extends Block64 {
  constructor() { super(); this.h = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]); this.m = new Int32Array(16); this.buf = new Uint8Array(64); this.fill = 0; this.length = 0; }
  block(b, o) {
    const m = this.m, h = this.h;
    for (let i = 0; i < 16; i++, o += 4) m[i] = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
    let a = h[0], bb = h[1], c = h[2], d = h[3];
    for (let i = 0; i < 64; i++) {
      let f, g;
      if (i < 16) { f = (bb & c) | (~bb & d); g = i; }
      else if (i < 32) { f = (d & bb) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { f = bb ^ c ^ d; g = (3 * i + 5) & 15; }
      else { f = c ^ (bb | ~d); g = (7 * i) & 15; }
      const t = d; d = c; c = bb;
      const x = (a + f + MD5_K[i] + m[g]) | 0; const s = MD5_S[i];
      bb = (bb + ((x << s) | (x >>> (32 - s)))) | 0; a = t;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + bb) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  }
  digest() {
    const bits = this.length * 8; const pad = new Uint8Array((this.fill < 56 ? 64 : 128) - this.fill);
    pad[0] = 0x80; const l = pad.length;
    const hi = Math.floor(bits / 4294967296), lo = bits >>> 0;
    for (let i = 0; i < 4; i++) { pad[l - 8 + i] = (lo >>> (8 * i)) & 255; pad[l - 4 + i] = (hi >>> (8 * i)) & 255; }
    this.update(pad);
    const out = new Uint8Array(16);
    for (let i = 0; i < 4; i++) { const v = this.h[i]; out[4 * i] = v; out[4 * i + 1] = v >>> 8; out[4 * i + 2] = v >>> 16; out[4 * i + 3] = v >>> 24; }
    return out;
  }
}
globalThis.Md5 = Md5;
globalThis.Sha256 = Sha256;
`;
