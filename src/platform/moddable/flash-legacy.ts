// FlashBackend on the legacy `flash` module (moddable-sdk.md §1.1; modules/files/flash/flash.js,
// esp32/flash.c). Manifest: $(MODULES)/files/flash/manifest.json (esp, esp32, nrf52). The module
// has no mode, no close() and cannot list partitions; partitions.ts enforces read-only in JS.

import type { FlashBackend, LegacyFlashClassLike, LegacyFlashLike, RawFlash } from "./flash-backend.ts";
import { exactArrayBuffer } from "./flash-backend.ts";

class LegacyFlash implements RawFlash {
  readonly size: number;
  readonly blockLength: number;
  readonly #flash: LegacyFlashLike;

  constructor(flash: LegacyFlashLike) {
    this.#flash = flash;
    this.size = flash.byteLength;
    this.blockLength = flash.blockSize;
  }

  read(offset: number, length: number): Uint8Array {
    const bytes = this.#flash.read(offset, length);
    // A HostBuffer comes back only on ESP8266 with useHostBuffer, which is never passed.
    if (!(bytes instanceof ArrayBuffer)) throw new Error("flash: read() did not return an ArrayBuffer");
    return new Uint8Array(bytes);
  }

  write(offset: number, data: Uint8Array): void {
    // write(offset, byteLength, buffer) has no bufferOffset; older ESP32 natives take the argument
    // with xsmcToArrayBuffer, so hand over an ArrayBuffer holding exactly these bytes.
    this.#flash.write(offset, data.byteLength, exactArrayBuffer(data));
  }

  eraseBlocks(first: number, end: number): void {
    for (let block = first; block < end; block++) this.#flash.erase(block);
  }
}

/** A backend on an already imported `flash` default export. */
export function legacyBackend(Flash: LegacyFlashClassLike): FlashBackend {
  return {
    module: "flash",
    open(path: string): RawFlash {
      return new LegacyFlash(new Flash(path));
    },
    labels(): undefined {
      return undefined;
    },
  };
}

/** Imports `flash`; rejects when the build does not include it. */
export async function loadLegacyBackend(): Promise<FlashBackend> {
  const module = await import("flash");
  return legacyBackend(module.default);
}
