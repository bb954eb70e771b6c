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

// What the backends need of the flash modules, declared structurally: these types appear in the
// shipped declarations (ecma419Backend, legacyBackend), which must not import a module specifier
// (an npm package of the same name could answer it in the app's type-check; issue 9 §6). The
// modules' own types (the SDK typings, or types/moddable) are assignable to them.

/** The part of `embedded:storage/flash`'s default export (FlashStorage) the backend uses. */
export interface FlashStorageLike {
  open(options: { path: string; mode?: "r" | "r+" }): FlashLike;
  [Symbol.iterator](): Iterator<string>;
}

/** The part of an `embedded:storage/flash` instance (Flash) the backend uses. */
export interface FlashLike {
  /** ESP32 returns size, blockLength and blocks only; Zephyr also writeAlign and eraseValue. */
  status(): { size: number; blockLength: number; writeAlign?: number; eraseValue?: number };
  read(byteLength: number, byteOffset: number): ArrayBuffer;
  write(buffer: Uint8Array, byteOffset: number): void;
  eraseBlock(start: number, end?: number): void;
}

/** The part of the legacy `flash` module's default export (class Flash) the backend uses. */
export interface LegacyFlashClassLike {
  new (partition: string): LegacyFlashLike;
}

/** The part of a legacy `flash` instance the backend uses. read() is typed `ArrayBuffer | HostBuffer`
 * by the SDK (HostBuffer on ESP8266 only): `object` here, narrowed where it is used. */
export interface LegacyFlashLike {
  readonly byteLength: number;
  readonly blockSize: number;
  read(offset: number, byteLength: number): object;
  write(offset: number, byteLength: number, buffer: ArrayBuffer): void;
  erase(sector: number): void;
}

/** An ArrayBuffer holding exactly the bytes of `data`: the view's own buffer when it covers it
 * whole, else a copy. For natives that take an ArrayBuffer and ignore view offsets. */
export function exactArrayBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer;
  if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return data.slice().buffer;
}
