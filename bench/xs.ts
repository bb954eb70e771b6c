// npm run bench:xs: what a 1 MiB update costs the runtime inside the real XS engine, from xsnap's
// meters. Prints one JSON line:
//   {bytes, computePerMiB, pureJsSha256ComputePerMiB, ratio, idleHeapBytes, peakHeapBytes}
//
// - The update: the runtime bundle (host-sim/xs/runtime-entry.ts, the same one `sim update
//   --engine xs` runs) on a simulated ESP32 board, 1.0.0 -> 2.0.0 of MiB bytes from host-sim's
//   update server, with native digests (crypt Digest computed by node:crypto, as the device
//   computes them in C). One power-on: boot(), then update(): offer check, download, streaming
//   digests, slot writes, journal checkpoints, image verification, staging. System.restart is
//   replaced by a stub so that the run ends normally and its last delivery is counted too.
// - computePerMiB: the XS meter ("computrons") of the runtime's own JavaScript over that power-on
//   per MiB of image; the shims that stand in for the Moddable natives are not metered.
// - pureJsSha256ComputePerMiB: the same meter for SHA-256 written in JavaScript hashing 1 MiB
//   inside XS. ratio = computePerMiB / pureJsSha256ComputePerMiB (goal <= 0.05: the runtime's JS
//   per byte is small next to hashing the byte in JS).
// - idleHeapBytes: live XS slot heap (16-byte slots, after a collection) with the runtime loaded
//   and nothing running; peakHeapBytes: the largest live slot heap after a collection at the end
//   of any delivery of the update (XsEngineOptions.liveHeap). Goal: peak - idle <= 32 KiB. The
//   meter counts slots (objects, properties, closures, small values); ArrayBuffer contents live
//   in XS chunks, which xsnap does not report (the runtime's long-lived buffers are listed on
//   stderr).
// Benchmarks never assert: the goals are printed on stderr for the reader.

import { createHash } from "node:crypto";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { HttpMeter } from "../host-sim/http-meter.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { UpdateServer } from "../host-sim/server.ts";
import { boardServices } from "../host-sim/xs/board-services.ts";
import { startXsEngine } from "../host-sim/xs/host.ts";
import { xsRuntimeBundle } from "../host-sim/xs/runtime-bundle.ts";
import type { RuntimeArgs, RuntimeResult } from "../host-sim/xs/runtime-protocol.ts";
import { XsWorker } from "../host-sim/xs/worker.ts";

const MiB = 1 << 20;
const SLOT = 16;
const SIZE = Number(process.env.SIZE ?? MiB);

async function update() {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const image = buildTestImage({ version: "2.0.0", size: SIZE, build: 1 });
  const server = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: image } }, {});
  await server.listen();
  const meter = new HttpMeter();
  const trace: string[] = [];
  const engine = await startXsEngine({
    bundleCode: await xsRuntimeBundle(),
    services: boardServices(board, { network: nodeHttp, wrap: (port) => meter.wrap(port) }),
    name: "xs-ota-bench",
    liveHeap: true,
    onTrace: (t) => trace.push(t),
  });
  try {
    const boot = board.boot();
    await engine.evaluate(`globalThis.System = { restart() { globalThis.restarts = (globalThis.restarts | 0) + 1; } };`);
    const idleSlots = await engine.liveHeapCount();
    const args: RuntimeArgs = {
      layout: board.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
      runningSlot: boot.slot,
      offer: server.offer(),
      toVersion: "2.0.0",
      battery: 90,
      download: { stallMs: 5000, backoffMs: 20, backoffMaxMs: 200 },
    };
    const r = await engine.run(args);
    const value = r.value as RuntimeResult | undefined;
    if (r.outcome !== "done" || !value?.update?.ok) {
      throw new Error(`the update did not complete: ${r.outcome} ${JSON.stringify(r.error ?? value)}\n${trace.join("")}`);
    }
    return { stats: r.stats, idleSlots, bytes: meter.received, update: value.update };
  } finally {
    await engine.close();
    await server.close();
    board.flash.close();
  }
}

// Straightforward streaming SHA-256 (FIPS 180-4) in plain JavaScript.
const SHA256_JS = `
const K = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
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
    let a = h[0], b1 = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b1; b1 = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b1) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
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
globalThis.Sha256 = Sha256;
`;

/** Compute of SHA-256 in JS over 1 MiB (256 chunks of 4 KiB, filled outside the measured operation). */
async function pureJsSha256(): Promise<number> {
  const w = new XsWorker({ timeoutMs: 600_000, name: "xs-ota-bench-sha" });
  try {
    await w.evaluate(`${SHA256_JS}
      globalThis.chunks = [];
      let x = 1;
      for (let n = 0; n < 256; n++) { const c = new Uint8Array(4096); for (let i = 0; i < 4096; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; c[i] = x >>> 24; } chunks.push(c); }`);
    const r = await w.evaluate(`{ const d = new Sha256(); for (const c of chunks) d.update(c); d.digest().buffer; }`);
    // the same bytes in Node
    const data = new Uint8Array(MiB);
    let x = 1;
    for (let i = 0; i < MiB; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    const want = createHash("sha256").update(data).digest("hex");
    const got = Buffer.from(r.reply).toString("hex");
    if (got !== want) throw new Error(`pure-JS SHA-256 is wrong: ${got} != ${want}`);
    return r.meter.compute;
  } finally {
    await w.close();
  }
}

const u = await update();
const pure = await pureJsSha256();
const computePerMiB = Math.round((u.stats.compute * MiB) / u.bytes);
const result = {
  bytes: u.bytes,
  computePerMiB,
  pureJsSha256ComputePerMiB: pure,
  ratio: Math.round((computePerMiB / pure) * 10_000) / 10_000,
  idleHeapBytes: u.idleSlots * SLOT,
  peakHeapBytes: u.stats.maxLiveHeapCount * SLOT,
};
console.log(JSON.stringify(result));
const above = result.peakHeapBytes - result.idleHeapBytes;
process.stderr.write(
  `goals: ratio ${result.ratio} <= 0.05 ${result.ratio <= 0.05 ? "met" : "MISSED"}; ` +
    `peak heap ${(above / 1024).toFixed(1)} KiB above idle <= 32 KiB ${above <= 32 * 1024 ? "met" : "MISSED"}\n` +
    `run: ${u.stats.deliveries} deliveries, ${u.stats.commands} native calls, ${Math.round(u.stats.wallMs)} ms wall, ` +
    `flash ${u.stats.flashBytesWritten} bytes written / ${u.stats.flashBytesRead} read, ${u.stats.digestBytes} bytes digested natively\n` +
    `(slot heap only: ArrayBuffer contents are in XS chunks, which xsnap does not meter)\n`,
);
