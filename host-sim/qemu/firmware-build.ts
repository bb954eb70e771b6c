// Builds the QEMU firmware (firmware/, C for the mps2-an386 Cortex-M4 board) with Debian's
// arm-none-eabi-gcc and newlib: XS from @agoric/xsnap's `moddable/xs/sources` (all 46 files),
// the platform layer in firmware/*.c, and two scripts in ROM: firmware/js/device.js and the
// runtime bundle (dist/host-sim/xs/xs-ota-runtime.js, rebuilt first when stale).
//
//   npm run build:firmware [-- --ram-limit 192K]      (or: tsx host-sim/qemu/firmware-build.ts)
//
// Thumb-2, soft float (-mfloat-abi=soft), -Os. Objects go to dist/firmware/obj (XS objects are
// compiled once), the ELF to dist/firmware/xs-ota-qemu-<RAM KiB>k.elf. The RAM limit is a link-time
// symbol of firmware/mps2-an386.ld, so another budget only relinks. Everything is rebuilt when
// stale (the tests call firmwareElf(), like the XS bundle).

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { XS_RUNTIME_PATH, xsRuntimeBundle } from "../xs/runtime-bundle.ts";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const FIRMWARE = path.join(ROOT, "firmware");
const XS = path.join(ROOT, "node_modules/@agoric/xsnap/moddable/xs");
const OUT = path.join(ROOT, "dist/firmware");
export const CC = "arm-none-eabi-gcc";
export const DEFAULT_RAM_LIMIT = 192 * 1024;

const CFLAGS = [
  "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", "-g0",
  "-ffunction-sections", "-fdata-sections", "-fno-common",
  "-DINCLUDE_XSPLATFORM", `-DXSPLATFORM="cm_xs.h"`, "-DmxParse=1", "-DmxRun=1", "-DmxSloppy=1", "-DmxNoConsole=1",
  "-Wno-misleading-indentation", "-Wno-implicit-fallthrough", "-Wno-incompatible-pointer-types",
  `-I${FIRMWARE}`, `-I${path.join(XS, "includes")}`, `-I${path.join(XS, "platforms")}`, `-I${path.join(XS, "sources")}`,
];

export function elfPath(ramLimit = DEFAULT_RAM_LIMIT): string {
  return path.join(OUT, `xs-ota-qemu-${Math.round(ramLimit / 1024)}k.elf`);
}

function mtime(p: string): number {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}

async function compile(source: string, object: string): Promise<void> {
  if (mtime(object) > Math.max(mtime(source), ...firmwareHeaders())) return;
  mkdirSync(path.dirname(object), { recursive: true });
  await run(CC, [...CFLAGS, "-c", source, "-o", object], { maxBuffer: 16 << 20 });
}

function firmwareHeaders(): number[] {
  return readdirSync(FIRMWARE).filter((f) => f.endsWith(".h")).map((f) => mtime(path.join(FIRMWARE, f)));
}

async function pool<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** Checks that the cross compiler is there; throws a clear error (never a skip) when not. */
export async function checkToolchain(): Promise<void> {
  try {
    await run(CC, ["--version"]);
  } catch {
    throw new Error(
      `${CC} is missing: install Debian's gcc-arm-none-eabi and libnewlib-arm-none-eabi ` +
        `(npm test's preflight does: scripts/system-packages.txt)`,
    );
  }
}

function stale(elf: string): boolean {
  const t = mtime(elf);
  if (!t) return true;
  const sources = readdirSync(FIRMWARE).map((f) => path.join(FIRMWARE, f)).filter((f) => statSync(f).isFile());
  sources.push(path.join(FIRMWARE, "js/device.js"), XS_RUNTIME_PATH, __filename());
  return sources.some((f) => mtime(f) > t);
}

function __filename(): string {
  return fileURLToPath(import.meta.url);
}

let building: Map<number, Promise<string>> = new Map();

/** The firmware ELF for `ramLimit` bytes of RAM, built first when missing or stale. */
export function firmwareElf(ramLimit = DEFAULT_RAM_LIMIT): Promise<string> {
  let p = building.get(ramLimit);
  if (!p) {
    p = locked(ramLimit).catch((e) => {
      building.delete(ramLimit);
      throw e;
    });
    building.set(ramLimit, p);
  }
  return p;
}

async function locked(ramLimit: number): Promise<string> {
  await xsRuntimeBundle(); // rebuilds the bundle when src/ is newer
  const elf = elfPath(ramLimit);
  if (!stale(elf)) return elf;
  await checkToolchain();
  const lock = path.join(OUT, ".build.lock");
  mkdirSync(OUT, { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - mtime(lock);
      if (age > 300_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() - started > 600_000) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  try {
    if (stale(elf)) await build(ramLimit, elf);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return elf;
}

async function build(ramLimit: number, elf: string): Promise<void> {
  const xsSources = readdirSync(path.join(XS, "sources")).filter((f) => f.endsWith(".c")).sort();
  const fwSources = readdirSync(FIRMWARE).filter((f) => f.endsWith(".c")).sort();
  const units = [
    ...xsSources.map((f) => ({ src: path.join(XS, "sources", f), obj: path.join(OUT, "obj/xs", f.replace(/\.c$/, ".o")) })),
    ...fwSources.map((f) => ({ src: path.join(FIRMWARE, f), obj: path.join(OUT, "obj/fw", f.replace(/\.c$/, ".o")) })),
  ];
  // The scripts in ROM, NUL-terminated (xs-host.h).
  const asm = path.join(OUT, "obj/js.S");
  mkdirSync(path.dirname(asm), { recursive: true });
  const blob = (name: string, file: string): string =>
    `  .global ${name}, ${name}_end\n  .balign 4\n${name}:\n  .incbin "${file}"\n${name}_end:\n  .byte 0\n`;
  writeFileSync(asm, `  .section .rodata.js,"a"\n${blob("js_device", path.join(FIRMWARE, "js/device.js"))}${blob("js_bundle", XS_RUNTIME_PATH)}`);
  await pool(units, Math.max(1, Math.min(2, os.cpus().length)), (u) => compile(u.src, u.obj));
  await run(CC, ["-mcpu=cortex-m4", "-mthumb", "-c", asm, "-o", path.join(OUT, "obj/js.o")]);
  await run(CC, [
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", "--specs=rdimon.specs", "-nostartfiles",
    "-Wl,--gc-sections", `-Wl,--defsym=RAM_LIMIT=${ramLimit}`, "-T", path.join(FIRMWARE, "mps2-an386.ld"),
    ...units.map((u) => u.obj), path.join(OUT, "obj/js.o"), "-lm", "-o", elf,
  ], { maxBuffer: 16 << 20 });
}

/** text, data and bss of an ELF (arm-none-eabi-size, Berkeley format). */
export async function elfSizes(elf: string): Promise<{ textBytes: number; dataBytes: number; bssBytes: number }> {
  const { stdout } = await run("arm-none-eabi-size", [elf]);
  const fields = stdout.trim().split("\n")[1].trim().split(/\s+/).map(Number);
  return { textBytes: fields[0], dataBytes: fields[1], bssBytes: fields[2] };
}

if (process.argv[1] && path.resolve(process.argv[1]) === __filename()) {
  const i = process.argv.indexOf("--ram-limit");
  const limit = i > 0 ? parseSize(process.argv[i + 1]) : DEFAULT_RAM_LIMIT;
  const elf = await firmwareElf(limit);
  console.log(`${path.relative(process.cwd(), elf)} ${JSON.stringify(await elfSizes(elf))}`);
}

function parseSize(s: string): number {
  const m = /^(\d+)([kK])?$/.exec(s ?? "");
  if (!m) throw new Error(`--ram-limit: a size in bytes or K, not ${s}`);
  return Number(m[1]) * (m[2] ? 1024 : 1);
}
