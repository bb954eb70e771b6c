// Which app slot is running. Moddable exposes the running partition ("running") but not its label
// or address, so by default the label is derived from otadata the way the ESP-IDF bootloader
// selects the slot to boot (boot-formats.md §2.3): the selectable entry with the higher ota_seq,
// slot = (seq - 1) % app_count; with no selectable entry, factory if present, else ota_0.
//
// Limit: the bootloader's fallback (§2.3 step 10: the chosen image fails to load and another one
// boots without otadata being rewritten) makes "selected" differ from "running". Pass
// `runningSlot` to createModdablePlatform when a better source exists (e.g. an FFI helper that
// returns esp_ota_get_running_partition()->subtype, as examples/esp32 does).
//
// Must run before anything writes otadata (staging an update changes the selection): index.ts
// calls it once, at creation.

import type { PartitionInfo } from "../../ports.ts";
import { OTA_ENTRY_SIZE, OTADATA_ENTRIES, decodeEntry, entryOffset, selectActive, slotOfSeq } from "../../targets/esp-idf/esp-otadata.ts";
import type { OtaEntry } from "../../targets/esp-idf/esp-otadata.ts";
import { APP_SUBTYPE_FACTORY, APP_SUBTYPE_OTA_FLAG, PART_TYPE_APP, PART_TYPE_DATA, otaSlots } from "./partitions.ts";

/** ESP-IDF data subtype of the otadata partition (boot-formats.md §1.4). */
export const DATA_SUBTYPE_OTA = 0x00;

/** Reads `length` bytes at `offset` of the otadata partition. */
export type ReadOtadata = (offset: number, length: number) => Uint8Array;

export function slotFromOtadata(layout: readonly PartitionInfo[], read: ReadOtadata | undefined): string {
  const slots = otaSlots(layout);
  const factory = layout.find((p) => p.type === PART_TYPE_APP && p.subtype === APP_SUBTYPE_FACTORY);
  const fallback = factory ?? slots[0];
  if (!fallback) throw new Error("xs-ota: the layout has no app partition");
  if (slots.length === 0 || !read) return fallback.label;
  const entries: OtaEntry[] = [];
  for (let i = 0; i < OTADATA_ENTRIES; i++) entries.push(decodeEntry(read(entryOffset(i), OTA_ENTRY_SIZE)));
  const active = selectActive(entries);
  if (active < 0) return fallback.label;
  const index = slotOfSeq(entries[active].seq, slots.length);
  const slot = slots.find((p) => p.subtype === APP_SUBTYPE_OTA_FLAG + index);
  // ota_N must be contiguous from ota_0 (boot-formats.md §1.5); otherwise fall back like the bootloader.
  return (slot ?? fallback).label;
}

/** The otadata partition of a layout (type data, subtype ota). */
export function findOtadata(layout: readonly PartitionInfo[]): PartitionInfo | undefined {
  return layout.find((p) => p.type === PART_TYPE_DATA && p.subtype === DATA_SUBTYPE_OTA);
}
