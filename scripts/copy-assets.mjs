// Copies the non-TypeScript files the compiled host shim reads at run time into dist/ (tsc does
// not): board partition tables and the XS shims. Used by `npm run build` and by the tests'
// dist-cli helper, so a CLI compiled either way finds them.
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ASSETS = [
  ["host-sim/boards", ".csv"],
  ["host-sim/xs/shims", ".js"],
];

export function copyAssets() {
  for (const [dir, ext] of ASSETS) {
    const to = path.join(ROOT, "dist", dir);
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(path.join(ROOT, dir))) if (f.endsWith(ext)) cpSync(path.join(ROOT, dir, f), path.join(to, f));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) copyAssets();
