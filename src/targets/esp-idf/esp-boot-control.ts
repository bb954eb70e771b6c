// Boot control on the ESP-IDF otadata partition, written so that a power cut at any instant
// leaves the bootloader a record that boots a verified image:
//  - staging writes the entry for the new slot into the sector that does not hold the running
//    app's record (as esp_ota_set_boot_partition does);
//  - confirming never erases the only record that selects the new image. ESP-IDF's
//    esp_ota_mark_app_valid_cancel_rollback erases and rewrites the active sector in place, so a
//    cut after that erase boots the previous app (boot-formats.md 2.7). Here the active entry's
//    state is first programmed PENDING_VERIFY (1) -> NEW (0), which only clears bits and needs no
//    erase; then the other sector gets {seq + n, VALID} for the same slot. A cut before the second
//    write boots the new image on trial again; after it, the VALID record wins on seq.
//  - marking invalid rewrites the running record as INVALID (esp_ota_mark_app_invalid_rollback);
//    a cut in that window leaves the entry erased or PENDING_VERIFY, and both boot the old app.
// Every record stays readable by the real bootloader: only the states NEW, PENDING_VERIFY,
// VALID and INVALID are written, with the standard CRC.

import type { FlashPartition } from "../../ports.ts";
import {
  OtaState, decodeEntry, encodeEntry, entryOffset, isSelectable, selectActive, seqForSlot,
  slotOfSeq, OTA_ENTRY_SIZE, OTA_STATE_OFFSET, OTADATA_ENTRIES, OTADATA_SECTOR_SIZE, type OtaEntry,
} from "./esp-otadata.ts";

export interface ActiveRecord {
  index: number;
  entry: OtaEntry;
  slot: number;
}

export class EspBootControl {
  readonly otadata: FlashPartition;
  /** Number of OTA app slots (ota_0..ota_{n-1}). */
  readonly appCount: number;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: new images are staged NEW, else UNDEFINED. */
  readonly rollback: boolean;

  constructor(otadata: FlashPartition, appCount: number, rollback = true) {
    if (otadata.geometry.size < OTADATA_ENTRIES * OTADATA_SECTOR_SIZE) {
      throw new Error(`otadata partition is 0x${otadata.geometry.size.toString(16)} bytes, needs 0x2000`);
    }
    if (appCount < 2) throw new Error(`A/B updates need two OTA slots, the table has ${appCount}`);
    this.otadata = otadata;
    this.appCount = appCount;
    this.rollback = rollback;
  }

  entries(): OtaEntry[] {
    const out: OtaEntry[] = [];
    for (let i = 0; i < OTADATA_ENTRIES; i++) out.push(decodeEntry(this.otadata.read(entryOffset(i), OTA_ENTRY_SIZE)));
    return out;
  }

  /** The record the bootloader would select, or undefined when it would boot its default. */
  active(entries = this.entries()): ActiveRecord | undefined {
    const index = selectActive(entries);
    if (index < 0) return undefined;
    return { index, entry: entries[index], slot: slotOfSeq(entries[index].seq, this.appCount) };
  }

  /** The state recorded for a slot: the selected record's when it maps there, else undefined. */
  stateOf(slot: number): number | undefined {
    const a = this.active();
    return a && a.slot === slot ? a.entry.state : undefined;
  }

  /** Before the target slot is written: no selectable record may point at it, so that a partly
   * written slot can never be chosen. Keeps (or first writes) a record for the running slot. */
  releaseSlot(target: number, running: number): void {
    const entries = this.entries();
    for (let i = 0; i < OTADATA_ENTRIES; i++) {
      const e = entries[i];
      if (!isSelectable(e) || slotOfSeq(e.seq, this.appCount) !== target) continue;
      const other = entries[1 - i];
      const otherKeeps = isSelectable(other) && slotOfSeq(other.seq, this.appCount) === running;
      if (!otherKeeps) this.writeEntry(1 - i, seqForSlot(e.seq + 1, running, this.appCount), OtaState.Valid);
      this.otadata.erase(entryOffset(i), OTADATA_SECTOR_SIZE);
      return;
    }
    // No record selects the running slot either, e.g. the bootloader's first {1, VALID} write
    // was cut and ESP-IDF booted by trying every partition, which writes nothing: write one into
    // a sector that holds no selectable record, so that a rollback returns to a VALID image.
    const keeps = entries.some((e) => isSelectable(e) && slotOfSeq(e.seq, this.appCount) === running);
    const free = entries.findIndex((e) => !isSelectable(e));
    if (keeps || free < 0) return;
    let top = 0;
    for (const e of entries) if (isSelectable(e) && e.seq > top) top = e.seq;
    this.writeEntry(free, seqForSlot(top + 1, running, this.appCount), OtaState.Valid);
  }

  /** esp_ota_set_boot_partition for an OTA slot: the next boot tries `slot` once. */
  stage(slot: number): void {
    const entries = this.entries();
    const active = this.active(entries);
    const state = this.rollback ? OtaState.New : OtaState.Undefined;
    if (!active) {
      this.writeEntry(0, slot + 1, state);
      return;
    }
    if (active.slot === slot) {
      throw new Error(`slot ${slot} already holds the selected record; release it before writing the slot`);
    }
    this.writeEntry(1 - active.index, seqForSlot(active.entry.seq + 1, slot, this.appCount), state);
  }

  /** The running image passed its trial: make it the selected VALID record without a window. */
  confirm(running: number): void {
    const entries = this.entries();
    const active = this.active(entries);
    if (!active || active.slot !== running) {
      throw new Error(`no otadata record selects the running slot ${running}; nothing to confirm`);
    }
    if (active.entry.state === OtaState.Valid || active.entry.state === OtaState.Undefined) return;
    if (active.entry.state === OtaState.PendingVerify) {
      // PENDING_VERIFY (0x1) -> NEW (0x0): clears one bit; no erase, so the record always exists.
      this.otadata.write(entryOffset(active.index) + OTA_STATE_OFFSET, new Uint8Array(4));
    }
    this.writeEntry(1 - active.index, seqForSlot(active.entry.seq + 1, running, this.appCount), OtaState.Valid);
  }

  /** Whether marking the running image invalid lets the bootloader boot another image. */
  rollbackPossible(running: number): boolean {
    const entries = this.entries();
    const active = this.active(entries);
    if (!active || active.slot !== running) return false;
    const other = entries[1 - active.index];
    if (isSelectable(other)) return slotOfSeq(other.seq, this.appCount) !== running;
    // Neither record left: the bootloader falls back to ota_0.
    return running !== 0;
  }

  /** esp_ota_mark_app_invalid_rollback: the running record becomes INVALID. */
  markInvalid(running: number): void {
    const active = this.active();
    if (!active || active.slot !== running) throw new Error(`no otadata record selects the running slot ${running}`);
    this.writeEntry(active.index, active.entry.seq, OtaState.Invalid);
  }

  private writeEntry(index: number, seq: number, state: number): void {
    this.otadata.erase(entryOffset(index), OTADATA_SECTOR_SIZE);
    this.otadata.write(entryOffset(index), encodeEntry(seq, state));
  }
}
