// The CLI tests run bin/xs-ota.js, which imports the compiled host shim in dist/. It is compiled
// again here (tsc -p tsconfig.build.json) when it is missing or older than src/ or host-sim/, its
// assets are copied (scripts/copy-assets.mjs), and
// the XS runtime bundle is rebuilt when stale, so the tests never run a stale CLI.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { xsRuntimeBundle } from "../../host-sim/xs/runtime-bundle.ts";
// @ts-expect-error: a plain ES module without declarations
import { copyAssets } from "../../scripts/copy-assets.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI_JS = path.join(ROOT, "dist", "host-sim", "cli.js");

function newestTs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export async function ensureDistCli(): Promise<void> {
  const newest = Math.max(newestTs(path.join(ROOT, "src")), newestTs(path.join(ROOT, "host-sim")));
  if (!existsSync(CLI_JS) || statSync(CLI_JS).mtimeMs < newest) {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
  }
  copyAssets();
  await xsRuntimeBundle();
}
