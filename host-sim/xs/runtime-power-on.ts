// One power-on of a simulated board inside XS, shared by the two entries of the runtime's
// script bundles (runtime-entry.ts: an update; runtime-device-entry.ts: a fleet board's device
// client): the platform from buildModdablePlatform over the flash module the build has
// (embedded:storage/flash, else flash) and net (the running slot comes from the host, whose
// bootloader knows which slot it booted; a device asks ESP-IDF through FFI, see
// examples/esp32), the agent with the args' boot target, and agent.boot(). Events the host counts
// or shows (boot report, progress, interruptions, log lines) are trace() lines starting with
// EVENT_PREFIX, in the order they happen (host-sim/sim-update.ts parses them).
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
import type { BootReport, Progress } from "../../src/agent/types.ts";
import { EVENT_PREFIX, type RuntimeArgs, type RuntimeEvent, type RuntimeTarget } from "./runtime-protocol.ts";

/** The boot target args.target names, over the platform's partitions. */
function bootTarget(platform: Platform, t: RuntimeTarget): BootTarget {
  const common = { partitions: platform.partitions, digests: platform.digests, signatures: platform.signatures, keys: t.keys.map((k) => parseSpki(fromHex(k))) };
  if (t.kind === "mcuboot") {
    return new McubootTarget({ ...common, strategy: t.strategy, maxAlign: t.maxAlign, primary: t.primary, secondary: t.secondary });
  }
  return new DualBankTarget({ ...common, banks: t.banks, flags: t.flags, optionBytes: pageOptionBytes(platform.partitions.open(t.optionBytes)) });
}

export function emit(event: RuntimeEvent): void {
  trace(`${EVENT_PREFIX}${JSON.stringify(event)}\n`);
}

/** Builds the platform and the agent, and boots. `onProgress` also hears the agent's progress
 * (args.progress forwards it to the host as events). */
export async function powerOn(args: RuntimeArgs, onProgress?: (p: Progress) => void): Promise<{ platform: Platform; agent: Agent; boot: BootReport }> {
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
  const forward = args.progress === true;
  const agent: Agent = new Agent({
    platform,
    target: args.target ? bootTarget(platform, args.target) : undefined,
    journalLabel: args.target?.journal,
    selfTest: (): boolean => !(failSelfTest && agent.runningVersion() === args.toVersion),
    // Off unless someone listens: each progress call costs XS work (measurements).
    onProgress: forward || onProgress ? (p) => {
      if (forward) emit({ kind: "progress", phase: p.phase, bytes: p.bytes, total: p.total, percent: p.percent });
      onProgress?.(p);
    } : undefined,
    download: args.download,
    onInterruption: (reason, at) => emit({ kind: "interruption", reason, at }),
  });
  const boot = await agent.boot();
  emit({ kind: "boot", report: boot });
  return { platform, agent, boot };
}
