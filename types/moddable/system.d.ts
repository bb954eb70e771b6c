// Restart without FFI: the ECMA-419 IO manifest $(MODDABLE)/modules/io/manifest.json adds the
// module "system" (modules/io/system/system.js). Importing it has only side effects: it installs
// globalThis.System and globalThis.device; it has no exports. (The SDK's typings declare a module
// "embedded:io/system" instead, which is not the specifier the manifest provides.)
// Written from shared/reference/moddable-sdk.md §6.2.

interface ModdableSystem {
  /** esp_restart() on ESP32, system_restart() on ESP8266, pico_reset() on Pico. Does not return on a device. */
  restart(): void;
  /** ESP8266 only; the JS wrapper does not forward arguments. */
  deepSleep(): void;
  setTimeout(callback: () => void, delay: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Present only when the "system" module was included and imported; otherwise undefined. */
declare var System: ModdableSystem | undefined;

declare module "system" {}
