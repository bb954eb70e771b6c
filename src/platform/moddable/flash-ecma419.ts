// FlashBackend on the ECMA-419 module `embedded:storage/flash` (moddable-sdk.md §1.2;
// modules/io/flash/esp32/flash-esp32.{js,c}). Manifest: $(MODDABLE)/modules/io/flash/manifest.json
// (esp32, mac, zephyr). The module is loaded with a dynamic import so that a build without it can
// fall back to the legacy `flash` module (see flash-select.ts).

import type { FlashBackend, FlashLike, FlashStorageLike, RawFlash } from "./flash-backend.ts";

class Ecma419Flash implements RawFlash {
  readonly size: number;
  readonly blockLength: number;
  readonly writeAlign?: number;
  readonly eraseValue?: number;
  readonly #flash: FlashLike;

  constructor(flash: FlashLike) {
    this.#flash = flash;
    const status = flash.status();
    this.size = status.size;
    this.blockLength = status.blockLength;
    // ESP32's status() has neither; Zephyr's has both (moddable-sdk.md §1.2, §10).
    if (typeof status.writeAlign === "number") this.writeAlign = status.writeAlign;
    if (typeof status.eraseValue === "number") this.eraseValue = status.eraseValue;
  }

  read(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.#flash.read(length, offset));
  }

  write(offset: number, data: Uint8Array): void {
    // The native reads the view's own bytes (xsmcGetBufferReadable honours offset and length).
    this.#flash.write(data, offset);
  }

  eraseBlocks(first: number, end: number): void {
    this.#flash.eraseBlock(first, end);
  }
}

/** A backend on an already imported `embedded:storage/flash` default export. */
export function ecma419Backend(Flash: FlashStorageLike): FlashBackend {
  return {
    module: "embedded:storage/flash",
    open(path: string, writable: boolean): RawFlash {
      return new Ecma419Flash(Flash.open({ path, mode: writable ? "r+" : "r" }));
    },
    labels(): string[] {
      const labels: string[] = [];
      const it = Flash[Symbol.iterator]();
      for (let r = it.next(); !r.done; r = it.next()) labels.push(r.value);
      return labels;
    },
  };
}

/** Imports `embedded:storage/flash`; rejects when the build does not include it. */
export async function loadEcma419Backend(): Promise<FlashBackend> {
  const module = await import("embedded:storage/flash");
  return ecma419Backend(module.default);
}
