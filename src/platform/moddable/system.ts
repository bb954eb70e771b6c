// SystemPort on Moddable (moddable-sdk.md §6.2 - §6.4).
// - restart(): XS FFI `esp_restart` when the app passes its FFI instance (the app manifest declares
//   "ffi": {"functions": {"esp_restart": {"arguments": [], "returns": "void"}}} and the app does
//   `new FFI()` from "mc/ffi"); else globalThis.System.restart() when the app included
//   $(MODDABLE)/modules/io/manifest.json and imported "system"; else it throws.
// - batteryPercent(): Moddable has no generic battery API; the app passes a function (ADC or PMIC).
// - rssi(): Net.get("RSSI") from the `net` module, undefined when not associated.

import type { SystemPort } from "../../ports.ts";

/** What restart needs from an FFI instance (`new FFI()` from "mc/ffi"). */
export interface RestartFfi {
  esp_restart(): void;
}

/** The part of the `net` module's default export used here. */
export interface NetLike {
  get(property: "RSSI"): number | undefined;
}

export interface SystemOptions {
  ffi?: RestartFfi;
  battery?: () => number | undefined;
  net?: NetLike;
}

export class ModdableSystem implements SystemPort {
  readonly #ffi: RestartFfi | undefined;
  readonly #battery: (() => number | undefined) | undefined;
  readonly #net: NetLike | undefined;

  constructor(options: SystemOptions = {}) {
    this.#ffi = options.ffi;
    this.#battery = options.battery;
    this.#net = options.net;
  }

  restart(): void {
    if (this.#ffi) {
      this.#ffi.esp_restart();
      return;
    }
    const system = globalThis.System;
    if (system && typeof system.restart === "function") {
      system.restart();
      return;
    }
    throw new Error(
      "xs-ota: no way to restart: pass `ffi: new FFI()` (manifest ffi.functions.esp_restart) " +
        "or include $(MODDABLE)/modules/io/manifest.json and load its \"system\" module",
    );
  }

  batteryPercent(): number | undefined {
    if (!this.#battery) return undefined;
    const v = this.#battery();
    if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
    return Math.min(100, Math.max(0, v));
  }

  rssi(): number | undefined {
    if (!this.#net) return undefined;
    try {
      const v = this.#net.get("RSSI");
      return typeof v === "number" && Number.isFinite(v) ? v : undefined;
    } catch {
      return undefined; // Wi-Fi not started
    }
  }
}

/** Imports `net` if the build has it. */
export async function loadNet(): Promise<NetLike | undefined> {
  try {
    const module = await import("net");
    return module.default;
  } catch {
    return undefined;
  }
}
