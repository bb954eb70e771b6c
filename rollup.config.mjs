// rollup -c: the bundles of xs-ota (see host-sim/xs/bundles.ts, which defines them):
//   dist/moddable/xs-ota.js (+ .d.ts)      ES module for Moddable apps (Moddable specifiers external)
//   dist/host-sim/xs/xs-ota-runtime.js     script for host-sim's XS engine (engine "xs")
//   dist/host-sim/xs/xs-ota-device.js      script a fleet board runs in XS (sim fleet --engine xs)
// `rollup -c --configOnly moddable` (or xs: the two scripts) builds some of them.
// The definitions are TypeScript: tsx's loader is registered to import them.

import { register } from "tsx/esm/api";

register();
const { rollupConfigs } = await import("./host-sim/xs/bundles.ts");

export default (args) => {
  const only = args.configOnly;
  if (only !== undefined && only !== "moddable" && only !== "xs") throw new Error(`--configOnly ${only}: use moddable or xs`);
  return rollupConfigs(only);
};
