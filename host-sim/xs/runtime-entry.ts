// The entry of the script bundle host-sim runs inside the XS engine (engine "xs" of
// `xs-ota sim update`): one call of globalThis.main is one power-on of the simulated board after
// its bootloader ran. Built by rollup (rollup.config.mjs, host-sim/xs/bundles.ts) with
// moddableGlobals(): the Moddable specifiers resolve to host-sim's shims, everything else is the
// portable runtime (src/) and its Moddable platform layer (src/platform/moddable/), as on a device.
//
//   main(args) -> { boot, update? }     (JSON)
//
// - The platform is built with buildModdablePlatform from the flash module the build has
//   (embedded:storage/flash, else flash) and net; the running slot comes from the host, whose
//   bootloader knows which slot it booted (a device asks ESP-IDF through FFI, see examples/esp32).
// - boot() settles what the last power-on left; unless it restarted (the worker dies inside
//   restart(), so main never returns) or it reports the last update, update(args.offer) runs.
// - Device mode (args.device, `sim fleet --engine xs`): after boot(), the HTTP dialect client
//   polls the server and installs what it offers (runtime-device.ts); main() does not settle.
// - Events the host counts or shows (boot report, progress, interruptions) are sent as trace()
//   lines starting with EVENT_PREFIX, in the order they happen (host-sim/sim-update.ts parses them).
//
// Type-checked by tsconfig.moddable.json (XS globals, Moddable declarations, no Node).

import { Agent } from "../../src/agent/agent.ts";
import type { LogPort, Platform } from "../../src/ports.ts";
import type { BootTarget } from "../../src/targets/boot-target.ts";
import { McubootTarget } from "../../src/targets/mcuboot/mcuboot-target.ts";
import { DualBankTarget } from "../../src/targets/stm32-dualbank/dualbank-target.ts";
import { pageOptionBytes } from "../../src/targets/stm32-dualbank/option-bytes.ts";
import { parseSpki } from "../../src/crypto/public-key.ts";
import { fromHex } from "../../src/util/bytes.ts";
import { buildModdablePlatform } from "../../src/platform/moddable/index.ts";
import { loadFlashBackend } from "../../src/platform/moddable/flash-select.ts";
import { loadNet } from "../../src/platform/moddable/system.ts";
import { serveDevice, type ProgressSink } from "./runtime-device.ts";
import { EVENT_PREFIX, type RuntimeArgs, type RuntimeEvent, type RuntimeResult, type RuntimeTarget } from "./runtime-protocol.ts";

/** The boot target args.target names, over the platform's partitions. */
function bootTarget(platform: Platform, t: RuntimeTarget): BootTarget {
  if (t.kind === "mcuboot") {
    return new McubootTarget({
      partitions: platform.partitions,
      digests: platform.digests,
      signatures: platform.signatures,
      keys: t.keys.map((k) => parseSpki(fromHex(k))),
      strategy: t.strategy,
      maxAlign: t.maxAlign,
      primary: t.primary,
      secondary: t.secondary,
    });
  }
  return new DualBankTarget({
    partitions: platform.partitions,
    digests: platform.digests,
    signatures: platform.signatures,
    keys: t.keys.map((k) => parseSpki(fromHex(k))),
    banks: t.banks,
    flags: t.flags,
    optionBytes: pageOptionBytes(platform.partitions.open(t.optionBytes)),
  });
}

function emit(event: RuntimeEvent): void {
  trace(`${EVENT_PREFIX}${JSON.stringify(event)}\n`);
}

async function main(args: RuntimeArgs): Promise<RuntimeResult> {
  const flash = await loadFlashBackend(args.flashModule ?? "auto");
  const net = await loadNet();
  const verbose = args.verbose === true;
  const log: LogPort = {
    log(level, message) {
      if (verbose || level === "warn" || level === "error") emit({ kind: "log", level, message });
    },
  };
  const battery = args.battery;
  const platform = buildModdablePlatform(
    {
      layout: args.layout,
      runningSlot: args.runningSlot,
      log,
      battery: () => battery,
      chip: args.chip,
      writeAlign: args.writeAlign,
      sectorMap: args.sectorMap,
      runningTrailer: args.target?.kind === "mcuboot" ? args.target.trailer : undefined,
    },
    net ? { flash, net } : { flash },
  );
  const failSelfTest = args.failSelfTest === true;
  const sink: ProgressSink = {};
  const forward = args.progress === true;
  const agent: Agent = new Agent({
    platform,
    target: args.target ? bootTarget(platform, args.target) : undefined,
    journalLabel: args.target?.journal,
    selfTest: (): boolean => !(failSelfTest && agent.runningVersion() === args.toVersion),
    // Off unless someone listens: each progress call costs XS work (measurements).
    onProgress: forward || args.device ? (p) => {
      if (forward) emit({ kind: "progress", phase: p.phase, bytes: p.bytes, total: p.total, percent: p.percent });
      sink.progress?.(p);
    } : undefined,
    download: args.download,
    onInterruption: (reason, at) => emit({ kind: "interruption", reason, at }),
  });
  const boot = await agent.boot();
  emit({ kind: "boot", report: boot });
  if (args.device) return serveDevice(platform, agent, boot, args.device, sink, emit);
  if (boot.lastUpdate) return { boot };
  if (args.settledVersion !== undefined && boot.version === args.settledVersion && (boot.imageState === "valid" || boot.imageState === "undefined" || boot.imageState === "confirmed")) {
    return { boot };
  }
  const update = await agent.update(args.offer);
  return { boot, update };
}

(globalThis as { main?: (args: RuntimeArgs) => Promise<RuntimeResult> }).main = main;
