// The small surface partitions.ts needs from a Moddable flash module. Two implementations:
// flash-ecma419.ts (`embedded:storage/flash`, preferred) and flash-legacy.ts (`flash`, fallback).
// Both open partitions by the names the ESP32 natives understand (moddable-sdk.md §1.1, §1.2):
// "running", "nextota", "xs" (first partition of type 0x40 subtype 0x01) or a data-partition label.

/** One opened partition, as the native module exposes it. Offsets are partition-relative. */
export interface RawFlash {
  /** Partition size in bytes. */
  readonly size: number;
  /** Erase unit in bytes. */
  readonly blockLength: number;
  /** Only when the module reports it (ECMA-419 on Zephyr); ESP32 reports neither. */
  readonly writeAlign?: number;
  readonly eraseValue?: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Erases blocks [first, end). */
  eraseBlocks(first: number, end: number): void;
}

export interface FlashBackend {
  /** The module specifier behind this backend. */
  readonly module: "embedded:storage/flash" | "flash";
  /** Opens by native name; throws "can't find partition" when nothing matches. */
  open(path: string, writable: boolean): RawFlash;
  /** Labels of every partition on the device, when the module can enumerate them (ECMA-419 only). */
  labels(): string[] | undefined;
}

/** An ArrayBuffer holding exactly the bytes of `data`: the view's own buffer when it covers it
 * whole, else a copy. For natives that take an ArrayBuffer and ignore view offsets. */
export function exactArrayBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer;
  if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return data.slice().buffer;
}
