// Legacy flash module, `import Flash from "flash"`.
// Written from shared/reference/moddable-sdk.md §1.1 and modules/files/flash/{flash.js, esp32/flash.c}.
// Manifest: $(MODULES)/files/flash/manifest.json (esp, esp32 and nrf52 only; preloaded).

declare module "flash" {
  export default class Flash {
    /**
     * ESP32: "xs" (type 0x40 subtype 0x01), "running", "nextota", or the label of a **data**
     * partition. Throws "can't find partition". (nrf52 also has an (offset, byteLength) form, not
     * declared here because xs-ota does not support nrf52.)
     */
    constructor(partition: string);
    /** Erases one block; the index is relative to the partition. Throws "erase failed". */
    erase(sector: number): void;
    /** A new ArrayBuffer (ESP32 always returns an ArrayBuffer; HostBuffer results are ESP8266-only). */
    read(offset: number, byteLength: number): ArrayBuffer;
    /**
     * No bufferOffset parameter: to write part of a buffer pass a Uint8Array view. Older ESP32
     * builds read the argument with xsmcToArrayBuffer, so an exact ArrayBuffer is the portable choice.
     */
    write(offset: number, byteLength: number, buffer: ByteBuffer): void;
    /** Read-only mapping of the whole partition, kept until the Flash object is collected. */
    map(): HostBuffer;
    /** Partition size in bytes. */
    readonly byteLength: number;
    /** Erase unit (SPI_FLASH_SEC_SIZE, 4096, on ESP32). */
    readonly blockSize: number;
    // There is no close() method, although documentation/files/files.md lists one.
  }
}
