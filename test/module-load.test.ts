// What src/ modules do when they are loaded (issue 9 §6). On a device the library is preloaded:
// XS runs every module's top level at build time and the linker keeps the result in flash.
// - No RegExp object is created at module load (a preloaded RegExp crashed a release build).
// - Every module-level constant object or array is frozen, so it stays in flash (xsl warns
//   "not frozen" otherwise): checked on the source of every module (exported or not), and on the
//   loaded modules (every exported plain object or array, at every depth).

import test from "ava";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatFindings, regExpsAtModuleLoad, unfrozenModuleConstants } from "./helpers/module-load.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "src");
const moddableDir = path.join(srcDir, "platform", "moddable");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

const sources = tsFiles(srcDir);
const rel = (f: string): string => path.relative(root, f);

test("the load-time scanner sees top-level and static RegExps, not those created in functions", (t) => {
  const code = [
    "const A = /a/;",
    "export const B = new RegExp('b');",
    "const C = { d: RegExp('c') };",
    "class K { static s = /s/; i = /instance/; [/computed/.source]() { return /method/; } static { /block/; } }",
    "function f(x = /param/) { return /body/.test(String(x)); }",
    "const g = () => new RegExp('arrow');",
    "const h = { m() { return /m/; }, get p() { return /p/; } };",
  ].join("\n");
  const found = regExpsAtModuleLoad(code, "sample.ts").map((f) => f.text);
  t.deepEqual(found, ["/a/", "new RegExp('b')", "RegExp('c')", "/s/", "/computed/", "/block/"]);
});

test("no src/ module creates a RegExp object at module load", (t) => {
  t.true(sources.length > 20);
  const found = sources.flatMap((f) => regExpsAtModuleLoad(readFileSync(f, "utf8"), rel(f)));
  t.deepEqual(found, [], `create these at call time, or parse by hand:\n${formatFindings(found)}`);
});

test("the freeze scanner sees unfrozen object and array literals at every depth", (t) => {
  const code = [
    "const A = { a: 1 };",
    "export const B = Object.freeze({ b: { c: 1 } });",
    "const C = Object.freeze([Object.freeze([1]), [2]] as const);",
    "const D = Object.freeze({ e: 1 } as const);",
    "const E = new Map();",
    "let F = { mutable: true };",
    "const G = () => ({ fresh: true });",
    "const H = 4;",
  ].join("\n");
  const found = unfrozenModuleConstants(code, "sample.ts").map((f) => f.text);
  t.deepEqual(found, ["{ a: 1 }", "{ c: 1 }", "[2]", "E = new Map()"]);
});

test("every module-level constant object or array in src/ is frozen (source)", (t) => {
  const found = sources.flatMap((f) => unfrozenModuleConstants(readFileSync(f, "utf8"), rel(f)));
  t.deepEqual(found, [], `wrap these in Object.freeze (xsl keeps unfrozen ones in RAM):\n${formatFindings(found)}`);
});

/** Plain objects and arrays reachable from `value` (through own properties) that are not frozen. */
function unfrozen(value: unknown, where: string, seen: Set<object>, out: string[]): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  seen.add(value);
  if (!Object.isFrozen(value)) out.push(where);
  for (const key of Object.keys(value)) unfrozen((value as Record<string, unknown>)[key], `${where}.${key}`, seen, out);
}

/** The modules of src/platform/moddable, bundled one by one with every Moddable specifier
 * resolved to an empty stub (they are only loaded, never called). */
async function loadModdableModules(): Promise<Map<string, Record<string, unknown>>> {
  const { build } = await import("esbuild");
  const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-load-"));
  try {
    const stub = path.join(dir, "stub.cjs");
    writeFileSync(stub, "class Stub {}\nmodule.exports = { default: Stub, Request: Stub, Server: Stub, Digest: Stub };\n");
    const out = new Map<string, Record<string, unknown>>();
    for (const file of sources.filter((f) => f.startsWith(moddableDir + path.sep))) {
      const outfile = path.join(dir, `${path.basename(file, ".ts")}.mjs`);
      await build({
        entryPoints: [file],
        outfile,
        bundle: true,
        format: "esm",
        platform: "neutral",
        logLevel: "silent",
        plugins: [
          {
            name: "moddable-stubs",
            setup(b) {
              b.onResolve({ filter: /^[^./]/ }, () => ({ path: stub }));
            },
          },
        ],
      });
      out.set(file, (await import(pathToFileURL(outfile).href)) as Record<string, unknown>);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every exported plain object or array of every src/ module is frozen (loaded)", async (t) => {
  const modules = new Map<string, Record<string, unknown>>();
  for (const file of sources.filter((f) => !f.startsWith(moddableDir + path.sep))) {
    modules.set(file, (await import(pathToFileURL(file).href)) as Record<string, unknown>);
  }
  for (const [file, ns] of await loadModdableModules()) modules.set(file, ns);
  t.is(modules.size, sources.length, "every module loads");

  const found: string[] = [];
  let checked = 0;
  for (const [file, ns] of modules) {
    for (const [name, value] of Object.entries(ns)) {
      if (typeof value === "object" && value !== null) checked++;
      unfrozen(value, `${rel(file)}: ${name}`, new Set(), found);
    }
  }
  t.true(checked >= 10, `only ${checked} exported objects found: is the loader working?`);
  t.deepEqual(found, [], "exported constant objects must be frozen");
});
