// Builds the QEMU firmware (firmware/, C for the mps2-an386 Cortex-M4 board) with Debian's
// arm-none-eabi-gcc and newlib: XS from @agoric/xsnap's `moddable/xs/sources` (all 46 files),
// the platform layer in firmware/*.c, and two precompiled scripts in the code memory:
// firmware/js/device.js and the runtime bundle (dist/host-sim/xs/xs-ota-runtime.js, rebuilt first
// when stale). The scripts are compiled on this machine by firmware/tools/xs-compile.c, built with
// the host's C compiler (`cc`) from the same XS sources, into the format of firmware/xsb.h: the
// device does not parse JavaScript at boot (the XS parser needs about 2 MB for the bundle).
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

const exec = promisify(execFile);
/** Runs a tool; a failure is an Error with the command and its stderr (not the whole object). */
async function run(file: string, args: string[], options: { maxBuffer?: number } = {}): Promise<{ stdout: string }> {
  try {
    const { stdout } = await exec(file, args, { maxBuffer: 16 << 20, ...options });
    return { stdout: String(stdout) };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`firmware build: ${path.basename(file)} failed: ${(err.stderr || err.message).trim()}`);
  }
}
const HERE = path.dirname(fileURLToPath(import.meta.url));
// From the sources (tsx) this file is host-sim/qemu/; built, it is dist/host-sim/qemu/.
const ROOT = path.resolve(HERE, import.meta.url.endsWith(".ts") ? "../.." : "../../..");
const FIRMWARE = path.join(ROOT, "firmware");
const XS = path.join(ROOT, "node_modules/@agoric/xsnap/moddable/xs");
const OUT = path.join(ROOT, "dist/firmware");
export const CC = "arm-none-eabi-gcc";
const HOST_CC = process.env.CC ?? "cc";
export const DEFAULT_RAM_LIMIT = 384 * 1024;

const CFLAGS = [
  "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", "-g0",
  "-ffunction-sections", "-fdata-sections", "-fno-common",
  "-DINCLUDE_XSPLATFORM", `-DXSPLATFORM="cm_xs.h"`, "-DmxParse=1", "-DmxRun=1", "-DmxSloppy=1", "-DmxNoConsole=1",
  "-Wno-misleading-indentation", "-Wno-implicit-fallthrough", "-Wno-incompatible-pointer-types",
  `-I${FIRMWARE}`, `-I${path.join(XS, "includes")}`, `-I${path.join(XS, "platforms")}`, `-I${path.join(XS, "sources")}`,
];

export type FirmwareBoard = "mps2-an386" | "stm32f4";

export function elfPath(ramLimit = DEFAULT_RAM_LIMIT, board: FirmwareBoard = "mps2-an386"): string {
  return path.join(OUT, board === "stm32f4" ? "xs-ota-stm32f4.elf" : `xs-ota-qemu-${Math.round(ramLimit / 1024)}k.elf`);
}

function mtime(p: string): number {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}

async function compile(source: string, object: string, host = false, board: FirmwareBoard = "mps2-an386", defines: string[] = []): Promise<void> {
  if (mtime(object) > Math.max(mtime(source), ...firmwareHeaders())) return;
  mkdirSync(path.dirname(object), { recursive: true });
  const flags = host ? ["-O1", "-w", ...CFLAGS.filter((f) => f.startsWith("-D") || f.startsWith("-I"))] : [...CFLAGS];
  if (board === "stm32f4") flags.push("-DBOARD_STM32F4");
  if (!host) flags.push(...defines);
  await run(host ? HOST_CC : CC, [...flags, "-c", source, "-o", object], { maxBuffer: 16 << 20 });
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
  const hint = "(npm test's preflight installs them: scripts/system-packages.txt)";
  try {
    await run(CC, ["--version"]);
  } catch {
    throw new Error(`${CC} is missing: install Debian's gcc-arm-none-eabi and libnewlib-arm-none-eabi ${hint}`);
  }
  const specs = (await run(CC, ["-print-file-name=rdimon.specs"])).stdout.trim();
  if (!path.isAbsolute(specs)) throw new Error(`newlib for ${CC} is missing: install Debian's libnewlib-arm-none-eabi ${hint}`);
}

function stale(elf: string): boolean {
  const t = mtime(elf);
  if (!t) return true;
  const sources = readdirSync(FIRMWARE).map((f) => path.join(FIRMWARE, f)).filter((f) => statSync(f).isFile());
  sources.push(path.join(FIRMWARE, "js/device.js"), path.join(FIRMWARE, "tools/xs-compile.c"), XS_RUNTIME_PATH, __filename());
  return sources.some((f) => mtime(f) > t);
}

function __filename(): string {
  return fileURLToPath(import.meta.url);
}

const building = new Map<string, Promise<string>>();

/** The firmware ELF for `ramLimit` bytes of RAM, built first when missing or stale. Board
 * "stm32f4" is the build retargeted to Renode's STM32F4 (renode/; not runnable here). */
export function firmwareElf(ramLimit = DEFAULT_RAM_LIMIT, board: FirmwareBoard = "mps2-an386"): Promise<string> {
  const key = `${board}:${ramLimit}`;
  let p = building.get(key);
  if (!p) {
    p = locked(ramLimit, board).catch((e) => {
      building.delete(key);
      throw e;
    });
    building.set(key, p);
  }
  return p;
}

async function locked(ramLimit: number, board: FirmwareBoard): Promise<string> {
  await xsRuntimeBundle(); // rebuilds the bundle when src/ is newer
  const elf = elfPath(ramLimit, board);
  if (!stale(elf)) return elf;
  await checkToolchain();
  await withBuildLock(async () => {
    if (stale(elf)) await build(ramLimit, elf, board);
  });
  return elf;
}

/** Builds the mps2-an386 firmware into `outDir` (its own firmware objects and ELF, always
 * recompiled) with extra compiler flags, e.g. `-DFIRMWARE_VERSION="0.1.1"` (firmware/main.c);
 * the XS objects and the precompiled scripts are shared with the default build in dist/firmware.
 * Returns the ELF's path. bench/delta.ts builds two versions and patches one into the other. */
export async function buildFirmwareVariant(outDir: string, defines: string[], ramLimit = DEFAULT_RAM_LIMIT): Promise<string> {
  await xsRuntimeBundle();
  await checkToolchain();
  const elf = path.join(outDir, `xs-ota-qemu-${Math.round(ramLimit / 1024)}k.elf`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await withBuildLock(() => build(ramLimit, elf, "mps2-an386", { fwObj: path.join(outDir, "obj/fw"), defines }));
  return elf;
}

async function withBuildLock(work: () => Promise<void>): Promise<void> {
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
    await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function build(ramLimit: number, elf: string, board: FirmwareBoard, variant?: { fwObj: string; defines: string[] }): Promise<void> {
  const stm32 = board === "stm32f4";
  const xsSources = readdirSync(path.join(XS, "sources")).filter((f) => f.endsWith(".c")).sort();
  const fwSources = readdirSync(FIRMWARE).filter((f) => f.endsWith(".c")).sort();
  const units: { src: string; obj: string; board?: FirmwareBoard }[] = [
    ...xsSources.map((f) => ({ src: path.join(XS, "sources", f), obj: path.join(OUT, "obj/xs", f.replace(/\.c$/, ".o")) })),
    ...fwSources.map((f) => ({ src: path.join(FIRMWARE, f), obj: path.join(variant?.fwObj ?? path.join(OUT, stm32 ? "obj/fw-stm32f4" : "obj/fw"), f.replace(/\.c$/, ".o")), board })),
  ];
  const jobs = Math.max(1, Math.min(2, os.cpus().length));
  // The build-host compiler of scripts (firmware/tools/xs-compile.c) and the two scripts.
  const hostUnits = [
    ...xsSources.map((f) => ({ src: path.join(XS, "sources", f), obj: path.join(OUT, "host-obj", f.replace(/\.c$/, ".o")) })),
    { src: path.join(FIRMWARE, "tools/xs-compile.c"), obj: path.join(OUT, "host-obj/xs-compile.o") },
  ];
  await pool(hostUnits, jobs, (u) => compile(u.src, u.obj, true));
  const compiler = path.join(OUT, "xs-compile");
  await run(HOST_CC, [...hostUnits.map((u) => u.obj), "-lm", "-o", compiler]);
  const deviceXsb = path.join(OUT, "obj/device.xsb");
  const bundleXsb = path.join(OUT, "obj/xs-ota-runtime.xsb");
  mkdirSync(path.dirname(deviceXsb), { recursive: true });
  await run(compiler, [path.join(FIRMWARE, "js/device.js"), deviceXsb]);
  await run(compiler, [XS_RUNTIME_PATH, bundleXsb]);
  // The precompiled scripts in the code memory, word-aligned (xs-host.h).
  const asm = path.join(OUT, "obj/js.S");
  const blob = (name: string, file: string): string => `  .global ${name}\n  .balign 4\n${name}:\n  .incbin "${file}"\n`;
  writeFileSync(asm, `  .section .xsb,"aw"\n${blob("xsb_device", deviceXsb)}${blob("xsb_bundle", bundleXsb)}`);
  await pool(units, jobs, (u) => compile(u.src, u.obj, false, u.board, variant?.defines));
  await run(CC, ["-mcpu=cortex-m4", "-mthumb", "-c", asm, "-o", path.join(OUT, "obj/js.o")]);
  await run(CC, [
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", stm32 ? "--specs=nosys.specs" : "--specs=rdimon.specs", "-nostartfiles",
    "-Wl,--gc-sections", `-Wl,--defsym=RAM_LIMIT=${ramLimit}`, "-T", path.join(FIRMWARE, stm32 ? "stm32f4.ld" : "mps2-an386.ld"),
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
  const b = process.argv.indexOf("--board");
  const board = (b > 0 ? process.argv[b + 1] : "mps2-an386") as FirmwareBoard;
  if (board !== "mps2-an386" && board !== "stm32f4") throw new Error(`--board: mps2-an386 or stm32f4, not ${board}`);
  const elf = await firmwareElf(limit, board);
  console.log(`${path.relative(process.cwd(), elf)} ${JSON.stringify(await elfSizes(elf))}`);
}

function parseSize(s: string): number {
  const m = /^(\d+)([kK])?$/.exec(s ?? "");
  if (!m) throw new Error(`--ram-limit: a size in bytes or K, not ${s}`);
  return Number(m[1]) * (m[2] ? 1024 : 1);
}
