// The Moddable side, checked without the Moddable SDK (which cannot be obtained here):
// - the library manifest and the ESP32 example reference only files that exist, and SDK manifests
//   that types/moddable/sdk-modules.json documents;
// - every module specifier imported under src/platform/moddable (and by the example) is relative,
//   provided by the library manifest, or documented in sdk-modules.json; the bundle the library
//   manifest maps to "xs-ota" imports nothing else, and its static imports are all included;
// - the example's partitions.csv equals host-sim's esp32-4mb board, and layout.ts equals both;
// - the sdkconfig fragment enables rollback;
// - tsc -p tsconfig.moddable.json passes (src/ is portable, the platform layer matches
//   types/moddable), and the example app compiles against the bundle's declarations with
//   mcconfig-like settings.

import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { CRYPTO_FAKES } from "./helpers/moddable-crypto-fakes.ts";
import { formatFindings, regExpsAtModuleLoad } from "./helpers/module-load.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const r = (...p: string[]): string => path.join(root, ...p);
const tscBin = createRequire(import.meta.url).resolve("typescript/bin/tsc");

interface SdkModule {
  provider: string;
  platforms?: string[];
  note?: string;
}
interface SdkTable {
  modules: Record<string, SdkModule>;
  manifests: Record<string, string>;
}
const sdk = JSON.parse(readFileSync(r("types/moddable/sdk-modules.json"), "utf8")) as SdkTable;

interface Manifest {
  include?: string | string[];
  modules?: Record<string, string | string[]>;
  preload?: string | string[];
  build?: Record<string, string>;
  ffi?: { sources?: string[]; functions?: Record<string, unknown> };
  platforms?: Record<string, Manifest & { error?: string }>;
  typescript?: unknown;
}
const readManifest = (file: string): Manifest => JSON.parse(readFileSync(file, "utf8")) as Manifest;
const libraryManifestPath = r("manifest.json");
const exampleManifestPath = r("examples/esp32/manifest.json");
const library = readManifest(libraryManifestPath);
const example = readManifest(exampleManifestPath);

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The library bundle, built once into its real place (dist/ is not committed) by the project's
 * rollup configuration, as `npm run build` builds it: `rollup -c --configOnly moddable`. */
const bundleDir = r("dist/moddable");
const rollupBin = createRequire(import.meta.url).resolve("rollup/dist/bin/rollup");
let bundleBuilt: { ok: boolean; output: string } | undefined;
function buildBundle(): { ok: boolean; output: string } {
  if (!bundleBuilt) {
    const b = spawnSync(process.execPath, [rollupBin, "-c", r("rollup.config.mjs"), "--configOnly", "moddable"], { cwd: root, encoding: "utf8" });
    bundleBuilt = { ok: b.status === 0, output: `${b.stdout}${b.stderr}` };
  }
  return bundleBuilt;
}

/** Module path of a manifest "modules" entry exists with one of the extensions mcconfig matches. */
function modulePathExists(base: string, p: string): boolean {
  const full = path.resolve(base, p.replace(/\*$/, ""));
  if (p.endsWith("*")) return existsSync(full) && statSync(full).isDirectory();
  return [".js", ".ts", ".d.ts", ".c", ".json"].some((ext) => existsSync(full + ext));
}

/** Includes of a manifest and of its platform sections. */
function includesOf(m: Manifest): string[] {
  const out = list(m.include);
  for (const section of Object.values(m.platforms ?? {})) out.push(...list(section.include));
  return out;
}

const documentedSdkManifests = new Set<string>([
  ...Object.values(sdk.modules).map((m) => m.provider).filter((p) => p.startsWith("$(")),
  ...Object.keys(sdk.manifests).filter((k) => k.startsWith("$(")),
]);

function checkManifestPaths(t: import("ava").ExecutionContext, file: string, m: Manifest): void {
  const base = path.dirname(file);
  const name = path.relative(root, file);
  for (const inc of includesOf(m)) {
    if (inc.startsWith("$(")) t.true(documentedSdkManifests.has(inc), `${name}: include ${inc} is not documented in types/moddable/sdk-modules.json`);
    else t.true(existsSync(path.resolve(base, inc)), `${name}: include ${inc} does not exist`);
  }
  const sections = [m, ...Object.values(m.platforms ?? {})];
  for (const s of sections) {
    for (const [key, value] of Object.entries(s.modules ?? {})) {
      for (const p of list(value)) {
        if (p.startsWith("$(")) continue;
        t.true(modulePathExists(base, p), `${name}: module ${key} -> ${p} does not exist`);
      }
    }
  }
  for (const [key, value] of Object.entries(m.build ?? {})) {
    if (value.startsWith("./") || value.startsWith("../")) t.true(existsSync(path.resolve(base, value)), `${name}: build ${key} = ${value} does not exist`);
  }
  for (const source of m.ffi?.sources ?? []) t.true(existsSync(path.resolve(base, source)), `${name}: ffi source ${source} does not exist`);
}

// ---------------------------------------------------------------------------------------------
// Import specifiers

function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split("\n")
    .filter((line) => !line.trim().startsWith("//"))
    .join("\n");
}

interface Specifier {
  name: string;
  dynamic: boolean;
  typeOnly: boolean;
}

function specifiers(source: string): Specifier[] {
  const s = stripComments(source);
  const out: Specifier[] = [];
  const from = /(?:^|[\s;}])(import|export)(\s+type)?\s[^'"`;]*?\bfrom\s*["']([^"']+)["']/g;
  for (let m = from.exec(s); m; m = from.exec(s)) out.push({ name: m[3], dynamic: false, typeOnly: m[2] !== undefined });
  const bare = /(?:^|[\s;}])import\s*["']([^"']+)["']/g;
  for (let m = bare.exec(s); m; m = bare.exec(s)) out.push({ name: m[1], dynamic: false, typeOnly: false });
  const dyn = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;
  for (let m = dyn.exec(s); m; m = dyn.exec(s)) out.push({ name: m[1], dynamic: true, typeOnly: false });
  return out;
}

const libraryModules = new Set<string>([
  ...Object.keys(library.modules ?? {}),
  ...Object.values(library.platforms ?? {}).flatMap((p) => Object.keys(p.modules ?? {})),
]);

function known(name: string): boolean {
  return libraryModules.has(name) || name in sdk.modules;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(full);
    return e.name.endsWith(".ts") ? [full] : [];
  });
}

test("the specifier scanner finds static, type, re-export, side-effect and dynamic imports", (t) => {
  const found = specifiers(
    [
      'import A from "a";',
      'import type { B } from "b";',
      "import {\n  c,\n  d,\n} from 'c';",
      'export { e } from "./e.ts";',
      'export type * from "f";',
      'import "g";',
      'const h = await import("h");',
      '// import x from "commented";',
      "/* import y from \"block\"; */",
    ].join("\n"),
  ).map((s) => s.name);
  t.deepEqual(found.sort(), ["./e.ts", "a", "b", "c", "f", "g", "h"]);
});

test("every specifier imported under src/platform/moddable is relative, from the library manifest, or a documented SDK module", (t) => {
  const files = tsFiles(r("src/platform/moddable"));
  t.true(files.length > 5);
  for (const file of files) {
    const rel = path.relative(root, file);
    for (const s of specifiers(readFileSync(file, "utf8"))) {
      if (s.name.startsWith(".")) {
        t.true(existsSync(path.resolve(path.dirname(file), s.name)), `${rel}: ${s.name} does not exist`);
        continue;
      }
      t.true(known(s.name), `${rel} imports "${s.name}", which neither the library manifest nor types/moddable/sdk-modules.json provides`);
    }
  }
});

test("the example imports only relative files, the library, and documented SDK modules", (t) => {
  for (const file of tsFiles(r("examples/esp32"))) {
    const rel = path.relative(root, file);
    for (const s of specifiers(readFileSync(file, "utf8"))) {
      if (s.name.startsWith(".")) {
        t.false(s.name.startsWith("../"), `${rel}: "${s.name}": XS resolves at most one "../" level, and the example must not reach outside itself`);
        t.regex(s.name, /^\.\/[^/]+\.js$/, `${rel}: relative imports of mcconfig-compiled files are "./name.js"`);
        t.true(existsSync(path.resolve(path.dirname(file), s.name.replace(/\.js$/, ".ts"))), `${rel}: ${s.name} does not exist`);
        continue;
      }
      t.true(known(s.name), `${rel} imports "${s.name}", which neither the library manifest nor types/moddable/sdk-modules.json provides`);
    }
  }
  // mc/ffi exists only when the app manifest declares ffi functions; main.ts calls these.
  t.deepEqual(Object.keys(example.ffi?.functions ?? {}).sort(), ["esp_restart", "xsota_running_subtype"]);
});

test("the library bundle builds and imports only documented modules; its static imports are all included", (t) => {
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const js = readFileSync(path.join(bundleDir, "xs-ota.js"), "utf8");
  const imports = specifiers(js);
  t.true(imports.length > 0);
  const included = new Set(includesOf(library));
  for (const s of imports) {
    t.false(s.name.startsWith("."), `the bundle still imports a relative module ${s.name}`);
    t.true(known(s.name), `the bundle imports "${s.name}", which types/moddable/sdk-modules.json does not document`);
    if (!s.dynamic && s.name in sdk.modules) {
      const provider = sdk.modules[s.name].provider;
      t.true(
        provider === "device" || included.has(provider),
        `the bundle imports "${s.name}" statically, so the library manifest must include ${provider}`,
      );
    }
  }
  // Optional modules are loaded with import(): flash flavours, net, mqtt.
  const dynamic = imports.filter((s) => s.dynamic).map((s) => s.name).sort();
  t.deepEqual(dynamic, ["embedded:storage/flash", "flash", "mqtt", "net"]);
  t.true(existsSync(path.join(bundleDir, "xs-ota.d.ts")));
});

test("every path the library manifest and the example manifest reference exists", (t) => {
  t.true(buildBundle().ok, "the bundle the library manifest maps to xs-ota must build");
  checkManifestPaths(t, libraryManifestPath, library);
  checkManifestPaths(t, exampleManifestPath, example);
  t.true(list(example.include).some((inc) => path.resolve(path.dirname(exampleManifestPath), inc) === libraryManifestPath), "the example includes the library manifest");
  t.deepEqual(list(library.preload), ["xs-ota"]);
  t.truthy(library.platforms?.["..."]?.error, "unsupported platforms get a manifest error");
  t.truthy(library.platforms?.esp32, "esp32 has its section");
});

test("the bundle creates no RegExp object at module load (the library is preloaded)", (t) => {
  // A RegExp made by a preloaded module's top level crashed a Linux release build inside
  // RegExp.prototype.exec (issue 9 §6). Scans the bundle the manifest maps to "xs-ota".
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const file = path.join(bundleDir, "xs-ota.js");
  const found = regExpsAtModuleLoad(readFileSync(file, "utf8"), path.relative(root, file));
  t.deepEqual(found, [], `create these at call time, or parse by hand:\n${formatFindings(found)}`);
});

// ---------------------------------------------------------------------------------------------
// Partition table

interface Row {
  label: string;
  type: number;
  subtype: number;
  address: number;
  size: number;
}

const TYPES: Record<string, number> = { app: 0x00, data: 0x01 };
const SUBTYPES: Record<string, number> = { factory: 0x00, test: 0x20, ota: 0x00, phy: 0x01, nvs: 0x02, coredump: 0x03, nvs_keys: 0x04, efuse: 0x05, spiffs: 0x82, fat: 0x81, littlefs: 0x83 };

function num(s: string, table: Record<string, number>): number {
  const v = s.trim().toLowerCase();
  if (v in table) return table[v];
  const ota = /^ota_(\d+)$/.exec(v);
  if (ota) return 0x10 + Number(ota[1]);
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`bad partition field ${s}`);
  return n;
}

function parseCsv(text: string): Row[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line !== "")
    .map((line) => {
      const f = line.split(",").map((x) => x.trim());
      return { label: f[0], type: num(f[1], TYPES), subtype: num(f[2], SUBTYPES), address: num(f[3], {}), size: num(f[4], {}) };
    });
}

function normalizedCsv(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, "").replace(/\s+/g, "").toLowerCase())
    .filter((line) => line !== "");
}

/** examples/esp32/layout.ts, loaded by URL so that the Node tsconfig does not follow it into "xs-ota". */
async function importLayout(): Promise<{ LAYOUT: readonly Row[] }> {
  return (await import(pathToFileURL(r("examples/esp32/layout.ts")).href)) as { LAYOUT: readonly Row[] };
}

const exampleCsv = readFileSync(r("examples/esp32/partitions.csv"), "utf8");
const boardCsvPath = r("host-sim/boards/esp32-4mb.csv");
const boardTest = existsSync(boardCsvPath) ? test : test.skip;

boardTest(
  existsSync(boardCsvPath)
    ? "the example's partitions.csv equals host-sim/boards/esp32-4mb.csv"
    : "SKIPPED: host-sim/boards/esp32-4mb.csv does not exist yet, so the example's partitions.csv is not compared with it",
  (t) => {
    t.deepEqual(normalizedCsv(exampleCsv), normalizedCsv(readFileSync(boardCsvPath, "utf8")));
  },
);

test("the example's partitions.csv has the journal and the OTA layout; layout.ts has the same rows", async (t) => {
  const rows = parseCsv(exampleCsv);
  t.deepEqual(
    rows.map((p) => p.label),
    ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "otajournal"],
  );
  const journal = rows.find((p) => p.label === "otajournal");
  t.deepEqual(journal, { label: "otajournal", type: 0x40, subtype: 0x01, address: 0x3d0000, size: 0x4000 });
  t.is(rows.find((p) => p.label === "otadata")?.size, 0x2000);
  const { LAYOUT } = await importLayout();
  t.deepEqual(
    LAYOUT.map((p) => ({ ...p })),
    rows,
  );
});

test("the sdkconfig fragment enables app rollback and the custom partition table", (t) => {
  const sdkconfigDir = path.resolve(path.dirname(exampleManifestPath), example.build?.SDKCONFIGPATH ?? "");
  const text = readFileSync(path.join(sdkconfigDir, "sdkconfig.defaults"), "utf8");
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  t.true(lines.includes("CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y"));
  t.true(lines.includes("CONFIG_PARTITION_TABLE_CUSTOM=y"));
  t.true(lines.includes("CONFIG_ESPTOOLPY_FLASHSIZE_4MB=y"));
});

// ---------------------------------------------------------------------------------------------
// TypeScript

function tsc(args: string[]): { ok: boolean; output: string } {
  const res = spawnSync(process.execPath, [tscBin, ...args], { cwd: root, encoding: "utf8" });
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

test("tsc -p tsconfig.moddable.json passes (src/ is portable; the platform layer matches types/moddable)", (t) => {
  const res = tsc(["-p", "tsconfig.moddable.json"]);
  t.true(res.ok, res.output);
});

/**
 * Type-checks the example with its own tsconfig (examples/esp32/tsconfig.json: mcconfig's settings,
 * the bundle's declarations for "xs-ota") from a temporary directory next to a node_modules that
 * holds the npm packages `mqtt` and `@types/node`, as for an app built next to this package.
 * `extra` files are added to the program. Returns tsc's output and the node_modules files it read.
 */
function checkExample(extra: Record<string, string>): { ok: boolean; output: string; nodeModules: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-app-"));
  try {
    symlinkSync(r("node_modules"), path.join(dir, "node_modules"), "dir");
    const exampleConfig = r("examples/esp32/tsconfig.json");
    const own = (JSON.parse(readFileSync(exampleConfig, "utf8")) as { files: string[] }).files;
    for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(dir, name), text);
    const files = [...own.map((f) => path.resolve(path.dirname(exampleConfig), f)), ...Object.keys(extra).map((n) => path.join(dir, n))];
    const file = path.join(dir, "tsconfig.json");
    writeFileSync(file, JSON.stringify({ extends: exampleConfig, files }, null, 2));
    const res = tsc(["-p", file, "--listFiles"]);
    const nodeModules = res.output
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.includes(`${path.sep}node_modules${path.sep}`) && !l.includes(`${path.sep}typescript${path.sep}lib${path.sep}`));
    return { ...res, nodeModules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the example compiles against the bundle's declarations with its tsconfig (mcconfig's settings)", (t) => {
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const res = checkExample({});
  t.true(res.ok, res.output);
  t.deepEqual(res.nodeModules, [], "the app's type-check reads nothing from node_modules");
});

test("the example's type-check sees no Node types: process, Buffer and setTimeout do not type-check in firmware", (t) => {
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const probe = [
    "export const pid: number = process.pid;",
    'export const bytes = Buffer.from("x");',
    "export const timer = setTimeout(() => {}, 1);",
    "",
  ].join("\n");
  const res = checkExample({ "probe.ts": probe });
  t.false(res.ok, "a file using Node globals must not type-check under the example's tsconfig");
  for (const name of ["process", "Buffer", "setTimeout"]) {
    t.regex(res.output, new RegExp(`probe\\.ts\\(\\d+,\\d+\\): error TS\\d+: Cannot find name '${name}'`), res.output);
  }
  t.deepEqual(res.nodeModules, [], "nothing from node_modules (npm mqtt, @types/node) enters the program");
});

test("the bundle's declarations import no bare module specifier (nothing an npm package could answer)", (t) => {
  // A bare "mqtt" in a shipped .d.ts resolves to the npm package mqtt next to this package, which
  // pulls @types/node into the device app's program (issue 9 §6). The declarations describe the
  // Moddable modules they need structurally instead.
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const dts = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return dts(full);
      return e.name.endsWith(".d.ts") ? [full] : [];
    });
  const files = dts(bundleDir);
  t.true(files.length > 10, `declarations in ${bundleDir}`);
  const bare: string[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const names = [...info.importedFiles, ...info.typeReferenceDirectives, ...info.libReferenceDirectives].map((f) => f.fileName);
    for (const name of names) if (!name.startsWith("./") && !name.startsWith("../")) bare.push(`${path.relative(root, file)}: "${name}"`);
  }
  t.deepEqual(bare, []);
});

test("types/moddable declares and imports only Moddable module names that sdk-modules.json documents", (t) => {
  const dir = r("types/moddable");
  const files = readdirSync(dir).filter((f) => f.endsWith(".d.ts"));
  const declared: string[] = [];
  const foreign: string[] = [];
  for (const name of files) {
    const info = ts.preProcessFile(readFileSync(path.join(dir, name), "utf8"), true, true);
    declared.push(...(info.ambientExternalModules ?? []));
    for (const f of [...info.importedFiles, ...info.typeReferenceDirectives]) {
      if (!f.fileName.startsWith("./") && !(f.fileName in sdk.modules)) foreign.push(`${name}: "${f.fileName}"`);
    }
  }
  t.deepEqual(foreign, [], "imports of non-Moddable modules");
  t.deepEqual(declared.filter((m) => !(m in sdk.modules)), [], "ambient modules that are not documented Moddable modules");
  t.true(declared.includes("embedded:storage/flash") && declared.includes("timer"));
});

// ---------------------------------------------------------------------------------------------
// Behaviour of src/platform/moddable on fake Moddable modules that follow types/moddable (and the
// SDK sources quoted there): bundled with esbuild, the Moddable specifiers resolved to the fakes.

const FAKES: Record<string, string> = {
  "embedded:storage/flash": `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export default Object.freeze({
      open({ path, mode }) {
        const part = S.flash[path];
        if (!part) throw new Error("can't find partition");
        const ro = mode === "r";
        S.opened.push({ path, mode });
        return {
          read(n, off) { return part.bytes.slice(off, off + n).buffer; },
          write(buf, off) { if (ro) throw new Error("read-only"); const b = ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf); part.bytes.set(b, off); S.writes.push({ path, off, length: b.length }); },
          eraseBlock(s, e = s + 1) { if (ro) throw new Error("read-only"); part.bytes.fill(0xff, s * 4096, e * 4096); S.erases.push({ path, s, e }); },
          status() { return { size: part.bytes.length, blockLength: 4096, blocks: part.bytes.length / 4096 }; },
          close() {}, format: "buffer",
        };
      },
      *[Symbol.iterator]() { yield* S.labels; },
    });`,
  flash: `export default class Flash { constructor() { throw new Error("legacy flash not expected"); } }`,
  preference: `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export default class Preference {
      static set(d, k, v) { if (!(v instanceof ArrayBuffer) && typeof v === "object") throw new Error("unsupported type"); S.prefs.set(d + "/" + k, v); }
      static get(d, k) { return S.prefs.get(d + "/" + k); }
      static delete(d, k) { S.prefs.delete(d + "/" + k); }
      static keys(d) { return [...S.prefs.keys()].filter((x) => x.startsWith(d + "/")).map((x) => x.slice(d.length + 1)); }
    }`,
  http: `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export class Request {
      constructor(o) { this.options = o; this.queue = []; this.closed = false; S.requests.push(this); }
      read(type) { const c = this.queue.shift(); return c === undefined ? undefined : type === ArrayBuffer ? c : undefined; }
      close() { this.closed = true; }
      static requestFragment = 0; static status = 1; static header = 2; static headersComplete = 3;
      static responseFragment = 4; static responseComplete = 5; static error = -2;
    }
    export default Object.freeze({ Request });`,
  crypt: `
    import { createHash } from "node:crypto";
    export class Digest {
      constructor(name) { this.name = name === "SHA256" ? "sha256" : "md5"; this.reset(); }
      reset() { this.h = createHash(this.name); }
      write(d) { this.h.update(ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d)); }
      close() { const out = this.h.digest(); return out.buffer.slice(out.byteOffset, out.byteOffset + out.length); }
    }`,
  timer: `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export default class Timer {
      static set(cb, ms) { const t = { cb, ms }; S.timers.push(t); return t; }
      static clear(t) { if (t) t.cleared = true; }
    }`,
  time: `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export default class Time { static get ticks() { return S.ticks; } }`,
  net: `
    const S = new Proxy({}, { get: (_, k) => globalThis.__fakes[k] });
    export default class Net { static get(p) { return p === "RSSI" ? S.rssi : undefined; } }`,
  mqtt: `export default class Client {}`,
  ...CRYPTO_FAKES,
};

interface FakeState {
  flash: Record<string, { bytes: Uint8Array }>;
  labels: string[];
  opened: { path: string; mode?: string }[];
  writes: { path: string; off: number; length: number }[];
  erases: { path: string; s: number; e: number }[];
  prefs: Map<string, unknown>;
  requests: { options: Record<string, unknown>; queue: ArrayBuffer[]; closed: boolean; callback?: (this: unknown, m: number, a?: unknown, b?: unknown) => unknown }[];
  timers: { cb: () => void; ms: number; cleared?: boolean }[];
  ticks: number;
  rssi: number | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PlatformModule = any;
let platformModule: Promise<PlatformModule> | undefined;
function loadPlatformModule(): Promise<PlatformModule> {
  platformModule ??= (async () => {
    const { build } = await import("esbuild");
    const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-fakes-"));
    const files: Record<string, string> = {};
    for (const [name, source] of Object.entries(FAKES)) {
      const file = path.join(dir, `fake-${name.replace(/[^a-z]/gi, "_")}.mjs`);
      writeFileSync(file, source);
      files[name] = file;
    }
    const out = path.join(dir, "platform.mjs");
    await build({
      entryPoints: [r("src/platform/moddable/index.ts")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      logLevel: "silent",
      plugins: [
        {
          name: "moddable-fakes",
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => (args.path in files ? { path: files[args.path] } : undefined));
          },
        },
      ],
    });
    return import(out);
  })();
  return platformModule;
}

function le32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint32(off, v >>> 0, true);
}

/** ESP32 4 MB board state; otadata selects ota_1 (seq 2, VALID). */
function freshFakes(): FakeState {
  const part = (size: number): { bytes: Uint8Array } => ({ bytes: new Uint8Array(size).fill(0xff) });
  const otadata = part(0x2000);
  le32(otadata.bytes, 0, 2); // ota_seq 2 -> slot (2 - 1) % 2 = 1
  le32(otadata.bytes, 24, 2); // ESP_OTA_IMG_VALID
  le32(otadata.bytes, 28, 0x55f63774); // CRC of seq 2 (boot-formats.md §2.2)
  const state: FakeState = {
    flash: { running: part(0x1e0000), nextota: part(0x1e0000), otadata, xs: part(0x4000), nvs: part(0x4000) },
    labels: ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "otajournal"],
    opened: [],
    writes: [],
    erases: [],
    prefs: new Map(),
    requests: [],
    timers: [],
    ticks: 0x7fffff00,
    rssi: -61,
  };
  (globalThis as { __fakes?: FakeState }).__fakes = state;
  return state;
}

const exampleLayout = async (): Promise<readonly Row[]> => (await importLayout()).LAYOUT;

test.serial("platform on fakes: partitions map labels to running/nextota/otadata/xs, geometry, alignment, read-only running slot", async (t) => {
  const m = await loadPlatformModule();
  const fakes = freshFakes();
  const platform = await m.createModdablePlatform({ layout: await exampleLayout(), log: false });
  t.is(platform.flashModule, "embedded:storage/flash");
  t.is(typeof platform.signatures?.ecdsaVerify, "function", "the SignaturePort on ecdsa/rsa (signatures.ts)");
  t.is(platform.partitions.running(), "ota_1", "otadata seq 2 selects ota_1");
  t.deepEqual(
    platform.partitions.list().map((p: Row) => p.label),
    ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "otajournal"],
  );

  const next = platform.partitions.open("ota_0");
  t.is(fakes.opened.at(-1)?.path, "nextota");
  t.is(next.geometry.size, 0x1e0000);
  t.is(next.geometry.writeAlign, 4);
  t.is(next.geometry.erasedValue, 0xff);
  t.is(next.geometry.sectors.length, 480);
  t.deepEqual({ ...next.geometry.sectors[3] }, { offset: 3 * 4096, size: 4096 });
  t.is(next.geometry.sectors[480], undefined);
  t.is([...next.geometry.sectors].length, 480);
  t.is(next.geometry.sectors.reduce((n: number, s: { size: number }) => n + s.size, 0), 0x1e0000);
  next.erase(4096, 8192);
  t.deepEqual(fakes.erases.at(-1), { path: "nextota", s: 1, e: 3 });
  next.write(4096, Uint8Array.of(0xe9, 1, 2, 3, 4, 5, 6, 7).subarray(0, 4));
  t.deepEqual([...next.read(4096, 6)], [0xe9, 1, 2, 3, 0xff, 0xff]);
  t.throws(() => next.write(4098, new Uint8Array(4)), { instanceOf: RangeError });
  t.throws(() => next.write(0, new Uint8Array(6)), { instanceOf: RangeError });
  t.throws(() => next.erase(100, 4096), { instanceOf: RangeError });
  t.throws(() => next.read(0x1e0000 - 2, 4), { instanceOf: RangeError });

  const running = platform.partitions.open("ota_1");
  t.deepEqual(fakes.opened.at(-1), { path: "running", mode: "r" });
  t.throws(() => running.write(0, new Uint8Array(4)), { message: /read-only/ });
  t.throws(() => running.erase(0, 4096), { message: /read-only/ });

  platform.partitions.open("otajournal");
  t.is(fakes.opened.at(-1)?.path, "xs");
  t.is(platform.partitions.open("otadata"), platform.partitions.open("otadata"), "handles are cached");
  t.throws(() => platform.partitions.open("nope"), { message: /no partition "nope"/ });
});

test.serial("platform on fakes: runningSlot option, size mismatch, missing labels", async (t) => {
  const m = await loadPlatformModule();
  const layout = await exampleLayout();
  let fakes = freshFakes();
  const p1 = await m.createModdablePlatform({ layout, runningSlot: () => "ota_0", log: false });
  t.is(p1.partitions.running(), "ota_0");
  p1.partitions.open("ota_1");
  t.is(fakes.opened.at(-1)?.path, "nextota");

  fakes = freshFakes();
  fakes.flash.xs = { bytes: new Uint8Array(0x8000) };
  const p2 = await m.createModdablePlatform({ layout, log: false });
  t.throws(() => p2.partitions.open("otajournal"), { message: /0x8000 bytes on the device, 0x4000 in the layout/ });

  fakes = freshFakes();
  fakes.labels = fakes.labels.filter((l) => l !== "otajournal");
  const p3 = await m.createModdablePlatform({ layout, log: false });
  t.false(p3.partitions.list().some((p: Row) => p.label === "otajournal"));
  t.throws(() => p3.partitions.open("otajournal"), { message: /not on the device/ });
});

test.serial("platform on fakes: preference stores exact ArrayBuffers under 15-character keys", async (t) => {
  const m = await loadPlatformModule();
  const fakes = freshFakes();
  const platform = await m.createModdablePlatform({ layout: await exampleLayout(), log: false });
  const big = new Uint8Array(16).map((_, i) => i);
  platform.kv.set("journal.a", big.subarray(4, 8));
  const stored = fakes.prefs.get("xsota/journal.a");
  t.true(stored instanceof ArrayBuffer);
  t.is((stored as ArrayBuffer).byteLength, 4);
  t.deepEqual([...platform.kv.get("journal.a")], [4, 5, 6, 7]);
  t.is(platform.kv.get("missing"), undefined);
  fakes.prefs.set("xsota/number", 5);
  t.is(platform.kv.get("number"), undefined, "values of other types are not ours");
  t.throws(() => platform.kv.set("a-key-of-16-char", new Uint8Array(1)), { instanceOf: RangeError });
  t.throws(() => platform.kv.set("k", new Uint8Array(4001)), { instanceOf: RangeError });
  platform.kv.delete("journal.a");
  t.is(platform.kv.get("journal.a"), undefined);
});

test.serial("platform on fakes: http Request callback protocol, Range header, -2 error, abort", async (t) => {
  const m = await loadPlatformModule();
  const fakes = freshFakes();
  const platform = await m.createModdablePlatform({ layout: await exampleLayout(), log: false });
  const events: unknown[] = [];
  const handlers = {
    response: (status: number, headers: Record<string, string>) => events.push(["response", status, headers]),
    data: (chunk: Uint8Array) => events.push(["data", [...chunk]]),
    end: () => events.push(["end"]),
    error: (reason: string) => events.push(["error", reason]),
  };
  platform.http.request({ url: "http://updates.local:8080/fw.bin?x=1", headers: { range: "bytes=4096-" } }, handlers);
  const req = fakes.requests.at(-1)!;
  t.like(req.options, { host: "updates.local", port: 8080, path: "/fw.bin?x=1", method: "GET" });
  t.deepEqual(req.options.headers, ["range", "bytes=4096-", "Host", "updates.local:8080"]);
  const call = (msg: number, a?: unknown, b?: unknown): unknown => req.callback!.call(req, msg, a, b);
  call(1, 206);
  call(2, "content-range", "bytes 4096-4099/4100");
  call(2, "etag", '"v2"');
  call(3);
  req.queue.push(Uint8Array.of(1, 2).buffer);
  call(4, 2);
  req.queue.push(Uint8Array.of(3, 4).buffer);
  call(4, 2);
  call(5);
  t.deepEqual(events, [
    ["response", 206, { "content-range": "bytes 4096-4099/4100", etag: '"v2"' }],
    ["data", [1, 2]],
    ["data", [3, 4]],
    ["end"],
  ]);

  events.length = 0;
  platform.http.request({ url: "http://updates.local/fw.bin" }, handlers);
  const failing = fakes.requests.at(-1)!;
  t.is(failing.options.headers, undefined, "no Host header for the default port");
  failing.callback!.call(failing, 1, 200);
  failing.callback!.call(failing, -2);
  failing.callback!.call(failing, 5);
  t.deepEqual(events, [["error", "http: connection failed or closed early (message -2)"]]);

  events.length = 0;
  const exchange = platform.http.request({ url: "http://updates.local/fw.bin" }, handlers);
  const aborted = fakes.requests.at(-1)!;
  exchange.abort();
  t.true(aborted.closed);
  aborted.callback!.call(aborted, 1, 200);
  t.deepEqual(events, [], "nothing is called after abort()");

  events.length = 0;
  const throwing = { ...handlers, data: () => { throw new Error("flash write failed"); } };
  platform.http.request({ url: "http://updates.local/fw.bin" }, throwing);
  const bad = fakes.requests.at(-1)!;
  bad.callback!.call(bad, 1, 200);
  bad.callback!.call(bad, 3);
  bad.queue.push(new ArrayBuffer(1));
  t.notThrows(() => bad.callback!.call(bad, 4, 1), "exceptions never unwind into http.js");
  t.false(bad.closed, "closing from inside the callback is deferred");
  fakes.timers.at(-1)!.cb();
  t.true(bad.closed);
  t.deepEqual(events.at(-1), ["error", "http: handler failed: flash write failed"]);

  events.length = 0;
  platform.http.request({ url: "https://updates.local/fw.bin" }, handlers);
  fakes.timers.at(-1)!.cb();
  t.regex(String((events[0] as unknown[])[1]), /https/, "https without a SecureSocket fails through error()");
});

test.serial("platform on fakes: digests, clock wrap, timers, rssi, restart", async (t) => {
  const m = await loadPlatformModule();
  const fakes = freshFakes();
  let restarted = 0;
  const platform = await m.createModdablePlatform({
    layout: await exampleLayout(),
    log: false,
    ffi: { esp_restart: () => restarted++ },
    battery: () => 140,
  });
  const text = new TextEncoder().encode("123456789");
  const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const crc = platform.digests.create("crc32");
  crc.update(text.subarray(0, 4));
  crc.update(text.subarray(4));
  t.is(hex(crc.finish()), "cbf43926");
  const md5 = platform.digests.create("md5");
  md5.update(text);
  t.is(hex(md5.finish()), "25f9e794323b453885f5181f1b624d0b");
  md5.update(text);
  t.is(hex(md5.finish()), "25f9e794323b453885f5181f1b624d0b", "reset after finish");
  const sha = platform.digests.create("sha256");
  sha.update(text);
  t.is(hex(sha.finish()), "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");

  t.is(platform.clock.now(), 0);
  fakes.ticks = (0x7fffff00 + 0x200) | 0; // the signed 32-bit counter wraps to negative
  t.is(platform.clock.now(), 0x200);
  let fired = 0;
  const h = platform.clock.setTimeout(() => fired++, 50);
  t.is(fakes.timers.at(-1)!.ms, 50);
  fakes.timers.at(-1)!.cb();
  t.is(fired, 1);
  platform.clock.clearTimeout(h);
  t.falsy(fakes.timers.at(-1)!.cleared, "a fired one-shot timer is not cleared again");
  const h2 = platform.clock.setTimeout(() => fired++, 10);
  platform.clock.clearTimeout(h2);
  t.true(fakes.timers.at(-1)!.cleared);

  t.is(platform.system.rssi(), -61);
  fakes.rssi = undefined;
  t.is(platform.system.rssi(), undefined);
  t.is(platform.system.batteryPercent(), 100);
  platform.system.restart();
  t.is(restarted, 1);
});
