// The library's single entry for Moddable apps: `import {Agent, createModdablePlatform} from "xs-ota"`.
// The library manifest maps the specifier "xs-ota" to a bundle of this file (dist/moddable/xs-ota.js,
// built by rollup: rollup.config.mjs, host-sim/xs/bundles.ts): XS resolves only one "./" or "../" level in a module
// specifier (xs/platforms/mc/xsHosts.c fxFindModule), so src/'s "../../x.ts" imports cannot be
// loaded module by module on a device.

export { Agent } from "../../agent/agent.ts";
export type { AgentOptions } from "../../agent/agent.ts";
export type { BootReport, Progress, Phase, UpdateResult } from "../../agent/types.ts";
export type { Offer } from "../../agent/offer.ts";
export { ErrorCode, OtaError } from "../../errors.ts";
export type { ErrorCodeValue } from "../../errors.ts";
export type * from "../../ports.ts";
export * from "./index.ts";
