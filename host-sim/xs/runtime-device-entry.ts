// The entry of the device bundle (dist/host-sim/xs/xs-ota-device.js) a fleet board runs inside
// XS (`xs-ota sim fleet --engine xs`): one call of globalThis.main is one power-on: boot
// (runtime-power-on.ts), then the dialect client of args.device serves the board
// (runtime-device.ts) until it restarts; main() settles only when there is nothing to serve.
//
// Type-checked by tsconfig.moddable.json (XS globals, Moddable declarations, no Node).

import { emit, powerOn } from "./runtime-power-on.ts";
import { serveDevice, type ProgressSink } from "./runtime-device.ts";
import type { RuntimeArgs, RuntimeResult } from "./runtime-protocol.ts";

async function main(args: RuntimeArgs): Promise<RuntimeResult> {
  if (!args.device) throw new Error("the device bundle needs args.device");
  const sink: ProgressSink = {};
  const { platform, agent, boot } = await powerOn(args, (p) => sink.progress?.(p));
  return serveDevice(platform, agent, boot, args.device, sink, emit);
}

(globalThis as { main?: (args: RuntimeArgs) => Promise<RuntimeResult> }).main = main;
