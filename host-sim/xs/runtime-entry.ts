// The entry of the script bundle host-sim runs inside the XS engine (engine "xs" of
// `xs-ota sim update` and `sim torture`, bench:xs, and the emulated board's firmware): one call of
// globalThis.main is one power-on of the simulated board after its bootloader ran. Built by
// rollup (rollup.config.mjs, host-sim/xs/bundles.ts) with moddableGlobals(): the Moddable
// specifiers resolve to host-sim's shims, everything else is the portable runtime (src/) and its
// Moddable platform layer (src/platform/moddable/), as on a device.
//
//   main(args) -> { boot, update? }     (JSON)
//
// - runtime-power-on.ts builds the platform and the agent and boots; boot() settles what the
//   last power-on left. Unless it restarted (the worker dies inside restart(), so main never
//   returns) or it reports the last update, update(args.offer) runs.
// - A fleet board's device client is another bundle (runtime-device-entry.ts), so the update this
//   one measures carries none of the dialect clients.
//
// Type-checked by tsconfig.moddable.json (XS globals, Moddable declarations, no Node).

import { powerOn } from "./runtime-power-on.ts";
import type { RuntimeArgs, RuntimeResult } from "./runtime-protocol.ts";

async function main(args: RuntimeArgs): Promise<RuntimeResult> {
  const { agent, boot } = await powerOn(args);
  if (boot.lastUpdate) return { boot };
  if (args.settledVersion !== undefined && boot.version === args.settledVersion && (boot.imageState === "valid" || boot.imageState === "undefined" || boot.imageState === "confirmed")) {
    return { boot };
  }
  const update = await agent.update(args.offer);
  return { boot, update };
}

(globalThis as { main?: (args: RuntimeArgs) => Promise<RuntimeResult> }).main = main;
