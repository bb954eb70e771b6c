// The scripts host-sim's XS engine evaluates (built by rollup, see bundles.ts): the runtime's,
// dist/host-sim/xs/xs-ota-runtime.js (runtime-entry.ts), and a fleet board's,
// dist/host-sim/xs/xs-ota-device.js (runtime-device-entry.ts).
// - From the built package (dist/host-sim/xs/runtime-bundle.js): the file next to this one,
//   written by `npm run build` (prepare).
// - From the sources (tsx: tests, `npx tsx host-sim/...`): the same file, rebuilt first when it is
//   missing or older than the sources it is built from, so tests never run a stale bundle.
//   Concurrent processes (ava runs test files in parallel) build it once, under a lock directory.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const ROOT = FROM_SOURCE ? path.resolve(HERE, "../..") : path.resolve(HERE, "../../..");
type ScriptKind = "runtime" | "device";
const scriptPath = (kind: ScriptKind): string => {
  const name = kind === "runtime" ? "xs-ota-runtime.js" : "xs-ota-device.js";
  return FROM_SOURCE ? path.join(ROOT, "dist/host-sim/xs", name) : path.join(HERE, name);
};
/** Where the runtime script is. */
export const XS_RUNTIME_PATH = scriptPath("runtime");

const cached = new Map<ScriptKind, Promise<string>>();

/** The runtime script's source (built first when running from stale sources). */
export function xsRuntimeBundle(): Promise<string> {
  return xsScript("runtime");
}

/** A fleet board's script (runtime-device-entry.ts), built first like the runtime's. */
export function xsDeviceBundle(): Promise<string> {
  return xsScript("device");
}

function xsScript(kind: ScriptKind): Promise<string> {
  let p = cached.get(kind);
  if (!p) {
    p = load(kind).catch((e) => {
      cached.delete(kind);
      throw e;
    });
    cached.set(kind, p);
  }
  return p;
}

async function load(kind: ScriptKind): Promise<string> {
  const file = scriptPath(kind);
  if (FROM_SOURCE && stale(file)) await rebuild(kind, file);
  if (!existsSync(file)) {
    throw new Error(`the XS ${kind} bundle ${file} is missing: run npm run build (rollup -c)`);
  }
  return readFileSync(file, "utf8");
}

/** Sources of the bundle: src/, the Moddable declarations, tsconfig.moddable.json and the
 * host-sim/xs files the build reads. */
function newestSource(): number {
  let newest = 0;
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(path.join(p, e));
    else if (p.endsWith(".ts")) newest = Math.max(newest, st.mtimeMs);
  };
  visit(path.join(ROOT, "src"));
  visit(path.join(ROOT, "types/moddable"));
  for (const f of ["runtime-entry.ts", "runtime-device-entry.ts", "runtime-power-on.ts", "runtime-device.ts", "runtime-protocol.ts", "moddable-globals.ts", "bundles.ts"]) visit(path.join(ROOT, "host-sim/xs", f));
  newest = Math.max(newest, statSync(path.join(ROOT, "tsconfig.moddable.json")).mtimeMs);
  return newest;
}

function stale(file: string): boolean {
  return !existsSync(file) || statSync(file).mtimeMs < newestSource();
}

async function rebuild(kind: ScriptKind, file: string): Promise<void> {
  const lock = `${file}.lock`;
  mkdirSync(path.dirname(lock), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // Another process builds; a lock older than two minutes is left over from a killed one.
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > 120_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() - started > 180_000) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if (!stale(file)) return;
    const { buildXsScript } = await import("./bundles.ts");
    await buildXsScript(kind, file);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
