// A simulated ESP-IDF second-stage bootloader: the slot choice of
// bootloader_utility_get_selected_boot_partition and the image fallback of
// bootloader_utility_load_boot_image / set_actual_ota_seq (espressif/esp-idf
// components/bootloader_support/src/bootloader_utility.c, bootloader_common_loader.c; see
// shared/reference/boot-formats.md 2.3), with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE and without
// anti-rollback:
//  - any PENDING_VERIFY entry is rewritten ABORTED: the entry as read, only ota_state changed
//    (erase + write of its sector; a bad crc stays bad);
//  - if both entries are invalid (bootloader_common_ota_select_invalid: erased seq, INVALID or
//    ABORTED; the crc is not looked at) it boots factory, else ota_0. Only then, and only without
//    a factory app, when each entry also has an erased seq or a bad crc ("initial contents"), it
//    writes entry 0 = {N+1, VALID} after booting ota_N;
//  - otherwise the valid entry with the higher seq selects slot (seq - 1) % app_count in uint32_t;
//    no valid entry means factory, or with no factory "try all partitions" from index -1;
//  - the selected NEW entry is rewritten PENDING_VERIFY (as read, only ota_state changed);
//  - the chosen image is verified (esp_image_verify, which starts with
//    bootloader_common_check_chip_validity when a chip is given); on failure it walks down to
//    factory, then up through the other OTA slots, without rewriting otadata.
// Its flash writes go through the simulated chip, so power cuts land in them too.

import {
  parsePartitionTable, findOtaSlots, findOtadata, PARTITION_TABLE_MAX_LEN, type PartitionEntry,
} from "../../src/targets/esp-idf/partition-table.ts";
import {
  OtaState, decodeEntry, encodeEntry, entryOffset, isInvalid, selectActive, slotOfSeq, withState,
  OTA_ENTRY_SIZE, OTA_SEQ_ERASED, OTADATA_SECTOR_SIZE, type OtaEntry,
} from "../../src/targets/esp-idf/esp-otadata.ts";
import {
  checkEspImage, ESP_CHIP_ID_OFFSET, ESP_IMAGE_HEADER_SIZE, ESP_IMAGE_MAGIC,
  ESP_MAX_CHIP_REV_FULL_OFFSET, ESP_MIN_CHIP_REV_FULL_OFFSET, type EspImageInfo,
} from "../../src/targets/esp-idf/esp-app-image.ts";
import { readU16LE } from "../../src/util/bytes.ts";
import type { FlashPartition } from "../../src/ports.ts";
import { OtaError } from "../../src/errors.ts";
import { nodeDigests } from "../node-digests.ts";
import type { NorFlash } from "../flash/nor-flash.ts";

export interface BootOutcome {
  /** Label of the booted partition. */
  slot: string;
  image: EspImageInfo;
  /** The selected slot failed verification and another one was booted. */
  fellBack: boolean;
  log: string[];
}

export class NoBootableImage extends Error {
  constructor(readonly log: string[]) {
    super(`no bootable image: ${log.join("; ")}`);
    this.name = "NoBootableImage";
  }
}

/** The chip the bootloader runs on: esp_chip_id_t and efuse_hal_chip_revision() (major * 100 +
 * minor). */
export interface BootChip {
  id: number;
  revisionFull: number;
}

export interface BootloaderOptions {
  tableOffset: number;
  rollback?: boolean;
  /** When given, an app image built for another chip or outside its revision range is not
   * bootable (bootloader_common_check_chip_validity). */
  chip?: BootChip;
}

/** Index of the factory app in the boot order (bootloader_utility FACTORY_INDEX). */
const FACTORY_INDEX = -1;

export function bootEsp(flash: NorFlash, opts: BootloaderOptions): BootOutcome {
  const log: string[] = [];
  const rollback = opts.rollback ?? true;
  const table = parsePartitionTable(flash.read(opts.tableOffset, PARTITION_TABLE_MAX_LEN), nodeDigests, { flashSize: flash.geometry.size });
  const slots = findOtaSlots(table);
  const factory = table.find((e) => e.type === 0 && e.subtype === 0);
  const otaInfo = findOtadata(table);
  // bootloader_utility_get_selected_boot_partition: no otadata partition means FACTORY_INDEX.
  let start = FACTORY_INDEX;
  let initialContents = false;
  let otadata: FlashPartition | undefined;
  if (otaInfo) {
    otadata = flash.partition(otaInfo.label, otaInfo.address, otaInfo.size);
    const raw = [0, 1].map((i) => otadata!.read(entryOffset(i), OTA_ENTRY_SIZE));
    const entries = raw.map(decodeEntry);
    if (rollback) {
      for (let i = 0; i < 2; i++) {
        if (entries[i].state === OtaState.PendingVerify) {
          log.push(`otadata[${i}] seq ${entries[i].seq} PENDING_VERIFY -> ABORTED`);
          raw[i] = withState(raw[i], OtaState.Aborted);
          writeEntry(otadata, i, raw[i]);
          entries[i] = decodeEntry(raw[i]);
        }
      }
    }
    if ((isInvalid(entries[0]) && isInvalid(entries[1])) || slots.length === 0) {
      if (factory) {
        log.push("no usable otadata entry; booting factory");
      } else {
        start = 0;
        initialContents = entries.every(initial);
        log.push(`no usable otadata entry; booting ota_0${initialContents ? " (initial contents)" : ""}`);
      }
    } else {
      const active = selectActive(entries);
      if (active >= 0) {
        const e = entries[active];
        start = slotOfSeq(e.seq, slots.length);
        log.push(`otadata[${active}] seq ${e.seq} selects ota_${start}`);
        if (rollback && e.state === OtaState.New) {
          log.push(`otadata[${active}] NEW -> PENDING_VERIFY`);
          writeEntry(otadata, active, withState(raw[active], OtaState.PendingVerify));
        }
      } else {
        log.push(`otadata has no valid entry; ${factory ? "booting factory" : "trying all partitions"}`);
      }
    }
  }
  // bootloader_utility_load_boot_image: down from start to factory, then up through the OTA slots.
  const order: number[] = [];
  for (let i = start; i >= FACTORY_INDEX; i--) order.push(i);
  for (let i = start + 1; i < slots.length; i++) order.push(i);
  let failed = false;
  for (const index of order) {
    const part = index === FACTORY_INDEX ? factory : slots[index];
    if (!part) continue;
    const image = tryLoad(flash, part, opts.chip, log);
    if (!image) {
      failed = true;
      continue;
    }
    // set_actual_ota_seq
    if (initialContents && index > FACTORY_INDEX && otadata) {
      log.push(`initial otadata: writing entry 0 seq ${index + 1} VALID`);
      writeEntry(otadata, 0, encodeEntry(index + 1, OtaState.Valid));
    }
    return { slot: part.label, image, fellBack: failed, log };
  }
  throw new NoBootableImage(log);
}

/** The "initial contents" test of bootloader_utility.c: an erased seq or a bad crc. */
function initial(e: OtaEntry): boolean {
  return e.seq === OTA_SEQ_ERASED || !e.crcOk;
}

/** write_otadata: erase the entry's sector, then write the 32-byte entry. */
function writeEntry(otadata: FlashPartition, index: number, entry: Uint8Array): void {
  otadata.erase(entryOffset(index), OTADATA_SECTOR_SIZE);
  otadata.write(entryOffset(index), entry);
}

/** IS_MAX_REV_SET (bootloader_common_loader.c): 0 and 0xFFFF mean "no maximum". */
function maxRevSet(max: number): boolean {
  return max !== 0 && max !== 0xffff;
}

/** bootloader_common_check_chip_validity for an application image: the header's chip_id must be
 * the chip's, and its revision at least min_chip_rev_full and (when a maximum is set) at most
 * max_chip_rev_full. Returns the reason an image is refused, or undefined. */
export function chipMismatch(header: Uint8Array, chip: BootChip): string | undefined {
  const id = readU16LE(header, ESP_CHIP_ID_OFFSET);
  if (id !== chip.id) return `mismatch chip ID, expected ${chip.id}, found ${id}`;
  const v = (rev: number) => `v${Math.floor(rev / 100)}.${rev % 100}`;
  const min = readU16LE(header, ESP_MIN_CHIP_REV_FULL_OFFSET);
  if (chip.revisionFull < min) return `image requires chip rev >= ${v(min)}, but chip is ${v(chip.revisionFull)}`;
  const max = readU16LE(header, ESP_MAX_CHIP_REV_FULL_OFFSET);
  if (maxRevSet(max) && chip.revisionFull > max) return `image requires chip rev <= ${v(max)}, but chip is ${v(chip.revisionFull)}`;
  return undefined;
}

function tryLoad(flash: NorFlash, part: PartitionEntry, chip: BootChip | undefined, log: string[]): EspImageInfo | undefined {
  try {
    if (chip && part.size >= ESP_IMAGE_HEADER_SIZE) {
      // verify_image_header (esp_image_format.c): the magic, then the chip.
      const header = flash.read(part.address, ESP_IMAGE_HEADER_SIZE);
      const refused = header[0] === ESP_IMAGE_MAGIC ? chipMismatch(header, chip) : undefined;
      if (refused) {
        log.push(`${part.label}: ${refused}`);
        return undefined;
      }
    }
    const image = checkEspImage((at, n) => flash.read(part.address + at, n), part.size, nodeDigests);
    log.push(`${part.label}: ${image.appDesc.projectName} ${image.appDesc.version} verified`);
    return image;
  } catch (e) {
    log.push(`${part.label}: ${e instanceof OtaError ? e.reason : e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
