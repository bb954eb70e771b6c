// ECMA-419 flash storage, `import Flash from "embedded:storage/flash"`.
// Written from shared/reference/moddable-sdk.md §1.2 and modules/io/flash/esp32/flash-esp32.js.
// Manifest: $(MODDABLE)/modules/io/flash/manifest.json (esp32, mac and zephyr only; preloaded).

declare module "embedded:storage/flash" {
  export interface FlashOpenOptions {
    /**
     * ESP32: "xs" (the first partition of type 0x40 subtype 0x01), "running"
     * (esp_ota_get_running_partition), "nextota" (esp_ota_get_next_update_partition(NULL)), or the
     * label of a partition of type **data** (esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ANY,
     * label)): app partitions such as "ota_1" are not found by label.
     * Zephyr: a Device Tree fixed-partition label.
     */
    path: string;
    /** "r" or "r+". Default: writable. Writing or erasing a partition opened "r" throws "read-only". */
    mode?: "r" | "r+";
  }

  /**
   * What status() returns. The SDK typing declares writeAlign and eraseValue as always present;
   * kept optional here on purpose because the ESP32 runtime (flash-esp32.c) returns only size,
   * blockLength and blocks; Zephyr's (flash-zephyr.c) sets all five (moddable-sdk.md §1.2, §10).
   */
  export interface FlashStatus {
    /** Partition size in bytes. */
    size: number;
    /** Erase unit in bytes (4096 on ESP32). */
    blockLength: number;
    /** size / blockLength. */
    blocks: number;
    writeAlign?: number;
    eraseValue?: number;
  }

  /** An open partition (the SDK's name). Created by the default export's open(), not by `new`. */
  export class Flash {
    private constructor();
    /** Erases blocks [start, end) (end exclusive; default start + 1). Throws "erase failed". */
    eraseBlock(start: number, end?: number): void;
    /** Reads byteLength bytes at byteOffset into a new ArrayBuffer. No JS-side bounds check on ESP32: errors surface as "read failed". */
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    /** Fills `buffer` from byteOffset; returns the number of bytes read. */
    read(buffer: ByteBuffer, byteOffset: number): number;
    /** Writes the whole buffer (a view writes only its bytes) at byteOffset. Throws "write failed". */
    write(buffer: ByteBuffer, byteOffset: number): void;
    status(): FlashStatus;
    close(): void;
    readonly format: "buffer";
  }

  /** The default export is a frozen object, not a class: `FlashStorage.open({path})` (the SDK's name). */
  const FlashStorage: {
    /** Throws "can't find partition" when the path matches nothing. */
    open(options: FlashOpenOptions): Flash;
    /** Yields the label of every partition in the table (esp_partition_find(ANY, ANY)). */
    [Symbol.iterator](): IterableIterator<string>;
  };
  export default FlashStorage;
}
