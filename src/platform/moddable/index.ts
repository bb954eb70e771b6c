// The xs-ota Platform on Moddable modules. `createModdablePlatform(options)` resolves the optional
// modules (flash flavour, net) with dynamic imports, finds the running slot, and returns the ports.
// Call it at run time (from main), never at module top level: preloaded modules run at build
// time, where natives such as Flash and Preference are not available (moddable-sdk.md §9).

import type { ChipInfo, LogPort, PartitionInfo, Platform, Sector } from "../../ports.ts";
import { ModdableClock } from "./clock.ts";
import { ModdableDigests } from "./digests.ts";
import type { FlashBackend } from "./flash-backend.ts";
import { loadFlashBackend } from "./flash-select.ts";
import type { FlashModuleChoice } from "./flash-select.ts";
import { ModdableHttp } from "./http.ts";
import type { HttpsOptions } from "./http.ts";
import { PreferenceKeyValue } from "./kv.ts";
import { TraceLog } from "./log.ts";
import type { LogLevel } from "./log.ts";
import { ModdablePartitions, PART_TYPE_APP } from "./partitions.ts";
import { findOtadata, slotFromOtadata } from "./running-slot.ts";
import { ModdableSignatures } from "./signatures.ts";
import { ModdableSystem, loadNet } from "./system.ts";
import type { NetLike, RestartFfi } from "./system.ts";

export interface ModdablePlatformOptions {
  /** The partition table the firmware was built with: the rows of its partitions.csv. The
   * Moddable flash modules cannot report types, subtypes or addresses. */
  layout: readonly PartitionInfo[];
  /** Label of the running app slot, or a function returning it (called once, at creation).
   * Default: derived from otadata like the bootloader's selection (see running-slot.ts). */
  runningSlot?: string | (() => string);
  /** Which flash module to use. Default "auto": embedded:storage/flash, else flash. */
  flashModule?: FlashModuleChoice;
  /** Write unit and erased value when the flash module does not report them (ESP32: 4, 0xFF). */
  writeAlign?: number;
  erasedValue?: number;
  /** The chip's erase sectors (absolute offsets) when they are not uniform (STM32F4); see partitions.ts. */
  sectorMap?: readonly Sector[];
  /** MCUboot: native name of the writable partition holding the primary slot's trailer sector(s),
   * where boot_set_confirmed writes; the running slot itself stays read-only (partitions.ts). */
  runningTrailer?: string;
  /** `preference` domain (NVS namespace, at most 15 characters). Default "xsota". */
  preferenceDomain?: string;
  /** SecureSocket class and `secure` options, needed for https:// URLs. */
  https?: HttpsOptions;
  /** The app's FFI instance (`new FFI()` from "mc/ffi") with esp_restart declared. Without it,
   * restart() uses globalThis.System.restart() when the "system" module is in the build. */
  ffi?: RestartFfi;
  /** Battery charge in percent, or undefined when unknown (no generic Moddable battery API). */
  battery?: () => number | undefined;
  /** trace() log level, a LogPort of the app's own, or false for no log. Default "info". */
  log?: LogLevel | LogPort | false;
  /** The chip (Platform.chip), e.g. { name: "esp32", id: 0, revisionFull: 300 }. Default: the
   * running image's chip id, revision unchecked. */
  chip?: ChipInfo;
}

/** The modules createModdablePlatform loads; pass them to buildModdablePlatform to stay synchronous. */
export interface ModdableModules {
  flash: FlashBackend;
  net?: NetLike;
}

export interface ModdablePlatform extends Platform {
  partitions: ModdablePartitions;
  /** The flash module in use. */
  readonly flashModule: FlashBackend["module"];
}

/** Builds the platform from already loaded modules (synchronous). */
export function buildModdablePlatform(options: ModdablePlatformOptions, modules: ModdableModules): ModdablePlatform {
  const log = makeLog(options.log);
  const running = resolveRunning(options, modules.flash);
  const partitions = new ModdablePartitions(modules.flash, {
    layout: options.layout,
    running,
    writeAlign: options.writeAlign,
    erasedValue: options.erasedValue,
    sectorMap: options.sectorMap,
    runningTrailer: options.runningTrailer,
  });
  const platform: ModdablePlatform = {
    partitions,
    kv: new PreferenceKeyValue(options.preferenceDomain),
    http: new ModdableHttp(options.https),
    clock: new ModdableClock(),
    digests: new ModdableDigests(),
    signatures: new ModdableSignatures(),
    system: new ModdableSystem({ ffi: options.ffi, battery: options.battery, net: modules.net }),
    flashModule: modules.flash.module,
  };
  if (options.chip) platform.chip = options.chip;
  if (log) {
    platform.log = log;
    log.log("info", `moddable platform: ${modules.flash.module}, running ${running}, next ${partitions.nextOta() ?? "-"}`);
  }
  return platform;
}

/** Loads the flash module (embedded:storage/flash or flash) and net, then builds the platform. */
export async function createModdablePlatform(options: ModdablePlatformOptions): Promise<ModdablePlatform> {
  const flash = await loadFlashBackend(options.flashModule);
  const net = await loadNet();
  return buildModdablePlatform(options, net ? { flash, net } : { flash });
}

function resolveRunning(options: ModdablePlatformOptions, flash: FlashBackend): string {
  const given = options.runningSlot;
  if (typeof given === "string") return given;
  if (typeof given === "function") return given();
  const otadata = findOtadata(options.layout);
  if (!otadata) return slotFromOtadata(options.layout, undefined);
  const raw = flash.open(otadata.label, false);
  return slotFromOtadata(options.layout, (offset, length) => raw.read(offset, length));
}

function makeLog(option: ModdablePlatformOptions["log"]): LogPort | undefined {
  if (option === false) return undefined;
  if (option === undefined) return new TraceLog("info");
  if (typeof option === "string") return new TraceLog(option);
  return option;
}

export { ModdablePartitions, PART_TYPE_APP };
export { PreferenceKeyValue } from "./kv.ts";
export { ModdableHttp } from "./http.ts";
export type { HttpsOptions } from "./http.ts";
export { ModdableClock } from "./clock.ts";
export { ModdableDigests } from "./digests.ts";
export { ModdableSignatures } from "./signatures.ts";
export { ModdableSystem } from "./system.ts";
export type { NetLike, RestartFfi } from "./system.ts";
export { TraceLog } from "./log.ts";
export type { LogLevel } from "./log.ts";
export { loadFlashBackend } from "./flash-select.ts";
export type { FlashModuleChoice } from "./flash-select.ts";
export type { FlashBackend, FlashLike, FlashStorageLike, LegacyFlashClassLike, LegacyFlashLike, RawFlash } from "./flash-backend.ts";
export { ecma419Backend } from "./flash-ecma419.ts";
export { legacyBackend } from "./flash-legacy.ts";
export { createModdableMqtt, ModdableMqtt } from "./mqtt.ts";
export type { MqttClientLike, ModdableMqttOptions, ModdableMqttWill } from "./mqtt.ts";
