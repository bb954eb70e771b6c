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
import { PURE_JS_DIGESTS } from "./pure-js-digests.ts";

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
  await w.evaluate(`${PURE_JS_DIGESTS}\n${FILL}\nglobalThis.image = []; for (let n = 0; n < ${BLOCKS}; n++) { const c = new Uint8Array(${BLOCK}); fill(c, n); image.push(c); }`);
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
