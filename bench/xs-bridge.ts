// XS bridge benchmark: what 1 MiB of OTA work costs inside the real XS engine (xsnap-worker)
// with the Moddable modules served by host-sim, against the pure-JS alternative and the host floor.
// Prints one JSON line.  Run: npx tsx bench/xs-bridge.ts
//
// Figures:
// - bridge.*: erase 256 blocks + 256 x 4 KiB flash writes + MD5 + SHA-256 of the same bytes
//   through the shims (embedded:storage/flash, crypt Digest computed by node:crypto), and the
//   resume-style re-hash (256 x 4 KiB reads + both digests). `compute` is the XS meter over the
//   run: "device" excludes the shims' own JS (they stand in for native code), "raw" includes it.
// - pureJs.*: MD5 + SHA-256 written in JavaScript and run inside XS over the same 1 MiB.
// - encoding.*: 256 x 4 KiB writes from XS to the host with four message encodings (compute
//   of the XS side with its copies metered, wall time including the host's decode).
// - floor: Node copying and hashing the same bytes (node:crypto), the lower bound of host-sim.
// Wall times are medians (and minima) over RUNS runs after a warm-up; they depend heavily on how
// fast the OS hands the CPU between Node and xsnap-worker (one pipe round trip per call:
// ~17 us for a small message on an idle 2-vCPU VM, 40-80 us with a 4 KiB payload or under load).

import { createHash } from "node:crypto";
import { startXsEngine, type XsEngineOptions } from "../host-sim/xs/host.ts";
import { createMemoryServices } from "../host-sim/xs/memory-services.ts";
import { XsWorker } from "../host-sim/xs/worker.ts";

const MiB = 1 << 20;
const BLOCK = 4096;
const BLOCKS = MiB / BLOCK;
const RUNS = Number(process.env.RUNS ?? 3);

/** Fills `chunk` with block n of the deterministic test image (same generator in XS and Node). */
const FILL = `function fill(chunk, n) { let x = (n + 1) >>> 0; for (let i = 0; i < chunk.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; chunk[i] = x >>> 24; } }`;

function image(): Uint8Array {
  const data = new Uint8Array(MiB);
  for (let n = 0; n < BLOCKS; n++) {
    let x = (n + 1) >>> 0;
    for (let i = 0; i < BLOCK; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[n * BLOCK + i] = x >>> 24;
    }
  }
  return data;
}

const BRIDGE_BUNDLE = `(function () {
  const M = globalThis.__moddable;
  const Flash = M.require("embedded:storage/flash").default;
  const { Digest } = M.require("crypt");
  ${FILL}
  // the test image is generated once, outside the measured runs
  const image = [];
  for (let n = 0; n < ${BLOCKS}; n++) { const c = new Uint8Array(${BLOCK}); fill(c, n); image.push(c); }
  globalThis.write = function () {
    const f = Flash.open({ path: "nextota" });
    const md5 = new Digest("MD5"), sha = new Digest("SHA256");
    for (let n = 0; n < ${BLOCKS}; n++) {
      const chunk = image[n];
      f.eraseBlock(n);
      f.write(chunk, n * ${BLOCK});
      md5.write(chunk);
      sha.write(chunk);
    }
    f.close();
    return { md5: new Uint8Array(md5.close()).toHex(), sha256: new Uint8Array(sha.close()).toHex() };
  };
  globalThis.rehash = function () {
    const f = Flash.open({ path: "nextota", mode: "r" });
    const md5 = new Digest("MD5"), sha = new Digest("SHA256");
    const buffer = new Uint8Array(${BLOCK});
    for (let n = 0; n < ${BLOCKS}; n++) {
      f.read(buffer, n * ${BLOCK});
      md5.write(buffer);
      sha.write(buffer);
    }
    return { md5: new Uint8Array(md5.close()).toHex(), sha256: new Uint8Array(sha.close()).toHex() };
  };
  globalThis.main = (what) => (what === "rehash" ? rehash() : write());
})();`;

// Straightforward streaming MD5 (RFC 1321) and SHA-256 (FIPS 180-4) in plain JavaScript.
const PURE_JS = `
const K256 = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
class Sha256 {
  constructor() { this.h = new Int32Array([0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19]); this.w = new Int32Array(64); this.buf = new Uint8Array(64); this.fill = 0; this.length = 0; }
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
  update(data) {
    let o = 0; const n = data.length; this.length += n;
    if (this.fill) { while (o < n && this.fill < 64) this.buf[this.fill++] = data[o++]; if (this.fill === 64) { this.block(this.buf, 0); this.fill = 0; } }
    for (; o + 64 <= n; o += 64) this.block(data, o);
    while (o < n) this.buf[this.fill++] = data[o++];
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
class Md5 {
  constructor() { this.h = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]); this.m = new Int32Array(16); this.buf = new Uint8Array(64); this.fill = 0; this.length = 0; }
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
  update(data) {
    let o = 0; const n = data.length; this.length += n;
    if (this.fill) { while (o < n && this.fill < 64) this.buf[this.fill++] = data[o++]; if (this.fill === 64) { this.block(this.buf, 0); this.fill = 0; } }
    for (; o + 64 <= n; o += 64) this.block(data, o);
    while (o < n) this.buf[this.fill++] = data[o++];
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function bridge(what: "write" | "rehash", extra: Partial<XsEngineOptions>) {
  const services = createMemoryServices({
    partitions: [
      { label: "ota_0", type: "app", size: 2 * MiB },
      { label: "ota_1", type: "app", size: 2 * MiB },
    ],
  });
  const engine = await startXsEngine({ bundleCode: BRIDGE_BUNDLE, services, ...extra });
  if (what === "rehash") await engine.run("write"); // the image to re-hash
  const walls: number[] = [];
  let last;
  for (let i = 0; i < RUNS + 1; i++) {
    const r = await engine.run(what);
    if (r.outcome !== "done") throw new Error(`bridge ${what}: ${JSON.stringify(r.error)}`);
    if (i > 0) walls.push(r.stats.wallMs); // the first run warms up
    last = r;
  }
  await engine.close();
  return { result: last!.value as { md5: string; sha256: string }, stats: last!.stats, wallMs: median(walls), wallMsMin: Math.min(...walls) };
}

async function pureJs() {
  const w = new XsWorker({ timeoutMs: 600_000 });
  await w.evaluate(`${PURE_JS}\n${FILL}\nglobalThis.image = []; for (let n = 0; n < ${BLOCKS}; n++) { const c = new Uint8Array(${BLOCK}); fill(c, n); image.push(c); }`);
  const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");
  const measure = async (what: string) => {
    const walls: number[] = [];
    let r;
    for (let i = 0; i < RUNS; i++) {
      r = await w.evaluate(`{ const d = new ${what}(); for (const c of image) d.update(c); d.digest().buffer; }`);
      walls.push(r.wallMs);
    }
    return { compute: r!.meter.compute, wallMs: round(median(walls)), digest: hex(r!.reply) };
  };
  const md5 = await measure("Md5");
  const sha256 = await measure("Sha256");
  await w.close();
  return { md5, sha256 };
}

async function encodings() {
  // The host decodes each message the way its format needs; XS copies are metered (raw).
  let bytes = 0;
  const w = new XsWorker({
    handleCommand: (req) => {
      if (req[0] === 0x7b /* { */) {
        const m = JSON.parse(Buffer.from(req).toString("utf8"));
        bytes += m.data !== undefined && typeof m.data === "string" ? Buffer.from(m.data, "base64").length : m.data.length;
      } else bytes += req.byteLength - 16;
      return new Uint8Array([3]);
    },
  });
  await w.evaluate(`globalThis.chunk = new Uint8Array(${BLOCK}); for (let i = 0; i < chunk.length; i++) chunk[i] = i * 7;
    globalThis.te = new TextEncoder();`);
  const cases: Record<string, string> = {
    // what the shims do: payload ++ trailer, built with ArrayBuffer slice + transfer (memcpy)
    binaryTrailer: `for (let n = 0; n < ${BLOCKS}; n++) { const b = chunk.buffer.slice(0, ${BLOCK}).transfer(${BLOCK} + 16); const dv = new DataView(b, ${BLOCK}); dv.setUint8(0, 12); dv.setUint32(8, n * ${BLOCK}, true); issueCommand(b); }`,
    // header ++ payload, built with TypedArray set (element-wise copy in XS)
    binaryHeaderSet: `for (let n = 0; n < ${BLOCKS}; n++) { const b = new ArrayBuffer(16 + ${BLOCK}); const dv = new DataView(b); dv.setUint8(0, 12); dv.setUint32(8, n * ${BLOCK}, true); new Uint8Array(b, 16).set(chunk); issueCommand(b); }`,
    jsonBase64: `for (let n = 0; n < ${BLOCKS}; n++) issueCommand(te.encode(JSON.stringify({ op: "write", offset: n * ${BLOCK}, data: Base64.encode(chunk.buffer) })).buffer);`,
    jsonNumberArray: `for (let n = 0; n < ${BLOCKS}; n++) issueCommand(te.encode(JSON.stringify({ op: "write", offset: n * ${BLOCK}, data: Array.from(chunk) })).buffer);`,
  };
  const out: Record<string, { compute: number; wallMs: number; bytesOnPipe: number }> = {};
  for (const [name, code] of Object.entries(cases)) {
    const walls: number[] = [];
    let r;
    for (let i = 0; i < RUNS; i++) {
      bytes = 0;
      const before = w.stats.bytesFromXs;
      r = await w.evaluate(code);
      walls.push(r.wallMs);
      out[name] = { compute: r.meter.compute, wallMs: 0, bytesOnPipe: w.stats.bytesFromXs - before };
      if (bytes !== MiB) throw new Error(`encoding ${name}: host decoded ${bytes} bytes`);
    }
    out[name]!.wallMs = round(median(walls));
  }
  // one empty round trip
  const r = await w.evaluate(`{ const b = new ArrayBuffer(16); for (let i = 0; i < 1000; i++) issueCommand(b); }`);
  await w.close();
  return { ...out, roundTripUs: round((r.wallMs * 1000) / 1000), roundTripCompute: round(r.meter.compute / 1000) };
}

function floor() {
  const data = image();
  const walls: number[] = [];
  let md5 = "";
  let sha256 = "";
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = performance.now();
    const flash = new Uint8Array(2 * MiB).fill(0xff);
    for (let n = 0; n < BLOCKS; n++) flash.set(data.subarray(n * BLOCK, (n + 1) * BLOCK), n * BLOCK);
    md5 = createHash("md5").update(flash.subarray(0, MiB)).digest("hex");
    sha256 = createHash("sha256").update(flash.subarray(0, MiB)).digest("hex");
    if (i) walls.push(performance.now() - t0);
  }
  return { wallMs: round(median(walls), 2), md5, sha256 };
}

const host = floor();
const device = await bridge("write", {});
const raw = await bridge("write", { meterShims: true });
const rehash = await bridge("rehash", {});
const js = await pureJs();
const enc = await encodings();

const ok =
  device.result.md5 === host.md5 &&
  device.result.sha256 === host.sha256 &&
  rehash.result.md5 === host.md5 &&
  rehash.result.sha256 === host.sha256 &&
  js.md5.digest === host.md5 &&
  js.sha256.digest === host.sha256;

process.stdout.write(
  JSON.stringify({
    bench: "xs-bridge",
    mib: 1,
    ok,
    bridge: {
      writeMd5Sha256: {
        computeDevice: device.stats.compute,
        computeRaw: raw.stats.compute,
        wallMs: round(device.wallMs),
        wallMsMin: round(device.wallMsMin),
        hostMs: round(device.stats.hostMs),
        commands: device.stats.commands,
        maxHeapSlots: device.stats.maxHeapCount,
      },
      rehashFromFlash: {
        computeDevice: rehash.stats.compute,
        wallMs: round(rehash.wallMs),
        wallMsMin: round(rehash.wallMsMin),
        commands: rehash.stats.commands,
      },
    },
    pureJs: {
      md5: { compute: js.md5.compute, wallMs: js.md5.wallMs },
      sha256: { compute: js.sha256.compute, wallMs: js.sha256.wallMs },
    },
    encoding4KiBWrites: enc,
    hostFloor: { copyMd5Sha256WallMs: host.wallMs },
    runs: RUNS,
  }) + "\n",
);
if (!ok) process.exitCode = 1;
