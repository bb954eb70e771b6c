// What host-sim/xs/runtime-entry.ts (inside XS) and host-sim/sim-update.ts (the host) exchange:
// the arguments of one power-on, its result, and the events sent as trace() lines.
// Plain ECMAScript and types only: compiled for both sides.

import type { BootReport, UpdateResult } from "../../src/agent/types.ts";
import type { ChipInfo, PartitionInfo, Sector } from "../../src/ports.ts";
import type { McubootStrategy } from "../../src/targets/mcuboot/trailer.ts";
import type { DownloadTuning } from "../../src/download/downloader.ts";

/** trace() lines carrying an event for the host: EVENT_PREFIX + JSON + "\n". */
export const EVENT_PREFIX = "\u0001xs-ota-event ";

export interface RuntimeArgs {
  /** The partition table (the board's, as a device's firmware is built with it). */
  layout: PartitionInfo[];
  /** Label of the slot the bootloader booted. */
  runningSlot: string;
  /** The board's chip (Platform.chip). */
  chip?: ChipInfo;
  /** The update offer (JSON, as the cloud sends it). */
  offer: unknown;
  /** Skip update() when the running image is this version and confirmed (the update settled
   * but its report was lost with a power cut). */
  settledVersion?: string;
  /** The self-test fails when the running version is `toVersion`. */
  failSelfTest?: boolean;
  toVersion?: string;
  battery?: number;
  download?: DownloadTuning;
  /** "auto" (default): embedded:storage/flash, else the legacy flash module. */
  flashModule?: "auto" | "embedded:storage/flash" | "flash";
  /** Forward progress events (each costs a little XS work: off for measurements). */
  progress?: boolean;
  /** Forward every log line (default: warn and error only). */
  verbose?: boolean;
  /** The flash write unit when the flash module does not report it (8 on STM32L4). */
  writeAlign?: number;
  /** The chip's erase sectors (absolute offsets) when they are not uniform (STM32F4). */
  sectorMap?: Sector[];
  /** A boot target other than the default ESP-IDF one (the STM32 boards). */
  target?: RuntimeTarget;
  /** Device mode (`sim fleet --engine xs`): after boot(), poll the server in its HTTP manifest
   * dialect (HttpDevice, as examples/esp32 does) instead of running update(offer); main() then
   * settles only when the image is invalid (nothing to report), else the device runs until it
   * restarts or the host stops it. `offer` is ignored. */
  device?: RuntimeDevice;
}

export interface RuntimeDevice {
  /** Default http (manifest polling); alibaba and quec talk MQTT to `broker` (the mqtt shim). */
  dialect?: "http" | "alibaba" | "quec";
  /** http://host:port of `xs-ota server`. */
  server: string;
  broker?: { host: string; port: number };
  product: string;
  device: string;
  pollMs: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  timeoutMs?: number;
  /** Progress report throttling (HttpDevice's `progress`). */
  progress?: { minIntervalMs?: number; minStep?: number };
}

export type RuntimeTarget = DualBankRuntimeTarget | McubootRuntimeTarget;

export interface McubootRuntimeTarget {
  kind: "mcuboot";
  /** Trusted keys: DER SubjectPublicKeyInfo as hex. */
  keys: string[];
  strategy: McubootStrategy;
  maxAlign: number;
  primary: string;
  secondary: string;
  /** Native name of the primary slot's trailer sector(s), opened writable (partitions.ts). */
  trailer: string;
  journal: string;
}

export interface DualBankRuntimeTarget {
  kind: "stm32-dualbank";
  /** Trusted keys: DER SubjectPublicKeyInfo as hex. */
  keys: string[];
  banks: [string, string];
  flags: string;
  /** The page standing for the option bytes (option-bytes.ts pageOptionBytes). */
  optionBytes: string;
  journal: string;
}

export interface RuntimeResult {
  boot: BootReport;
  update?: UpdateResult;
}

export type RuntimeEvent =
  | { kind: "boot"; report: BootReport }
  | { kind: "progress"; phase: string; bytes: number; total: number; percent: number }
  | { kind: "interruption"; reason: string; at: number }
  | { kind: "log"; level: string; message: string }
  /** Device mode: an update ran and its reports were sent (HttpDevice onResult). */
  | { kind: "result"; result: UpdateResult }
  /** Device mode: a poll that did not end quietly (refused offer, failed poll). */
  | { kind: "poll"; outcome: string; reason: string };

/** Parses one trace() text; undefined when it is not an event. */
export function parseRuntimeEvent(text: string): RuntimeEvent | undefined {
  if (!text.startsWith(EVENT_PREFIX)) return undefined;
  return JSON.parse(text.slice(EVENT_PREFIX.length)) as RuntimeEvent;
}
