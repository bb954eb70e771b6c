// PartitionPort on a Moddable flash module (moddable-sdk.md §1; ESP-IDF partition types from
// boot-formats.md §1.4).
//
// What the ESP32 natives can reach, and so what this port can open:
// - app OTA slots only as "running" (esp_ota_get_running_partition) and "nextota"
//   (esp_ota_get_next_update_partition(NULL)): a label lookup finds data partitions only, so
//   new Flash("ota_1") fails. With two slots both are reachable; with more, only these two.
//   The running slot is opened read-only.
// - data partitions (type 0x01) by label: "otadata", "nvs", ...
// - the first partition of type 0x40 subtype 0x01 through the name "xs": that is where the OTA
//   journal ("otajournal", 0x40/0x01) lives. The app must not also use XS mods (XS_MODS), which
//   claim that partition.
// Nothing else (other user types, bootloader, partition table) can be opened.
//
// What the natives cannot tell: partition types, subtypes and absolute addresses. They come from
// `layout`, the table the firmware was built with. Sizes are cross-checked against the device
// when a partition is opened, and labels too when the module can enumerate them (ECMA-419).
// Nor can they tell a mixed sector map (STM32F4: 4 x 16, 1 x 64, 7 x 128 KiB; status() has one
// blockLength per partition): `sectorMap` gives the chip's sectors, and a partition's geometry
// lists the real sectors it spans (without it, uniform sectors of blockLength).
//
// MCUboot (`runningTrailer`): the running image sits in the primary slot, and boot_set_confirmed
// writes image_ok in that slot's trailer. The running slot stays read-only (the ESP-IDF rule:
// esp_partition refuses writes to the running app, and nothing may touch the image a device runs
// from); the firmware declares the primary's last sector(s), those holding the trailer and no
// image byte, as a partition of their own (on Zephyr a fixed-partition, e.g. "image-0-trailer",
// opened by flash_area_open like any other), and names it here. The running slot's partition then
// reads through the read-only handle of the whole slot and writes/erases only inside that
// trailer partition; a write or erase below its start is refused.

import type { FlashGeometry, FlashPartition, PartitionInfo, PartitionPort, Sector } from "../../ports.ts";
import type { FlashBackend, RawFlash } from "./flash-backend.ts";
import { mappedSectors, uniformSectors } from "./sectors.ts";

/** ESP-IDF partition types and subtypes (boot-formats.md §1.4). */
export const PART_TYPE_APP = 0x00;
export const PART_TYPE_DATA = 0x01;
export const APP_SUBTYPE_FACTORY = 0x00;
export const APP_SUBTYPE_OTA_FLAG = 0x10;
export const APP_SUBTYPE_OTA_MASK = 0x0f;
/** The type/subtype the ESP32 flash natives open under the name "xs" (esp_partition_find_first(0x40, 1, NULL)). */
export const XS_PART_TYPE = 0x40;
export const XS_PART_SUBTYPE = 0x01;

/** ESP32 defaults when the module does not report them (ESP32's status() has neither). */
export const DEFAULT_WRITE_ALIGN = 4;
export const DEFAULT_ERASED_VALUE = 0xff;

export interface PartitionsOptions {
  /** The partition table the firmware was built with (the rows of its partitions.csv). */
  layout: readonly PartitionInfo[];
  /** Label of the running app slot; see running-slot.ts for how index.ts finds it. */
  running: string;
  /** Overrides for the write unit and erased value when the module does not report them. */
  writeAlign?: number;
  erasedValue?: number;
  /** The chip's erase sectors (absolute offsets, ascending, no gaps) when they are not uniform. */
  sectorMap?: readonly Sector[];
  /** Native name of the writable partition holding the running slot's last sector(s): the MCUboot
   * primary slot's trailer. The running slot accepts writes and erases there only. */
  runningTrailer?: string;
}

export function isOtaApp(p: PartitionInfo): boolean {
  return p.type === PART_TYPE_APP && (p.subtype & ~APP_SUBTYPE_OTA_MASK) === APP_SUBTYPE_OTA_FLAG;
}

/** OTA app slots in subtype order (ota_0, ota_1, ...). */
export function otaSlots(layout: readonly PartitionInfo[]): PartitionInfo[] {
  return layout.filter(isOtaApp).sort((a, b) => a.subtype - b.subtype);
}

interface Target {
  path: string;
  writable: boolean;
}

export class ModdablePartitions implements PartitionPort {
  readonly #backend: FlashBackend;
  readonly #layout: readonly PartitionInfo[];
  readonly #running: string;
  readonly #writeAlign: number | undefined;
  readonly #erasedValue: number | undefined;
  readonly #sectorMap: readonly Sector[] | undefined;
  readonly #runningTrailer: string | undefined;
  readonly #open = new Map<string, FlashPartition>();
  readonly #deviceLabels: string[] | undefined;

  constructor(backend: FlashBackend, options: PartitionsOptions) {
    this.#backend = backend;
    this.#layout = options.layout.map((p) => ({ ...p }));
    this.#running = options.running;
    this.#writeAlign = options.writeAlign;
    this.#erasedValue = options.erasedValue;
    this.#sectorMap = options.sectorMap ? options.sectorMap.map((x) => Object.freeze({ offset: x.offset, size: x.size })) : undefined;
    this.#runningTrailer = options.runningTrailer;
    this.#deviceLabels = backend.labels();
    const labels = new Set<string>();
    for (const p of this.#layout) {
      if (labels.has(p.label)) throw new Error(`xs-ota: duplicate partition label "${p.label}" in layout`);
      labels.add(p.label);
    }
    const running = this.#layout.find((p) => p.label === this.#running);
    if (!running || running.type !== PART_TYPE_APP) {
      throw new Error(`xs-ota: running slot "${this.#running}" is not an app partition of the layout`);
    }
  }

  /** The layout entries, minus those the module reports missing from the device. */
  list(): PartitionInfo[] {
    const device = this.#deviceLabels;
    return this.#layout.filter((p) => !device || device.includes(p.label)).map((p) => ({ ...p }));
  }

  running(): string {
    return this.#running;
  }

  /** The native name a label is reached by, or a reason it cannot be. */
  target(label: string): Target | string {
    const entry = this.#layout.find((p) => p.label === label);
    if (!entry) return `no partition "${label}" in the layout`;
    if (this.#deviceLabels && !this.#deviceLabels.includes(label)) return `partition "${label}" is not on the device`;
    if (entry.type === PART_TYPE_APP) {
      if (label === this.#running) return { path: "running", writable: false };
      if (label === this.nextOta()) return { path: "nextota", writable: true };
      return `app partition "${label}" is neither the running nor the next OTA slot; ESP32 flash natives cannot open it`;
    }
    if (entry.type === PART_TYPE_DATA) return { path: label, writable: true };
    if (entry.type === XS_PART_TYPE && entry.subtype === XS_PART_SUBTYPE) {
      const first = this.#layout.find((p) => p.type === XS_PART_TYPE && p.subtype === XS_PART_SUBTYPE);
      if (first === entry) return { path: "xs", writable: true };
      return `only the first 0x40/0x01 partition ("${first?.label}") is reachable (as "xs")`;
    }
    return `partition "${label}" (type 0x${entry.type.toString(16)}) cannot be opened by the ESP32 flash natives`;
  }

  /** esp_ota_get_next_update_partition(NULL): the OTA slot after the running one, wrapping;
   * ota_0 when the running app is not an OTA slot (factory). */
  nextOta(): string | undefined {
    const slots = otaSlots(this.#layout);
    if (slots.length === 0) return undefined;
    const i = slots.findIndex((p) => p.label === this.#running);
    return slots[(i + 1) % slots.length].label;
  }

  open(label: string): FlashPartition {
    const cached = this.#open.get(label);
    if (cached) return cached;
    const target = this.target(label);
    if (typeof target === "string") throw new Error(`xs-ota: ${target}`);
    const entry = this.#layout.find((p) => p.label === label) as PartitionInfo;
    const raw = this.#backend.open(target.path, target.writable);
    if (raw.size !== entry.size) {
      throw new Error(
        `xs-ota: partition "${label}" (opened as "${target.path}") is 0x${raw.size.toString(16)} bytes on the device, ` +
          `0x${entry.size.toString(16)} in the layout`,
      );
    }
    const geometry: FlashGeometry = Object.freeze({
      size: raw.size,
      sectors: this.#sectorMap ? mappedSectors(this.#sectorMap, entry.address, raw.size, raw.blockLength) : uniformSectors(raw.size, raw.blockLength),
      writeAlign: raw.writeAlign ?? this.#writeAlign ?? DEFAULT_WRITE_ALIGN,
      erasedValue: raw.eraseValue ?? this.#erasedValue ?? DEFAULT_ERASED_VALUE,
    });
    const tail = label === this.#running && this.#runningTrailer !== undefined ? this.#trailer(label, geometry, this.#runningTrailer) : undefined;
    const partition = new ModdablePartition(label, raw, geometry, target.writable, this.#sectorMap !== undefined, tail);
    this.#open.set(label, partition);
    return partition;
  }

  /** Opens the running slot's trailer partition (writable): it must be the slot's last whole
   * sectors. */
  #trailer(label: string, geometry: FlashGeometry, path: string): Tail {
    const raw = this.#backend.open(path, true);
    const start = geometry.size - raw.size;
    if (!(raw.size > 0) || start < 0 || !geometry.sectors.some((x) => x.offset === start)) {
      throw new Error(`xs-ota: trailer partition "${path}" (0x${raw.size.toString(16)} bytes) is not the last whole sectors of "${label}" (0x${geometry.size.toString(16)} bytes)`);
    }
    return { raw, start };
  }
}

/** The writable end of a read-only partition: `raw` covers [start, size). */
interface Tail {
  raw: RawFlash;
  start: number;
}

class ModdablePartition implements FlashPartition {
  readonly label: string;
  readonly geometry: FlashGeometry;
  readonly #raw: RawFlash;
  readonly #writable: boolean;
  readonly #tail: Tail | undefined;
  /** The sectors come from the sector map (a short list), not uniformSectors. */
  readonly #mapped: boolean;

  constructor(label: string, raw: RawFlash, geometry: FlashGeometry, writable: boolean, mapped: boolean, tail?: Tail) {
    this.label = label;
    this.geometry = geometry;
    this.#raw = raw;
    this.#writable = writable;
    this.#tail = tail;
    this.#mapped = mapped;
  }

  read(offset: number, length: number): Uint8Array {
    this.#range("read", offset, length);
    if (length === 0) return new Uint8Array(0);
    return this.#raw.read(offset, length);
  }

  write(offset: number, data: Uint8Array): void {
    this.#range("write", offset, data.byteLength);
    const [raw, base] = this.#writer("write", offset);
    const align = this.geometry.writeAlign;
    if (offset % align !== 0 || data.byteLength % align !== 0) {
      throw new RangeError(`${this.label}: write of ${data.byteLength} bytes at 0x${offset.toString(16)} is not ${align}-byte aligned`);
    }
    if (data.byteLength === 0) return;
    raw.write(offset - base, data);
  }

  erase(offset: number, length: number): void {
    this.#range("erase", offset, length);
    const [raw, base] = this.#writer("erase", offset);
    const block = raw.blockLength;
    const end = offset + length;
    if ((offset - base) % block !== 0 || length % block !== 0 || !this.#sectorBound(offset) || !this.#sectorBound(end)) {
      throw new RangeError(`${this.label}: erase [0x${offset.toString(16)}, +0x${length.toString(16)}) is not on sector bounds`);
    }
    if (length === 0) return;
    raw.eraseBlocks((offset - base) / block, (end - base) / block);
  }

  /** The handle a write or erase at `offset` goes to, and the partition offset it starts at. */
  #writer(op: string, offset: number): [RawFlash, number] {
    if (this.#writable) return [this.#raw, 0];
    const tail = this.#tail;
    if (tail && offset >= tail.start) return [tail.raw, tail.start];
    const where = tail ? ` below its trailer (0x${tail.start.toString(16)})` : "";
    throw new Error(`${this.label}: ${op} refused: the running image's partition is read-only${where}`);
  }

  /** Whether `offset` is a sector bound (a uniform map: a multiple of the erase unit). */
  #sectorBound(offset: number): boolean {
    if (offset === 0 || offset === this.geometry.size) return true;
    if (this.#mapped) return this.geometry.sectors.some((x) => x.offset === offset);
    return offset % this.#raw.blockLength === 0;
  }

  #range(op: string, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.geometry.size) {
      throw new RangeError(`${this.label}: ${op} [${offset}, +${length}) outside the partition (0x${this.geometry.size.toString(16)} bytes)`);
    }
  }
}
