// Rollup plugin for the "xs" engine bundle: Moddable module specifiers resolve to the host-sim
// shims' registry (globalThis.__moddable, installed by host-sim/xs/shims/core.js before the
// bundle runs), so the runtime can be bundled as a single *script* (IIFE, no import statements)
// and evaluated inside xsnap-worker.
//
//   import { rollup } from "rollup";
//   const bundle = await rollup({ input: "src/platform/moddable/xs-entry.ts", plugins: [moddableGlobals(), typescript(...)] });
//   const { output } = await bundle.generate({ format: "iife", inlineDynamicImports: true });
//
// moddableGlobalsEsbuild() does the same for esbuild (format "iife", bundle: true).
//
// - static imports (`import Flash from "flash"`, `import { Request } from "http"`) become a
//   small virtual module `const ns = globalThis.__moddable.require("http"); export const
//   Request = ns.Request; ...`. A specifier missing from the registry throws when the bundle is
//   evaluated, as a missing module fails to link on the device.
// - dynamic imports (`await import("net")`) stay external and are rendered as
//   `globalThis.__moddable.import("net")`, a promise that rejects when the module is absent
//   (XsEngineOptions.omitModules), as import() of a module missing from the build rejects.
// - type-only imports are erased by TypeScript before this plugin sees them.
//
// The entry point: the bundle must define the global the engine calls, e.g.
//   globalThis.main = async (args) => { ...; return jsonValue; };
// (an IIFE cannot export). startXsEngine({ entry }) selects another name.

import type { Plugin } from "rollup";

/** Specifiers the shims provide, with their named exports ("default" = default export). */
export const MODDABLE_MODULES: Readonly<Record<string, readonly string[]>> = {
  "embedded:storage/flash": ["default"],
  flash: ["default"],
  preference: ["default"],
  http: ["default", "Request", "Server"],
  securesocket: ["default"],
  mqtt: ["default"],
  crypt: ["default", "Digest", "BlockCipher", "StreamCipher", "Mode", "GHASH"],
  ecp: ["default"],
  curve: ["default"],
  ecdsa: ["default"],
  rsa: ["default"],
  timer: ["default"],
  time: ["default"],
  system: ["default"],
  "mc/ffi": ["default"],
  "mc/config": ["default"],
  net: ["default"],
  "text/decoder": ["default"],
  "text/encoder": ["default"],
};

export interface ModdableGlobalsOptions {
  /** Extra specifiers (and their named exports) provided by additional shims. */
  extraModules?: Record<string, readonly string[]>;
  /** Other specifiers to treat as Moddable modules even if unknown here (resolved through the
   * registry with the default export only), e.g. /^embedded:/ or "mqtt". */
  passThrough?: (string | RegExp)[];
}

const PREFIX = "\0moddable:";
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The rollup plugin (a plain object: usable with rollup 3/4 and compatible bundlers). */
export function moddableGlobals(options: ModdableGlobalsOptions = {}): Plugin {
  const modules: Record<string, readonly string[]> = { ...MODDABLE_MODULES, ...options.extraModules };
  const passThrough = options.passThrough ?? [];
  const known = (id: string): boolean =>
    id in modules || passThrough.some((p) => (typeof p === "string" ? p === id : p.test(id)));

  return {
    name: "xs-ota-moddable-globals",
    resolveId(source) {
      if (typeof source === "string" && known(source)) return PREFIX + source;
      return null;
    },
    resolveDynamicImport(specifier) {
      if (typeof specifier === "string" && known(specifier)) return { id: specifier, external: true };
      return null;
    },
    renderDynamicImport({ targetModuleId }) {
      if (targetModuleId && known(targetModuleId)) return { left: "globalThis.__moddable.import(", right: ")" };
      return null;
    },
    load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const specifier = id.slice(PREFIX.length);
      return { code: virtualModule(specifier, modules[specifier]), moduleSideEffects: true };
    },
  };
}

/** The source of the module that stands for `specifier` in the bundle. */
export function virtualModule(specifier: string, names: readonly string[] = ["default"]): string {
  const lines = [`const ns = globalThis.__moddable.require(${JSON.stringify(specifier)});`];
  for (const name of names) {
    if (name === "default") lines.push("export default ns.default;");
    else if (IDENTIFIER.test(name)) lines.push(`export const ${name} = ns.${name};`);
  }
  return lines.join("\n");
}

/** The minimal shape of an esbuild plugin (kept structural: esbuild is not a dependency). */
export interface EsbuildPluginLike {
  name: string;
  setup(build: {
    onResolve(options: { filter: RegExp }, callback: (args: { path: string }) => { path: string; namespace: string } | undefined): void;
    onLoad(options: { filter: RegExp; namespace: string }, callback: (args: { path: string }) => { contents: string; loader: "js" }): void;
  }): void;
}

/** The same mapping for esbuild (`format: "iife"`): static and dynamic imports both become the
 * virtual module; esbuild evaluates a dynamically imported module lazily, so import() of a
 * module missing from the registry rejects, as on the device. */
export function moddableGlobalsEsbuild(options: ModdableGlobalsOptions = {}): EsbuildPluginLike {
  const modules: Record<string, readonly string[]> = { ...MODDABLE_MODULES, ...options.extraModules };
  const passThrough = options.passThrough ?? [];
  const known = (id: string): boolean =>
    id in modules || passThrough.some((p) => (typeof p === "string" ? p === id : p.test(id)));
  return {
    name: "xs-ota-moddable-globals",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => (known(args.path) ? { path: args.path, namespace: "moddable" } : undefined));
      build.onLoad({ filter: /.*/, namespace: "moddable" }, (args) => ({ contents: virtualModule(args.path, modules[args.path]), loader: "js" }));
    },
  };
}
