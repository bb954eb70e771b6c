// ESP-IDF otadata: two 4 KiB sectors, each starting with one esp_ota_select_entry_t.
// Source: espressif/esp-idf components/bootloader_support/include/esp_flash_partitions.h
// (esp_ota_select_entry_t), bootloader_common_loader.c (bootloader_common_ota_select_crc,
// bootloader_common_select_otadata), esp_ota_ops.c (esp_rewrite_ota_data).
// See shared/reference/boot-formats.md section 2.

import { otadataCrc } from "../../util/crc32.ts";
import { readU32LE, writeU32LE } from "../../util/bytes.ts";

export const OTADATA_SECTOR_SIZE = 0x1000;
export const OTADATA_ENTRIES = 2;
export const OTA_ENTRY_SIZE = 32;
export const OTA_SEQ_OFFSET = 0;
export const OTA_SEQ_LABEL_OFFSET = 4;
export const OTA_SEQ_LABEL_SIZE = 20;
export const OTA_STATE_OFFSET = 24;
export const OTA_CRC_OFFSET = 28;
export const OTA_SEQ_ERASED = 0xffffffff;

/** esp_ota_img_states_t */
export const OtaState = Object.freeze({
  New: 0x0,
  PendingVerify: 0x1,
  Valid: 0x2,
  Invalid: 0x3,
  Aborted: 0x4,
  Undefined: 0xffffffff,
} as const);

export interface OtaEntry {
  seq: number;
  state: number;
  crc: number;
  /** crc matches the seq (bootloader_common_ota_select_crc). */
  crcOk: boolean;
}

export function stateName(state: number): string {
  switch (state) {
    case OtaState.New: return "new";
    case OtaState.PendingVerify: return "pending-verify";
    case OtaState.Valid: return "valid";
    case OtaState.Invalid: return "invalid";
    case OtaState.Aborted: return "aborted";
    case OtaState.Undefined: return "undefined";
    default: return `unknown(0x${(state >>> 0).toString(16)})`;
  }
}

export function decodeEntry(bytes: Uint8Array): OtaEntry {
  const seq = readU32LE(bytes, OTA_SEQ_OFFSET);
  const crc = readU32LE(bytes, OTA_CRC_OFFSET);
  return { seq, state: readU32LE(bytes, OTA_STATE_OFFSET), crc, crcOk: otadataCrc(seq) === crc };
}

/** A 32-byte entry as esp_rewrite_ota_data writes it (seq_label left erased). */
export function encodeEntry(seq: number, state: number): Uint8Array {
  const b = new Uint8Array(OTA_ENTRY_SIZE).fill(0xff);
  writeU32LE(b, OTA_SEQ_OFFSET, seq);
  writeU32LE(b, OTA_STATE_OFFSET, state);
  writeU32LE(b, OTA_CRC_OFFSET, otadataCrc(seq));
  return b;
}

/** A copy of a 32-byte entry as read, with only ota_state replaced: what the bootloader writes
 * back when it aborts a PENDING_VERIFY entry or arms a NEW one (bootloader_utility.c sets
 * otadata[i].ota_state and calls write_otadata on the struct it read, so seq, seq_label and crc
 * stay as they were, a bad crc included). */
export function withState(raw: Uint8Array, state: number): Uint8Array {
  const b = raw.slice(0, OTA_ENTRY_SIZE);
  writeU32LE(b, OTA_STATE_OFFSET, state);
  return b;
}

/** bootloader_common_ota_select_invalid: erased seq, INVALID or ABORTED state. The crc is not
 * looked at: an entry whose crc is bad is neither invalid nor valid. */
export function isInvalid(e: OtaEntry): boolean {
  return e.seq === OTA_SEQ_ERASED || e.state === OtaState.Invalid || e.state === OtaState.Aborted;
}

/** bootloader_common_ota_select_valid: not invalid, and the crc matches. */
export function isSelectable(e: OtaEntry): boolean {
  return !isInvalid(e) && e.crcOk;
}

/** bootloader_common_select_otadata: the valid entry with the higher seq; ties go to entry 0.
 * Returns -1 when neither entry is selectable. */
export function selectActive(entries: readonly OtaEntry[]): number {
  const v0 = isSelectable(entries[0]);
  const v1 = isSelectable(entries[1]);
  if (v0 && v1) return entries[1].seq > entries[0].seq ? 1 : 0;
  if (v0) return 0;
  if (v1) return 1;
  return -1;
}

/** The OTA slot index an entry's seq selects: (seq - 1) % app_count, in uint32_t as in
 * bootloader_utility.c (seq 0 gives 0xFFFFFFFF % app_count, not -1). */
export function slotOfSeq(seq: number, appCount: number): number {
  return ((seq - 1) >>> 0) % appCount;
}

/** compute_ota_seq_for_target_slot: the smallest ((slot + 1) % count) + i * count not below seq.
 * ota_seq is a uint32_t whose all-ones value means "erased": a seq that does not fit below it
 * (ESP-IDF would wrap or loop) is refused rather than written truncated. */
export function seqForSlot(currentSeq: number, slot: number, appCount: number): number {
  const base = (slot + 1) % appCount;
  if (currentSeq <= base) return base === 0 ? appCount : base;
  const i = Math.ceil((currentSeq - base) / appCount);
  const seq = base + i * appCount;
  if (seq >= OTA_SEQ_ERASED) {
    throw new RangeError(`otadata seq 0x${seq.toString(16)} for slot ${slot} does not fit below 0xffffffff: the sequence space is used up`);
  }
  return seq;
}

/** Offset of entry i inside the otadata partition. */
export function entryOffset(i: number): number {
  return i * OTADATA_SECTOR_SIZE;
}
