// npm run bench:qemu: the runtime bundle in XS on the emulated Cortex-M4 (engine "qemu",
// firmware/ on QEMU mps2-an386). Prints one JSON line:
//   {textBytes, dataBytes, bssBytes, heapLimitBytes, peakHeapBytes, minHeapThatCompletesBytes,
//    instructionsPerMiB, secondsPerMiB, digestsInstructionsPerMiB, runtimeInstructionsPerMiB}
//
// - textBytes / dataBytes / bssBytes: the firmware ELF (arm-none-eabi-size -A): text is the code
//   memory (code, read-only data and the precompiled scripts of firmware/xsb.h), data is what is
//   copied into RAM at reset, bss the zeroed RAM.
// - heapLimitBytes: the default RAM budget (RAM_LIMIT, the C stack included); peakHeapBytes: the
//   largest malloc arena plus C stack used by a power-on of the default 1 MiB update.
// - minHeapThatCompletesBytes: the smallest RAM budget (8 KiB steps) with which that update
//   completes (below it the firmware stops with "RAM budget exceeded").
// - instructionsPerMiB: instructions executed per MiB of image over the whole update (both
//   power-ons), from QEMU's deterministic count (-icount shift=0: 1 ns of virtual time per
//   instruction), without the time spent waiting for the host (WFI, UART answers); measured as
//   the difference between a 1 MiB and a 64 KiB update, so the boots' fixed cost drops out.
// - digestsInstructionsPerMiB: SHA-256 + MD5 + CRC-32 in C over 1 MiB of flash (firmware
//   natives.c benchDigests, no JavaScript). runtimeInstructionsPerMiB = the difference: the
//   runtime's own cost per byte (JS, flash writes, the link).
// - secondsPerMiB: wall seconds per MiB the same way, without -icount (this machine).
// Benchmarks never assert.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { simUpdate } from "../host-sim/sim-update.ts";
import { DEFAULT_RAM_LIMIT, elfPath, firmwareElf } from "../host-sim/qemu/firmware-build.ts";
import { QemuBoardEngine, type QemuStats } from "../host-sim/qemu/sim-engine.ts";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SMALL = 64 * 1024;

async function sections(elf: string): Promise<{ textBytes: number; dataBytes: number; bssBytes: number }> {
  const { stdout } = await run("arm-none-eabi-size", ["-A", elf]);
  const size: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(\.\S+)\s+(\d+)\s+\d+/.exec(line);
    if (m) size[m[1]] = Number(m[2]);
  }
  return {
    textBytes: (size[".text"] ?? 0) + (size[".xsb"] ?? 0) + (size[".ARM.exidx"] ?? 0),
    dataBytes: size[".data"] ?? 0,
    bssBytes: size[".bss"] ?? 0,
  };
}

interface Run {
  ok: boolean;
  seconds: number;
  stats: QemuStats[];
}

async function update(size: number, o: { ramLimit?: number; icount?: number } = {}): Promise<Run> {
  const stats: QemuStats[] = [];
  const t0 = performance.now();
  try {
    const r = await simUpdate({ engine: "qemu", size, qemu: { ...o, onStats: (s) => stats.push(s) } });
    return { ok: r.ok && r.bootedVersion === "2.0.0", seconds: (performance.now() - t0) / 1000, stats };
  } catch (e) {
    if (e instanceof Error && /RAM budget exceeded/.test(e.message)) return { ok: false, seconds: 0, stats };
    throw e;
  }
}

const busyInstructions = (r: Run): number => r.stats.reduce((sum, s) => sum + (s.us - s.idleUs) * 1000, 0);

async function digestsAlone(): Promise<number> {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SMALL }));
  const slot = board.entries.find((e) => e.label === "ota_1")!;
  let us = 0;
  const engine = await QemuBoardEngine.start(board, { network: nodeHttp }, () => undefined, {
    icount: 0,
    bench: { digests: { address: slot.address, length: MiB } },
  });
  try {
    const boot = board.boot();
    const layout = board.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size }));
    const r = await engine.powerOn({ layout, runningSlot: boot.slot } as never);
    if (r.outcome !== "done") throw new Error(`digest bench: ${r.outcome} ${r.error?.message ?? ""}`);
    us = (r.value as { digestsUs: number }).digestsUs;
  } finally {
    await engine.close();
  }
  return us * 1000;
}

async function minimumRam(hi: number): Promise<number> {
  const step = 8 * 1024;
  let lo = 128 * 1024; // known to fail: the machine alone needs about 100 KiB
  let best = hi;
  while (hi - lo > step) {
    const mid = Math.round((lo + hi) / 2 / step) * step;
    await firmwareElf(mid);
    if ((await update(MiB, { ramLimit: mid })).ok) {
      best = mid;
      hi = mid;
    } else lo = mid;
  }
  return best;
}

const elf = await firmwareElf(DEFAULT_RAM_LIMIT);
const sizes = await sections(elf);
const full = await update(MiB);
const small = await update(SMALL);
const peakHeapBytes = Math.max(...full.stats.map((s) => s.peakArena + s.peakStack));
const fullCount = await update(MiB, { icount: 0 });
const smallCount = await update(SMALL, { icount: 0 });
const fraction = (MiB - SMALL) / MiB;
const instructionsPerMiB = Math.round((busyInstructions(fullCount) - busyInstructions(smallCount)) / fraction);
const digestsInstructionsPerMiB = Math.round(await digestsAlone());
const minHeapThatCompletesBytes = await minimumRam(DEFAULT_RAM_LIMIT);
console.error(`bench:qemu: ${elfPath(DEFAULT_RAM_LIMIT)}; the update ${full.ok ? "completed" : "FAILED"} at the default budget`);
console.log(
  JSON.stringify({
    ...sizes,
    heapLimitBytes: DEFAULT_RAM_LIMIT,
    peakHeapBytes,
    minHeapThatCompletesBytes,
    instructionsPerMiB,
    secondsPerMiB: Number(((full.seconds - small.seconds) / fraction).toFixed(2)),
    digestsInstructionsPerMiB,
    runtimeInstructionsPerMiB: instructionsPerMiB - digestsInstructionsPerMiB,
  }),
);
