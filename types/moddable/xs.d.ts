// XS globals used by xs-ota on Moddable devices. Written from shared/reference/moddable-sdk.md
// (§1.1 buffer types, §7.1 xs.d.ts contents, §9 XS extensions); not copied from the SDK typings.
// Only what the runtime uses is declared.

/** Prints to the debugger / serial console. XS converts each argument to a string; no newline is added. */
declare function trace(...values: unknown[]): void;

/** A native buffer (e.g. a memory-mapped flash partition from the legacy `flash` module's map()). */
interface HostBuffer {
  readonly byteLength: number;
}

/**
 * What native buffer APIs accept (xs/sources/xsmc.c `_xsmcGetBuffer`): an ArrayBuffer, a view whose
 * element size is 1, a DataView, or a HostBuffer. A Uint32Array (or any wider view) throws TypeError.
 */
type ByteBuffer = ArrayBuffer | Uint8Array | Int8Array | Uint8ClampedArray | DataView | HostBuffer;

interface ArrayBufferConstructor {
  /** XS extension: the UTF-8 bytes of a string. */
  fromString(string: string): ArrayBuffer;
}

interface StringConstructor {
  /** XS extension: decodes UTF-8 bytes. */
  fromArrayBuffer(buffer: ArrayBuffer): string;
}
