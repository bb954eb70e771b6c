// A simulated ESP-IDF second-stage bootloader: the slot choice of
// bootloader_utility_get_selected_boot_partition and the image fallback of
// bootloader_utility_load_boot_image (espressif/esp-idf bootloader_support; see
// shared/reference/boot-formats.md 2.3), with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE:
//  - any PENDING_VERIFY entry is rewritten ABORTED (erase + write of its sector);
//  - the selected NEW entry is rewritten PENDING_VERIFY;
//  - with no usable entry it boots factory, else ota_0, and after booting ota_N from an all-empty
//    otadata it writes entry 0 = {N+1, VALID};
//  - the chosen image is verified (esp_image_verify); on failure it walks down to factory, then
//    up through the other OTA slots, without rewriting otadata.
// Its flash writes go through the simulated chip, so power cuts land in them too.

import {
  parsePartitionTable, findOtaSlots, findOtadata, PARTITION_TABLE_MAX_LEN, type PartitionEntry,
} from "../../src/flash/partition-table.ts";
import {
  OtaState, decodeEntry, encodeEntry, entryOffset, selectActive, slotOfSeq,
  OTA_ENTRY_SIZE, OTA_SEQ_ERASED, OTADATA_SECTOR_SIZE, type OtaEntry,
} from "../../src/boot/esp-otadata.ts";
import { checkEspImage, type EspImageInfo } from "../../src/image/esp-app-image.ts";
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

export interface BootloaderOptions {
  tableOffset: number;
  rollback?: boolean;
}

export function bootEsp(flash: NorFlash, opts: BootloaderOptions): BootOutcome {
  const log: string[] = [];
  const rollback = opts.rollback ?? true;
  const table = parsePartitionTable(flash.read(opts.tableOffset, PARTITION_TABLE_MAX_LEN), nodeDigests, { flashSize: flash.geometry.size });
  const slots = findOtaSlots(table);
  const factory = table.find((e) => e.type === 0 && e.subtype === 0);
  const otaInfo = findOtadata(table);
  // Index -1 is factory, 0..n-1 the OTA slots (bootloader_utility's FACTORY_INDEX).
  let start = factory ? -1 : 0;
  let initialContents = false;
  let otadata: FlashPartition | undefined;
  if (otaInfo && slots.length > 0) {
    otadata = flash.partition(otaInfo.label, otaInfo.address, otaInfo.size);
    const entries = [0, 1].map((i) => decodeEntry(otadata!.read(entryOffset(i), OTA_ENTRY_SIZE)));
    if (rollback) {
      for (let i = 0; i < 2; i++) {
        if (entries[i].state === OtaState.PendingVerify) {
          log.push(`otadata[${i}] seq ${entries[i].seq} PENDING_VERIFY -> ABORTED`);
          rewrite(otadata, i, entries[i].seq, OtaState.Aborted);
          entries[i] = { ...entries[i], state: OtaState.Aborted };
        }
      }
    }
    const active = selectActive(entries);
    if (active < 0) {
      if (!factory) initialContents = entries.every(blank);
      log.push(`no valid otadata entry; booting ${factory ? "factory" : "ota_0"}`);
    } else {
      const e = entries[active];
      start = slotOfSeq(e.seq, slots.length);
      log.push(`otadata[${active}] seq ${e.seq} selects ota_${start}`);
      if (rollback && e.state === OtaState.New) {
        log.push(`otadata[${active}] NEW -> PENDING_VERIFY`);
        rewrite(otadata, active, e.seq, OtaState.PendingVerify);
      }
    }
  }
  const order: number[] = [];
  for (let i = start; i >= -1; i--) order.push(i);
  for (let i = start + 1; i < slots.length; i++) order.push(i);
  for (const index of order) {
    const part = index < 0 ? factory : slots[index];
    if (!part) continue;
    const image = tryLoad(flash, part, log);
    if (!image) continue;
    if (initialContents && index >= 0 && otadata) {
      log.push(`initial otadata: writing entry 0 seq ${index + 1} VALID`);
      rewrite(otadata, 0, index + 1, OtaState.Valid);
    }
    return { slot: part.label, image, fellBack: index !== start, log };
  }
  throw new NoBootableImage(log);
}

function blank(e: OtaEntry): boolean {
  return e.seq === OTA_SEQ_ERASED || !e.crcOk;
}

function rewrite(otadata: FlashPartition, index: number, seq: number, state: number): void {
  otadata.erase(entryOffset(index), OTADATA_SECTOR_SIZE);
  otadata.write(entryOffset(index), encodeEntry(seq, state));
}

function tryLoad(flash: NorFlash, part: PartitionEntry, log: string[]): EspImageInfo | undefined {
  try {
    const image = checkEspImage((at, n) => flash.read(part.address + at, n), part.size, nodeDigests);
    log.push(`${part.label}: ${image.appDesc.projectName} ${image.appDesc.version} verified`);
    return image;
  } catch (e) {
    log.push(`${part.label}: ${e instanceof OtaError ? e.reason : e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
