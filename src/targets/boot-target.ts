// The boot target: what the agent needs from a bootloader and its flash map, the way MCUboot's
// bootutil talks to a flash map (flash_area_open of a slot, boot_set_pending, boot_set_confirmed,
// boot_swap_type). One implementation per bootloader, each in its folder with its formats:
// src/targets/esp-idf/ (otadata, app image, SBv2 signatures), src/targets/mcuboot/ (image
// header, TLVs, trailer), src/targets/stm32-dualbank/ (bank-swap option bit). The agent, the
// journal, the downloader and the protocols see only this interface.
//
// Slots are named by the partition labels of the platform's PartitionPort: the agent opens the
// slot it writes and reads with platform.partitions.open(label), through the slot writer, and the
// journal records the label. Every method that reads or writes flash throws the platform's flash
// failures as OtaError(-4) (wrap the partitions with withFlashErrors); image checks throw
// OtaError(-3).

import { ErrorCode, OtaError } from "../errors.ts";

/** Thrown by stage() when the slot must be written again from byte `from` before it can be
 * staged (MCUboot: a boot_set_pending torn by a cut left a trailer that is neither erased nor
 * valid, in an erase sector the image shares). The agent records its download as durable up to
 * `from` and resumes it: the slot writer erases that sector again and the bytes are fetched again. */
export class RewriteSlot extends OtaError {
  readonly from: number;
  constructor(reason: string, from: number) {
    super(ErrorCode.UpdateFailed, reason);
    this.from = from;
  }
}

/** What the offer says about the image being written (an Offer fits). */
export interface ImageExpectation {
  /** The version the image must carry, byte for byte. */
  version: string;
  /** Bytes downloaded into the slot: the image and whatever follows it (padding, signatures). */
  size: number;
}

/** Who an image says it is. */
export interface ImageIdentity {
  /** The image's version (ESP: esp_app_desc_t.version; MCUboot: ih_ver as "major.minor.revision"). */
  version: string;
  /** The anti-rollback counter (ESP: esp_app_desc_t.secure_version; MCUboot: the SEC_CNT TLV, 0
   * without one). */
  securityCounter: number;
  /** The project the image was built for, where the format names one (ESP: project_name). */
  project?: string;
}

/** What a successful checkImage() found. */
export interface ImageCheck extends ImageIdentity {
  /** Length of the image proper (ESP: up to the appended hash; MCUboot: header, payload, TLVs). */
  length: number;
  /** What verified the image's signature, when the target checked one (e.g. "SBv2 block 0,
   * ecdsa-p256"). */
  signature?: string;
}

/** The running image's state as the bootloader records it. */
export interface TrialState {
  /** Booted on trial: the bootloader reverts at the next reset unless confirm() runs first
   * (ESP: otadata PENDING_VERIFY; MCUboot: primary trailer magic good, copy_done set, image_ok
   * unset; STM32 dual bank: a TRIAL flag record for the running bank). */
  trial: boolean;
  /** Nothing is pending: the bootloader keeps booting this image (ESP: VALID, or UNDEFINED
   * without rollback; MCUboot: image_ok set, or an image that was never swapped). */
  confirmed: boolean;
  /** The bootloader's own name for the state, as boot() reports it (ESP: "valid",
   * "pending-verify", "new", "invalid", "aborted", "undefined", or "none" without a record). */
  name: string;
}

/** A slot of the flash map. */
export interface SlotInfo {
  /** The partition label (PartitionPort.open). */
  label: string;
  /** Bytes an image may occupy: the partition, less what the bootloader keeps at its end
   * (MCUboot's trailer). */
  size: number;
}

/** Reads [offset, offset + length) of a slot. */
export type SlotReader = (offset: number, length: number) => Uint8Array;

export interface BootTarget {
  /** "esp-idf", "mcuboot", "stm32-dualbank": for logs. */
  readonly kind: string;

  /** The slots images run from, in the bootloader's order (ESP: ota_0..ota_n; MCUboot: primary,
   * secondary; dual bank: bank 1, bank 2). */
  slots(): readonly SlotInfo[];
  /** The slot the running image was booted from (esp_ota_get_running_partition; MCUboot: always
   * the primary; dual bank: the bank mapped at the boot address). */
  runningSlot(): SlotInfo;
  /** Where the next image goes (esp_ota_get_next_update_partition; MCUboot: the secondary slot;
   * dual bank: the other bank). Never the running slot. */
  nextSlot(): SlotInfo;

  /** The running image's identity: its version, its security counter (the anti-rollback floor of
   * the next image) and its project. */
  runningImage(): ImageIdentity;
  /** Optional: the running image's length and its SHA-256 as esp_partition_get_sha256 gives it
   * (the base a delta patch names; ESP-IDF: the image's appended hash, i.e. SHA-256 of every
   * image byte but the last 32). Without it the delta intake hashes the whole running slot. */
  runningImageDigest?(): { length: number; sha256: Uint8Array };
  /** The running image's trial state (what the bootloader does with it at the next reset). */
  runningState(): TrialState;

  /** Bytes of an image's beginning that checkHead() looks at. */
  readonly headSize: number;
  /** The early check on the first headSize bytes, made while they arrive so that a wrong image is
   * refused after its first bytes, not after the whole download: the format's magic, and what
   * the head names (ESP: chip, version, project, secure_version; MCUboot: ih_magic, ih_ver).
   * Throws OtaError(-3). */
  checkHead(head: Uint8Array, expected: ImageExpectation): void;
  /** The whole check the bootloader (or esp_ota_end) would make before it accepts the written
   * image, over [0, expected.size) of the slot: structure and hashes, the version the offer
   * names, the signature when the target has keys, and the target's anti-rollback rule against
   * runningImage(). Throws OtaError(-3); nothing is written. */
  checkImage(read: SlotReader, expected: ImageExpectation): ImageCheck;

  /** Before the first byte of an image is written into `slot` (nextSlot()): no boot record may
   * select it any more, so that a partly written slot is never booted (ESP-IDF >= 5.5
   * esp_ota_begin; MCUboot: the secondary's trailer is erased, so that boot_set_pending finds it
   * erased; dual bank: nothing selects the other bank). The running image stays selected. */
  releaseSlot(slot: string): void;
  /** After checkImage(): the next reset boots the image in `slot` (the slot it was written to,
   * nextSlot() when it was) once, on trial, and the bootloader reverts if it is not confirmed
   * (esp_ota_set_boot_partition with rollback; boot_set_pending(0); the bank-swap bit with a
   * TRIAL record). A target whose bootloader cannot revert stages it for good. */
  stage(slot: string): void;
  /** The running image passed its self-test: the bootloader keeps it
   * (esp_ota_mark_app_valid_cancel_rollback; boot_set_confirmed). */
  confirm(): void;
  /** The running image failed its self-test: the next reset boots the previous one
   * (esp_ota_mark_app_invalid_rollback; MCUboot reverts an unconfirmed image by itself, so
   * nothing needs writing there). Call only when rollbackPossible(). */
  markInvalid(): void;
  /** Whether markInvalid() and a reset would boot another image (a previous image exists and the
   * bootloader would choose it). */
  rollbackPossible(): boolean;
  /** Optional: what a bootloader does at reset that this target's hardware does not (STM32 dual
   * bank: abandon a trial that was not confirmed before the reset, finish a bank swap a cut
   * interrupted). boot() calls it first; true: the boot selection changed and the device must
   * restart now. ESP-IDF and MCUboot do all of it in their bootloaders and leave it out. */
  settleAtBoot?(): boolean;
}
