// The library's single entry for Moddable apps: `import {Agent, createModdablePlatform} from "xs-ota"`.
// The library manifest maps the specifier "xs-ota" to a bundle of this file (dist/moddable/xs-ota.js,
// built by rollup: rollup.config.mjs, host-sim/xs/bundles.ts): XS resolves only one "./" or "../" level in a module
// specifier (xs/platforms/mc/xsHosts.c fxFindModule), so src/'s "../../x.ts" imports cannot be
// loaded module by module on a device. The portable part is api.ts; index.ts is the platform.

export * from "./api.ts";
export * from "./index.ts";
