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
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

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

/** The library bundle, built once into its real place (dist/ is not committed). */
const bundleDir = r("dist/moddable");
let bundleBuilt: { ok: boolean; output: string } | undefined;
function buildBundle(): { ok: boolean; output: string } {
  if (!bundleBuilt) {
    const b = spawnSync(process.execPath, [r("examples/esp32/bundle-xs-ota.mjs"), bundleDir], { encoding: "utf8" });
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
  const { LAYOUT } = (await import("../examples/esp32/layout.ts")) as { LAYOUT: readonly Row[] };
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

test("the example compiles against the bundle's declarations with mcconfig-like settings", (t) => {
  const b = buildBundle();
  t.true(b.ok, b.output);
  if (!b.ok) return;
  const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-app-"));
  try {
    const decl = (name: string): string[] => [r("types/moddable", name)];
    const config = {
      compilerOptions: {
        // As mcconfig's generated tsconfig-base.json (moddable-sdk.md §7.3) plus the library
        // manifest's typescript.tsconfig (skipLibCheck) and the example's (strict).
        forceConsistentCasingInFileNames: true,
        module: "preserve",
        moduleResolution: "bundler",
        resolveJsonModule: true,
        lib: ["es2025"],
        target: "es2025",
        strict: true,
        skipLibCheck: true,
        types: [],
        noEmit: true,
        paths: {
          "xs-ota": [path.join(bundleDir, "xs-ota")],
          "mc/ffi": decl("mc-ffi.d.ts"),
          "mc/config": decl("mc-config.d.ts"),
        },
      },
      files: [
        r("examples/esp32/main.ts"),
        r("examples/esp32/layout.ts"),
        r("examples/esp32/ffi.d.ts"),
        r("types/moddable/index.d.ts"),
      ],
    };
    const file = path.join(dir, "tsconfig.json");
    writeFileSync(file, JSON.stringify(config, null, 2));
    const res = tsc(["-p", file]);
    t.true(res.ok, res.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
