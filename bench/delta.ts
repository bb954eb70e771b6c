// Delta patches for a 1.5 MiB firmware image: creation (host-sim/delta, suffix-array bsdiff +
// heatshrink 8/7) time and peak memory, patch size as a share of the target, and the apply
// inside the real XS engine (xsnap's deterministic compute meter per MiB of target).
// The pair is a synthetic build and its next build with a few functions inserted, deleted and
// edited (host-sim/delta/synthetic-firmware.ts); the MicroPython 1.9.4 -> 1.10 pair from the
// detools vectors gives the real-release ratio (detools' own heatshrink patch: 15.8%).
// `firmware`: the QEMU board's own firmware (firmware/, host-sim/qemu/firmware-build.ts) built at
// two versions (-DFIRMWARE_VERSION "0.1.0" and "0.1.1", the string in its HELLO frame), both ELFs
// made raw binaries with arm-none-eabi-objcopy -O binary, a heatshrink patch between them applied
// with src/delta's applier (host-sim/delta/apply-patch.ts) and checked against the second binary.
// Prints one JSON line. Run: npm run bench:delta

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyPatch } from "../host-sim/delta/apply-patch.ts";
import { createPatch } from "../host-sim/delta/create-patch.ts";
import { XsDelta } from "../host-sim/delta/delta-xs.ts";
import { changed, link, syntheticProgram } from "../host-sim/delta/synthetic-firmware.ts";
import { buildFirmwareVariant } from "../host-sim/qemu/firmware-build.ts";
import { APPLY_STATE_BYTES } from "../src/delta/patch-applier.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/detools/micropython");
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/firmware");
const INSTALL = "sudo apt-get install gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi";
const SIZE = 1.5 * 1024 * 1024;
const ratio = (a: number, b: number) => Math.round((1e4 * a) / b) / 1e4;

/** The firmware at two versions, as raw binaries, a heatshrink patch between them, applied back. */
async function firmwarePair(): Promise<{ imageBytes: number; patchBytes: number; ratio: number; fromBytes: number; createSeconds: number }> {
  const bins: Uint8Array[] = [];
  for (const version of ["0.1.0", "0.1.1"]) {
    const out = path.join(DIST, `bench-delta-${version}`);
    let elf: string;
    try {
      elf = await buildFirmwareVariant(out, [`-DFIRMWARE_VERSION="${version}"`]);
    } catch (e) {
      if (/missing/.test((e as Error).message)) throw new Error(`${(e as Error).message}\nInstall the toolchain: ${INSTALL}`);
      throw e;
    }
    const bin = path.join(out, "firmware.bin");
    try {
      await promisify(execFile)("arm-none-eabi-objcopy", ["-O", "binary", elf, bin]);
    } catch (e) {
      throw new Error(`arm-none-eabi-objcopy failed (${(e as Error).message.trim()}); install it: ${INSTALL}`);
    }
    bins.push(new Uint8Array(readFileSync(bin)));
  }
  const [from, to] = bins;
  if (from.length === to.length && from.every((b, i) => b === to[i])) throw new Error("firmware: the two versions built identical binaries");
  const t0 = performance.now();
  const patch = createPatch(from, to, { compression: "heatshrink" });
  const createSeconds = (performance.now() - t0) / 1000;
  const out = applyPatch(from, patch, { piece: 4096 });
  if (out.length !== to.length || !out.every((b, i) => b === to[i])) throw new Error("firmware: the applied patch gave another binary");
  return { imageBytes: to.length, patchBytes: patch.length, ratio: ratio(patch.length, to.length), fromBytes: from.length, createSeconds: Math.round(createSeconds * 100) / 100 };
}

async function main(): Promise<void> {
  const p = syntheticProgram(SIZE, 2026);
  const old = link(p);
  const nw = link(changed(changed(changed(p, "insert", 1), "delete", 2), "edit", 3));
  const rssBefore = process.resourceUsage().maxRSS / 1024;
  const t0 = performance.now();
  const patch = createPatch(old, nw, { compression: "heatshrink" });
  const createSeconds = (performance.now() - t0) / 1000;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;

  const xs = await XsDelta.start(old, patch);
  let applied;
  try {
    applied = await xs.apply({ piece: 4096, checkpointEvery: 4096 });
  } finally {
    await xs.close();
  }
  if (applied.target.length !== nw.length || !applied.target.every((b, i) => b === nw[i])) throw new Error("XS apply gave another target");

  const mpOld = new Uint8Array(readFileSync(path.join(VECTORS, "esp8266-20180511-v1.9.4.bin")));
  const mpNew = new Uint8Array(readFileSync(path.join(VECTORS, "esp8266-20190125-v1.10.bin")));
  const t1 = performance.now();
  const mpPatch = createPatch(mpOld, mpNew, { compression: "heatshrink" });
  const mpSeconds = (performance.now() - t1) / 1000;
  // After the measurements above: its builds and patch would raise the process's peak RSS.
  const firmware = await firmwarePair();

  console.log(
    JSON.stringify({
      imageBytes: nw.length,
      sizeBytes: nw.length,
      patchBytes: patch.length,
      ratio: ratio(patch.length, nw.length),
      createSeconds: Math.round(createSeconds * 100) / 100,
      peakRssMB: Math.round(peakRssMB),
      rssBeforeCreateMB: Math.round(rssBefore),
      applyStateBytes: APPLY_STATE_BYTES,
      computePerMiBXs: Math.round(applied.compute / (nw.length / 2 ** 20)),
      // xsnap reports no peak: this is the XS slot heap when the apply ended (garbage included).
      // The applier's own buffers are fixed: two 512-byte work buffers, the 256-byte window.
      xsSlotHeapBytesAfter: applied.heapSlotBytes,
      micropython: { imageBytes: mpNew.length, patchBytes: mpPatch.length, ratio: ratio(mpPatch.length, mpNew.length), createSeconds: Math.round(mpSeconds * 100) / 100 },
      firmware,
    }),
  );
}

await main();
