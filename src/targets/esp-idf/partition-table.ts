// ESP-IDF partition table: binary parser, serializer and lookups.
//
// Layout and constants follow espressif/esp-idf:
//   components/bootloader_support/include/esp_flash_partitions.h  (esp_partition_info_t, magics, flags)
//   components/bootloader_support/src/flash_partitions.c          (esp_partition_table_verify)
//   components/partition_table/gen_esp32part.py                   (to_binary / from_binary / verify)
// Portable ECMAScript only: digests come through DigestPort.

import type { DigestPort, PartitionInfo } from "../../ports.ts";
import { toHex } from "../../util/bytes.ts";
import { utf8Decode, utf8Encode } from "../../util/utf8.ts";

/** Default flash address of the table (CONFIG_PARTITION_TABLE_OFFSET). */
export const PARTITION_TABLE_OFFSET = 0x8000;
/** The sector the table occupies (ESP_PARTITION_TABLE_SIZE); partitions start at offset + this. */
export const PARTITION_TABLE_SECTOR_SIZE = 0x1000;
/** ESP_PARTITION_TABLE_MAX_LEN: table data bytes; the rest of the sector is for a signature. */
export const PARTITION_TABLE_MAX_LEN = 0xc00;
/** sizeof(esp_partition_info_t). */
export const PARTITION_ENTRY_SIZE = 32;
/** ESP_PARTITION_TABLE_MAX_ENTRIES, counting the MD5 entry and the end marker. */
export const PARTITION_TABLE_MAX_ENTRIES = PARTITION_TABLE_MAX_LEN / PARTITION_ENTRY_SIZE;
/** ESP_PARTITION_MAGIC, stored little-endian: bytes AA 50. */
export const PARTITION_MAGIC = 0x50aa;
/** ESP_PARTITION_MAGIC_MD5, bytes EB EB. */
export const PARTITION_MAGIC_MD5 = 0xebeb;
/** ESP_PARTITION_MD5_OFFSET: where the digest starts inside the MD5 entry. */
export const PARTITION_MD5_OFFSET = 16;
/** Bytes of the label field (NUL-padded, not necessarily NUL-terminated). */
export const PARTITION_LABEL_LEN = 16;

export const PartType = Object.freeze({
  app: 0x00,
  data: 0x01,
  bootloader: 0x02,
  partition_table: 0x03,
  /** User-defined types are 0x40..0xFE. */
  userMin: 0x40,
  end: 0xff,
} as const);

export const AppSubtype = Object.freeze({
  factory: 0x00,
  /** PART_SUBTYPE_OTA_FLAG: ota_N = 0x10 + N, N in 0..15 (mask 0x0F). */
  ota_0: 0x10,
  ota_15: 0x1f,
  test: 0x20,
  tee_0: 0x30,
  tee_1: 0x31,
} as const);
export const OTA_SUBTYPE_FLAG = 0x10;
export const OTA_SUBTYPE_MASK = 0x0f;

export const DataSubtype = Object.freeze({
  ota: 0x00,
  phy: 0x01,
  nvs: 0x02,
  coredump: 0x03,
  nvs_keys: 0x04,
  efuse: 0x05,
  undefined: 0x06,
  esphttpd: 0x80,
  fat: 0x81,
  spiffs: 0x82,
  littlefs: 0x83,
  tee_ota: 0x90,
} as const);

export const BootloaderSubtype = Object.freeze({ primary: 0x00, ota: 0x01, recovery: 0x02 } as const);
export const PartitionTableSubtype = Object.freeze({ primary: 0x00, ota: 0x01 } as const);

/** PART_FLAG_ENCRYPTED / PART_FLAG_READONLY. */
export const PartFlag = Object.freeze({ encrypted: 1 << 0, readonly: 1 << 1 } as const);

/** App partitions must start on an MMU page (gen_esp32part.py ALIGNMENT[APP_TYPE]). */
export const APP_ALIGN = 0x10000;
/** Data / other partitions start on a sector. */
export const DATA_ALIGN = 0x1000;
/** Size otadata must have (two 4 KiB sectors). */
export const OTADATA_SIZE = 0x2000;

export interface PartitionEntry extends PartitionInfo {
  /** Raw flags word (PartFlag bits; unknown bits are kept). */
  flags: number;
}

export interface ParseOptions {
  /** Flash size in bytes; when given, every partition must end within it. */
  flashSize?: number;
}

export interface SerializeOptions {
  /** Append the MD5 entry (gen_esp32part.py default; --disable-md5sum turns it off). Default true. */
  md5?: boolean;
}

const hex = (n: number): string => "0x" + n.toString(16);

/** Reads an ESP-IDF partition table (0xC00 bytes or the whole 0x1000 sector; a shorter buffer is
 * fine as long as the end marker is in it). Checks what the bootloader checks, plus the
 * generator's rules (see verifyPartitions). Throws an Error naming the record on any problem. */
export function parsePartitionTable(
  bytes: Uint8Array,
  digests: DigestPort,
  opts: ParseOptions = {},
): PartitionEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: PartitionEntry[] = [];
  const records: number[] = [];
  const md5 = digests.create("md5");
  let md5Found = false;
  for (let i = 0; i < PARTITION_TABLE_MAX_ENTRIES; i++) {
    const at = i * PARTITION_ENTRY_SIZE;
    if (at + PARTITION_ENTRY_SIZE > bytes.length) {
      throw new Error(`partition table record ${i}: truncated (table is ${bytes.length} bytes, no end marker)`);
    }
    const record = bytes.subarray(at, at + PARTITION_ENTRY_SIZE);
    const magic = view.getUint16(at, true);
    if (magic === PARTITION_MAGIC) {
      md5.update(record);
      entries.push(decodeEntry(view, at));
      records.push(i);
    } else if (magic === PARTITION_MAGIC_MD5) {
      if (md5Found) throw new Error(`partition table record ${i}: second MD5 entry`);
      md5Found = true;
      const computed = md5.finish();
      const stored = record.subarray(PARTITION_MD5_OFFSET, PARTITION_ENTRY_SIZE);
      if (!sameBytes(computed, stored)) {
        throw new Error(
          `partition table record ${i}: bad MD5 (stored ${toHex(stored)}, computed ${toHex(computed)} over ${i} entries)`,
        );
      }
    } else if (magic === 0xffff && record[2] === PartType.end && record[3] === 0xff) {
      if (i === 0) throw new Error("partition table record 0: end marker in first record (empty table)");
      if (entries.length === 0) throw new Error(`partition table record ${i}: end marker before any partition (empty table)`);
      verifyRecords(entries, records, opts);
      return entries;
    } else {
      throw new Error(`partition table record ${i}: bad magic ${hex(magic)} (expected 0x50aa, 0xebeb or end marker)`);
    }
  }
  throw new Error(`partition table record ${PARTITION_TABLE_MAX_ENTRIES}: no end marker within ${PARTITION_TABLE_MAX_ENTRIES} records`);
}

/** Checks a list of partitions against the bootloader's and gen_esp32part.py's rules; the
 * messages name the index in `entries`. Throws on the first problem. */
export function verifyPartitions(entries: readonly PartitionEntry[], opts: ParseOptions = {}): void {
  verifyRecords(entries, entries.map((_, i) => i), opts);
}

function verifyRecords(entries: readonly PartitionEntry[], records: readonly number[], opts: ParseOptions): void {
  const labels = new Map<string, number>();
  let otadata = -1;
  entries.forEach((p, k) => {
    const at = `partition table record ${records[k]} ("${p.label}")`;
    const prev = labels.get(p.label);
    if (prev !== undefined) throw new Error(`${at}: duplicate label, also used by record ${prev}`);
    labels.set(p.label, records[k]);
    if (p.type === PartType.app && p.address % APP_ALIGN !== 0) {
      throw new Error(`${at}: app partition offset ${hex(p.address)} is not aligned to ${hex(APP_ALIGN)}`);
    }
    if (opts.flashSize !== undefined && (p.address > opts.flashSize || p.size > opts.flashSize - p.address)) {
      throw new Error(
        `${at}: partition ${hex(p.address)}+${hex(p.size)} extends beyond flash size ${hex(opts.flashSize)}`,
      );
    }
    if (p.type === PartType.data && p.subtype === DataSubtype.ota) {
      if (otadata >= 0) throw new Error(`${at}: more than one otadata partition (first is record ${otadata})`);
      otadata = records[k];
      if (p.size !== OTADATA_SIZE) throw new Error(`${at}: otadata size ${hex(p.size)} must be ${hex(OTADATA_SIZE)}`);
    }
  });
  const order = entries.map((_, k) => k).sort((a, b) => entries[a].address - entries[b].address);
  for (let n = 1; n < order.length; n++) {
    const a = entries[order[n - 1]];
    const b = entries[order[n]];
    if (b.address < a.address + a.size) {
      throw new Error(
        `partition table record ${records[order[n]]} ("${b.label}"): offset ${hex(b.address)} overlaps record ` +
          `${records[order[n - 1]]} ("${a.label}") at ${hex(a.address)}-${hex(a.address + a.size - 1)}`,
      );
    }
  }
}

/** Produces gen_esp32part.py's binary: the entries, the MD5 entry (unless md5: false), then 0xFF
 * up to 0xC00 bytes. Checks field ranges only; call verifyPartitions for the layout rules. */
export function serializePartitionTable(
  entries: readonly PartitionEntry[],
  digests: DigestPort,
  opts: SerializeOptions = {},
): Uint8Array {
  const md5 = opts.md5 ?? true;
  const used = (entries.length + (md5 ? 1 : 0)) * PARTITION_ENTRY_SIZE;
  // The generator refuses a table that leaves no room for the end marker.
  if (used >= PARTITION_TABLE_MAX_LEN) {
    throw new Error(`partition table: ${entries.length} partitions need ${used} bytes, more than ${PARTITION_TABLE_MAX_LEN - 1}`);
  }
  const out = new Uint8Array(PARTITION_TABLE_MAX_LEN).fill(0xff);
  const view = new DataView(out.buffer);
  entries.forEach((p, i) => encodeEntry(view, out, i * PARTITION_ENTRY_SIZE, p, i));
  if (md5) {
    const at = entries.length * PARTITION_ENTRY_SIZE;
    const d = digests.create("md5");
    d.update(out.subarray(0, at));
    out[at] = 0xeb;
    out[at + 1] = 0xeb;
    out.set(d.finish(), at + PARTITION_MD5_OFFSET);
  }
  return out;
}

/** OTA app slots (app/ota_0..ota_15) sorted by subtype; slot index = subtype & 0x0F. */
export function findOtaSlots(entries: readonly PartitionEntry[]): PartitionEntry[] {
  return entries
    .filter((p) => p.type === PartType.app && p.subtype >= AppSubtype.ota_0 && p.subtype <= AppSubtype.ota_15)
    .sort((a, b) => a.subtype - b.subtype);
}

/** The otadata partition (data/ota), if any. */
export function findOtadata(entries: readonly PartitionEntry[]): PartitionEntry | undefined {
  return entries.find((p) => p.type === PartType.data && p.subtype === DataSubtype.ota);
}

export function findPartition(entries: readonly PartitionEntry[], label: string): PartitionEntry | undefined {
  return entries.find((p) => p.label === label);
}

function decodeEntry(view: DataView, at: number): PartitionEntry {
  const raw = new Uint8Array(view.buffer, view.byteOffset + at + 12, PARTITION_LABEL_LEN);
  const nul = raw.indexOf(0);
  return {
    label: utf8Decode(nul < 0 ? raw : raw.subarray(0, nul)),
    type: view.getUint8(at + 2),
    subtype: view.getUint8(at + 3),
    address: view.getUint32(at + 4, true),
    size: view.getUint32(at + 8, true),
    flags: view.getUint32(at + 28, true),
  };
}

function encodeEntry(view: DataView, out: Uint8Array, at: number, p: PartitionEntry, i: number): void {
  const where = `partition ${i} ("${p.label}")`;
  const u8 = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new Error(`${where}: ${name} ${v} is not a byte`);
  };
  const u32 = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${where}: ${name} ${v} is not a u32`);
  };
  u8(p.type, "type");
  u8(p.subtype, "subtype");
  u32(p.address, "offset");
  u32(p.size, "size");
  u32(p.flags, "flags");
  const label = utf8Encode(p.label);
  if (label.length > PARTITION_LABEL_LEN) throw new Error(`${where}: label longer than ${PARTITION_LABEL_LEN} bytes`);
  view.setUint16(at, PARTITION_MAGIC, true);
  view.setUint8(at + 2, p.type);
  view.setUint8(at + 3, p.subtype);
  view.setUint32(at + 4, p.address, true);
  view.setUint32(at + 8, p.size, true);
  out.fill(0, at + 12, at + 12 + PARTITION_LABEL_LEN);
  out.set(label, at + 12);
  view.setUint32(at + 28, p.flags, true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
