// The ESP-IDF boot target: OTA app slots found by partition subtype (ota_0..ota_n), boot
// control on otadata (esp-boot-control.ts), images checked as esp_ota_end does before
// esp_ota_set_boot_partition: the app image structure (esp-app-image.ts), the chip, the app
// descriptor (version, project, secure_version anti-rollback) and, with Secure Boot V2 key
// digests configured (the eFuse KEY_DIGESTn), a signature block that verifies with one of those
// keys (sbv2-signature.ts; esp_secure_boot_verify_sbv2_signature_block, signatures.md §2.7-§2.8).
// Sources: boot-formats.md §1-§3, signatures.md §2.

import type { BootTarget, ImageCheck, ImageExpectation, ImageIdentity, SlotInfo, SlotReader, TrialState } from "../boot-target.ts";
import type { ChipInfo, DigestPort, PartitionPort, SignaturePort } from "../../ports.ts";
import { ErrorCode, OtaError } from "../../errors.ts";
import { withFlashErrors } from "../../flash/flash-errors.ts";
import { fromHex, isHex } from "../../util/bytes.ts";
import { printable } from "../../util/printable.ts";
import { EspBootControl } from "./esp-boot-control.ts";
import { OtaState, stateName } from "./esp-otadata.ts";
import { checkEspImage, imageChipFields, peekAppDesc, ESP_APPENDED_HASH_SIZE, ESP_CHECK_CHUNK, ESP_IMAGE_HEADER_SIZE, ESP_IMAGE_MAGIC } from "./esp-app-image.ts";
import { chipMismatch, ESP_CHIP_ID } from "./esp-chip.ts";
import { APP_DESC_IMAGE_OFFSET, APP_DESC_SIZE, parseAppDesc, type AppDesc } from "./esp-app-desc.ts";
import { checkSbv2Image, SBV2_MAX_BLOCKS } from "./sbv2-signature.ts";

/** ESP-IDF partition type of apps and the range of OTA app subtypes (boot-formats.md §1.4). */
const APP_TYPE = 0x00;
const OTA_SUBTYPE_FIRST = 0x10;
const OTA_SUBTYPE_LAST = 0x1f;
/** The image's first bytes the head check reads: header, first segment header, esp_app_desc_t. */
const IMAGE_HEAD = APP_DESC_IMAGE_OFFSET + APP_DESC_SIZE;
/** ESP_SECURE_BOOT_KEY_DIGEST_LEN: 32, 16 on ESP32-C2 (esp_secure_boot.h, signatures.md §2.6). */
const KEY_DIGEST_LEN = 32;
const KEY_DIGEST_LEN_C2 = 16;

export interface EspIdfTargetOptions {
  partitions: PartitionPort;
  digests: DigestPort;
  /** Needed when keyDigests is set; without it every image is refused. */
  signatures?: SignaturePort;
  /** The chip images must be built for; unset: the running image's chip id, revision unchecked. */
  chip?: ChipInfo;
  /** Secure Boot V2 key digests (32 bytes each, the eFuse KEY_DIGESTn). Set and non-empty: an
   * image is staged only if one of its signature blocks verifies with a key whose digest is one
   * of these. Default: chip.secureBootKeyDigests. */
  keyDigests?: readonly Uint8Array[];
  /** Signature blocks read: 1 on ESP32 (ECO3) and ESP32-C2, else 3 (SECURE_BOOT_NUM_BLOCKS). */
  maxSignatureBlocks?: number;
  otadataLabel?: string;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE of the bootloader (default true). */
  rollback?: boolean;
  /** Images must carry this esp_app_desc project name, when set. */
  projectName?: string;
}

interface OtaSlot extends SlotInfo {
  /** n of ota_n. */
  index: number;
}

/** The key digests of ChipInfo.secureBootKeyDigests (hex); throws OtaError(-1) on a bad one. */
export function keyDigestsOf(chip: ChipInfo | undefined): Uint8Array[] {
  return (chip?.secureBootKeyDigests ?? []).map((h, i) => {
    if (typeof h !== "string" || h.length !== 2 * KEY_DIGEST_LEN || !isHex(h)) {
      throw new OtaError(ErrorCode.UpdateFailed, `secure boot key digest ${i} is not ${KEY_DIGEST_LEN} bytes of hex`);
    }
    return fromHex(h);
  });
}

export class EspIdfTarget implements BootTarget {
  readonly kind = "esp-idf";
  readonly headSize = IMAGE_HEAD;
  private readonly o: EspIdfTargetOptions;
  private readonly parts: PartitionPort;
  private readonly ota: OtaSlot[];
  private readonly control: EspBootControl;
  private readonly keyDigests: readonly Uint8Array[];

  constructor(options: EspIdfTargetOptions) {
    this.o = options;
    this.parts = withFlashErrors(options.partitions);
    this.ota = this.parts.list()
      .filter((e) => e.type === APP_TYPE && e.subtype >= OTA_SUBTYPE_FIRST && e.subtype <= OTA_SUBTYPE_LAST)
      .map((e) => ({ label: e.label, index: e.subtype - OTA_SUBTYPE_FIRST, size: e.size }))
      .sort((a, b) => a.index - b.index);
    this.ota.forEach((s, i) => {
      if (s.index !== i) throw new Error(`OTA slots must be ota_0..ota_${this.ota.length - 1} without gaps`);
    });
    this.control = new EspBootControl(this.parts.open(options.otadataLabel ?? "otadata"), this.ota.length, options.rollback ?? true);
    this.keyDigests = options.keyDigests ?? keyDigestsOf(options.chip);
  }

  slots(): readonly SlotInfo[] {
    return this.ota.map(({ label, size }) => ({ label, size }));
  }

  runningSlot(): SlotInfo {
    const { label, size } = this.running();
    return { label, size };
  }

  /** esp_ota_get_next_update_partition: the slot after the running one. */
  nextSlot(): SlotInfo {
    const { label, size } = this.next();
    return { label, size };
  }

  runningImage(): ImageIdentity {
    const desc = this.runningAppDesc();
    return { version: desc.version, securityCounter: desc.secureVersion, project: desc.projectName };
  }

  /** esp_partition_get_sha256 of the running app partition (bootloader_common_get_sha256_of_partition):
   * with hash_appended, the stored digest after the checksum block (esp_delta_ota's base hash,
   * shared/vectors/detools/README.md (b)); without, SHA-256 over the image. Throws OtaError(-3)
   * when the running image does not check. */
  runningImageDigest(): { length: number; sha256: Uint8Array } {
    const part = this.parts.open(this.running().label);
    const read = (at: number, n: number) => part.read(at, n);
    const info = checkEspImage(read, part.geometry.size, this.o.digests);
    if (info.hashAppended) return { length: info.length, sha256: read(info.length - ESP_APPENDED_HASH_SIZE, ESP_APPENDED_HASH_SIZE) };
    const sha = this.o.digests.create("sha256");
    for (let at = 0; at < info.length; at += ESP_CHECK_CHUNK) sha.update(read(at, Math.min(ESP_CHECK_CHUNK, info.length - at)));
    return { length: info.length, sha256: sha.finish() };
  }

  runningState(): TrialState {
    const state = this.control.stateOf(this.running().index);
    return {
      trial: state === OtaState.PendingVerify,
      confirmed: state === OtaState.Valid || state === OtaState.Undefined,
      name: state === undefined ? "none" : stateName(state),
    };
  }

  /** The chip, version, project and secure_version named by the first IMAGE_HEAD bytes. */
  checkHead(head: Uint8Array, expected: ImageExpectation): void {
    this.signaturesPossible();
    const desc = peekAppDesc(head);
    if (!desc) return;
    const chip = this.chip();
    const mismatch = chip && chipMismatch(imageChipFields(head), chip);
    if (mismatch) throw new OtaError(ErrorCode.VerifyFailed, mismatch);
    this.checkAppDesc(desc, expected);
  }

  /** esp_ota_end: the image (chip included), its descriptor, then its SBv2 signature when keyed. */
  checkImage(read: SlotReader, expected: ImageExpectation): ImageCheck {
    this.signaturesPossible();
    const info = checkEspImage(read, expected.size, this.o.digests, { chip: this.chip() });
    const desc = info.appDesc;
    this.checkAppDesc(desc, expected);
    const check: ImageCheck = { version: desc.version, securityCounter: desc.secureVersion, project: desc.projectName, length: info.length };
    if (this.keyDigests.length > 0) {
      const r = checkSbv2Image(read, expected.size, info.length, {
        digests: this.o.digests,
        signatures: this.o.signatures!,
        trustedKeyDigests: this.keyDigests,
        keyDigestLength: this.chipId() === ESP_CHIP_ID.ESP32C2 ? KEY_DIGEST_LEN_C2 : KEY_DIGEST_LEN,
        maxBlocks: this.o.maxSignatureBlocks ?? this.defaultMaxBlocks(),
      });
      const block = r.signatures.find((s) => s.index === r.verifiedBlock);
      check.signature = `SBv2 block ${r.verifiedBlock}, ${block?.algorithm ?? "?"}`;
    }
    return check;
  }

  releaseSlot(slot: string): void {
    this.control.releaseSlot(this.slot(slot).index, this.running().index);
  }

  stage(slot: string): void {
    this.control.stage(this.slot(slot).index);
  }

  confirm(): void {
    this.control.confirm(this.running().index);
  }

  markInvalid(): void {
    this.control.markInvalid(this.running().index);
  }

  rollbackPossible(): boolean {
    return this.control.rollbackPossible(this.running().index);
  }

  private running(): OtaSlot {
    const label = this.parts.running();
    const slot = this.ota.find((s) => s.label === label);
    if (!slot) throw new Error(`running partition ${label} is not an OTA slot`);
    return slot;
  }

  private next(): OtaSlot {
    return this.ota[(this.running().index + 1) % this.ota.length];
  }

  private slot(label: string): OtaSlot {
    const slot = this.ota.find((s) => s.label === label);
    if (!slot) throw new Error(`${label} is not an OTA slot`);
    return slot;
  }

  private runningAppDesc(): AppDesc {
    return parseAppDesc(this.parts.open(this.running().label).read(APP_DESC_IMAGE_OFFSET, APP_DESC_SIZE));
  }

  private checkAppDesc(desc: AppDesc, expected: ImageExpectation): void {
    if (desc.version !== expected.version) {
      throw new OtaError(ErrorCode.VerifyFailed, `image says version "${printable(desc.version)}", the offer ${expected.version}`);
    }
    if (this.o.projectName !== undefined && desc.projectName !== this.o.projectName) {
      throw new OtaError(ErrorCode.VerifyFailed, `image is for project "${printable(desc.projectName)}", this board runs ${this.o.projectName}`);
    }
    const floor = this.runningAppDesc().secureVersion;
    if (desc.secureVersion < floor) {
      throw new OtaError(ErrorCode.VerifyFailed, `anti-rollback: secure_version ${desc.secureVersion} is below the running ${floor}`);
    }
  }

  /** With key digests, images can only be checked on a platform that verifies signatures: refuse
   * them all, clearly, rather than skip the check. */
  private signaturesPossible(): void {
    if (this.keyDigests.length > 0 && !this.o.signatures) {
      throw new OtaError(ErrorCode.VerifyFailed, "Secure Boot V2: this board has key digests but the platform has no signature port; no image can be verified");
    }
  }

  /** The chip images must be built for: the configured one, else the chip id in the running
   * image's header (the bootloader booted it on this chip), revision unchecked. */
  private chip(): ChipInfo | undefined {
    if (this.o.chip) return this.o.chip;
    const header = this.parts.open(this.running().label).read(0, ESP_IMAGE_HEADER_SIZE);
    if (header[0] !== ESP_IMAGE_MAGIC) return undefined;
    return { id: imageChipFields(header).chipId };
  }

  private chipId(): number | undefined {
    return this.chip()?.id;
  }

  /** SECURE_BOOT_NUM_BLOCKS: one block on ESP32 (ECO3) and ESP32-C2 (sbv2-signature.ts). */
  private defaultMaxBlocks(): number {
    const id = this.chipId();
    return id === ESP_CHIP_ID.ESP32 || id === ESP_CHIP_ID.ESP32C2 ? 1 : SBV2_MAX_BLOCKS;
  }
}
