// npm run bench:xs: what a 1 MiB update costs the runtime inside the real XS engine, from xsnap's
// meters. Prints one JSON line:
//   {bytes, computePerMiB, pureJsSha256ComputePerMiB, ratio, idleHeapBytes, peakHeapBytes, signatures}
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
// - signatures: compute and heap of one verification of each kind on the device's ports
//   (ECDSA P-256 and RSA-3072-PSS through the Moddable SignaturePort, Ed25519 portable), from
//   bench/signatures-xs.ts (see there).
// - dualBank: the same power-on on the STM32 dual-bank board (stm32l4-dualbank-1mb, DUAL_SIZE
//   bytes, 384 KiB by default: a bank holds 508 KiB): an MCUboot-format image whose SHA-256 TLV
//   and Ed25519 signature (portable TypeScript in XS) the runtime checks before it flips the bank;
//   its compute per MiB and peak heap, as above.
// - mcuboot: the same power-on on the MCUboot board (stm32f4-1mb, MCUBOOT_SIZE bytes, 320 KiB by
//   default: the secondary slot holds 393,120 bytes below its trailer), the image staged with
//   boot_set_pending; its compute per MiB and peak heap, as above.
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
import { PURE_JS_DIGESTS } from "./pure-js-digests.ts";
import { signatureFigures } from "./signatures-xs.ts";
import { LayoutBoard, type LayoutProfile } from "../host-sim/layout-board.ts";
import { boardProfile } from "../host-sim/boards/profiles.ts";
import { buildStm32Image } from "../host-sim/stm32-images.ts";

const MiB = 1 << 20;
const SLOT = 16;
const SIZE = Number(process.env.SIZE ?? MiB);

/** One power-on of `board` in XS: boot(), then update() of `image` served as 2.0.0; `extra` adds
 * the runtime arguments a board needs beyond the partition layout (target, geometry). */
async function measureUpdate(board: SimBoard | LayoutBoard, image: Uint8Array, name: string, extra: Partial<RuntimeArgs> = {}) {
  const server = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: image } }, {});
  await server.listen();
  const meter = new HttpMeter();
  const trace: string[] = [];
  const engine = await startXsEngine({
    bundleCode: await xsRuntimeBundle(),
    services: boardServices(board, { network: nodeHttp, wrap: (port) => meter.wrap(port) }),
    name,
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
      ...extra,
    };
    const r = await engine.run(args);
    const value = r.value as RuntimeResult | undefined;
    if (r.outcome !== "done" || !value?.update?.ok) {
      throw new Error(`the ${name} update did not complete: ${r.outcome} ${JSON.stringify(r.error ?? value)}\n${trace.join("")}`);
    }
    return { stats: r.stats, idleSlots, bytes: meter.received };
  } finally {
    await engine.close();
    await server.close();
    board.flash.close();
  }
}

async function update() {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  return measureUpdate(board, buildTestImage({ version: "2.0.0", size: SIZE, build: 1 }), "xs-ota-bench");
}

const DUAL_SIZE = Number(process.env.DUAL_SIZE ?? 384 * 1024);
/** The MCUboot board's secondary slot holds 393,120 bytes below its trailer: 320 KiB fits. */
const MCUBOOT_SIZE = Number(process.env.MCUBOOT_SIZE ?? 320 * 1024);

/** One power-on of an STM32 board in XS: boot(), then update() of a signed image (the dual-bank
 * board's bank image, or the MCUboot board's image into its secondary slot; the MCUboot swap and
 * confirm happen at the next power-on, not measured here). */
async function layoutUpdate(name: "stm32l4-dualbank-1mb" | "stm32f4-1mb", size: number) {
  const format = name === "stm32f4-1mb" ? "mcuboot" : "bank";
  const board = LayoutBoard.create(boardProfile(name) as LayoutProfile, buildStm32Image({ format, version: "1.0.0", size: 64 * 1024 }));
  const extra: Partial<RuntimeArgs> = { target: board.runtimeTarget(), writeAlign: board.profile.writeAlign };
  if (board.sectorMap) extra.sectorMap = board.sectorMap;
  return measureUpdate(board, buildStm32Image({ format, version: "2.0.0", size, build: 1 }), `xs-ota-bench-${name}`, extra);
}

/** Compute of SHA-256 in JS over 1 MiB (256 chunks of 4 KiB, filled outside the measured operation). */
async function pureJsSha256(): Promise<number> {
  const w = new XsWorker({ timeoutMs: 600_000, name: "xs-ota-bench-sha" });
  try {
    await w.evaluate(`${PURE_JS_DIGESTS}
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
const signatures = await signatureFigures();
const d = await layoutUpdate("stm32l4-dualbank-1mb", DUAL_SIZE);
const m = await layoutUpdate("stm32f4-1mb", MCUBOOT_SIZE);
const computePerMiB = Math.round((u.stats.compute * MiB) / u.bytes);
const result = {
  bytes: u.bytes,
  computePerMiB,
  pureJsSha256ComputePerMiB: pure,
  ratio: Math.round((computePerMiB / pure) * 10_000) / 10_000,
  idleHeapBytes: u.idleSlots * SLOT,
  peakHeapBytes: u.stats.maxLiveHeapCount * SLOT,
  signatures,
  dualBank: {
    bytes: d.bytes,
    computePerMiB: Math.round((d.stats.compute * MiB) / d.bytes),
    idleHeapBytes: d.idleSlots * SLOT,
    peakHeapBytes: d.stats.maxLiveHeapCount * SLOT,
  },
  mcuboot: {
    bytes: m.bytes,
    computePerMiB: Math.round((m.stats.compute * MiB) / m.bytes),
    idleHeapBytes: m.idleSlots * SLOT,
    peakHeapBytes: m.stats.maxLiveHeapCount * SLOT,
  },
};
console.log(JSON.stringify(result));
const above = result.peakHeapBytes - result.idleHeapBytes;
process.stderr.write(
  `goals: ratio ${result.ratio} <= 0.05 ${result.ratio <= 0.05 ? "met" : "MISSED"}; ` +
    `peak heap ${(above / 1024).toFixed(1)} KiB above idle <= 32 KiB ${above <= 32 * 1024 ? "met" : "MISSED"}\n` +
    `run: ${u.stats.deliveries} deliveries, ${u.stats.commands + u.stats.posted} native calls (${u.stats.posted} posted), ${Math.round(u.stats.wallMs)} ms wall, ` +
    `flash ${u.stats.flashBytesWritten} bytes written / ${u.stats.flashBytesRead} read, ${u.stats.digestBytes} bytes digested natively\n` +
    `(slot heap only: ArrayBuffer contents are in XS chunks, which xsnap does not meter)\n`,
);
