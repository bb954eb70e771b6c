// The MCUboot boot target: the image runs from the primary slot and the next one is written into
// the secondary slot (below its trailer); boot control is bootutil's application API
// (boot-control.ts: boot_set_pending, boot_set_confirmed, the primary trailer's state); an image
// is checked as the bootloader will check it before it swaps (verify-image.ts: hash TLV,
// KEYHASH, a signature by one of the board's trusted keys, and SEC_CNT not below the running
// image's, MCUBOOT_HW_ROLLBACK_PROT). Sources: boot-formats.md §4, signatures.md §1.

import { RewriteSlot, type BootTarget, type ImageCheck, type ImageExpectation, type ImageIdentity, type SlotInfo, type SlotReader, type TrialState } from "../boot-target.ts";
import type { DigestPort, PartitionPort, SignaturePort } from "../../ports.ts";
import type { PublicKey } from "../../crypto/public-key.ts";
import { ErrorCode, OtaError } from "../../errors.ts";
import { withFlashErrors } from "../../flash/flash-errors.ts";
import { McubootBootControl } from "./boot-control.ts";
import { IMAGE_HEADER_SIZE, parseImageHeader } from "./image-header.ts";
import { checkOfferVersion, mcubootIdentity } from "./image-identity.ts";
import type { McubootStrategy } from "./trailer.ts";
import { checkMcubootImage } from "./verify-image.ts";

export interface McubootTargetOptions {
  partitions: PartitionPort;
  digests: DigestPort;
  /** ECDSA and RSA verification (and a native SHA-384/512); Ed25519 is portable TS. */
  signatures?: SignaturePort;
  /** The bootloader's trusted keys (bootutil_keys). Non-empty: an image is staged only if a
   * signature by one of them verifies, as MCUboot with signature checking decides. */
  keys?: readonly PublicKey[];
  strategy: McubootStrategy;
  /** BOOT_MAX_ALIGN (default 8). */
  maxAlign?: number;
  /** Slot labels (default "primary", "secondary"). */
  primary?: string;
  secondary?: string;
  /** boot_set_pending(1): the image is swapped for good, without a trial (default false). */
  permanent?: boolean;
}

const trialNames = Object.freeze({ trial: "trial", confirmed: "confirmed" } as const);

export class McubootTarget implements BootTarget {
  readonly kind = "mcuboot";
  readonly headSize = IMAGE_HEADER_SIZE;
  private readonly o: McubootTargetOptions;
  private readonly control: McubootBootControl;
  /** Bytes of the image checkImage() last accepted (what the slot holds below its trailer). */
  private checkedSize = 0;

  constructor(options: McubootTargetOptions) {
    this.o = options;
    const parts = withFlashErrors(options.partitions);
    this.control = new McubootBootControl(parts.open(options.primary ?? "primary"), parts.open(options.secondary ?? "secondary"), {
      strategy: options.strategy,
      maxAlign: options.maxAlign,
    });
  }

  slots(): readonly SlotInfo[] {
    return [this.runningSlot(), this.nextSlot()];
  }

  runningSlot(): SlotInfo {
    return { label: this.control.primary.label, size: this.control.primaryLayout.statusOff };
  }

  /** The secondary slot; room for an image below its trailer (the swap status and trailer info). */
  nextSlot(): SlotInfo {
    return { label: this.control.secondary.label, size: this.control.maxImageSize() };
  }

  runningImage(): ImageIdentity {
    const p = this.control.primary;
    return mcubootIdentity((at, n) => p.read(at, n), this.control.primaryLayout.statusOff);
  }

  /** Trial: the primary trailer's magic is good, copy_done set and image_ok unset (row IV of the
   * swap table: MCUboot reverts at the next reset). */
  runningState(): TrialState {
    const s = this.control.runningState();
    return { trial: s === "trial", confirmed: s === "confirmed", name: trialNames[s] };
  }

  checkHead(head: Uint8Array, expected: ImageExpectation): void {
    checkOfferVersion(parseImageHeader(head), expected.version);
  }

  checkImage(read: SlotReader, expected: ImageExpectation): ImageCheck {
    const limit = Math.min(expected.size, this.control.maxImageSize());
    const floor = this.runningImage().securityCounter;
    const keys = this.o.keys ?? [];
    if (keys.length > 0 && !this.o.signatures && keys.some((k) => k.kind !== "ed25519")) {
      throw new OtaError(ErrorCode.VerifyFailed, "MCUboot: this board has ECDSA/RSA keys but the platform has no signature port; no image can be verified");
    }
    const r = checkMcubootImage(read, limit, {
      digests: this.o.digests,
      signatures: this.o.signatures,
      keys,
      // SEC_CNT is required only when there is a floor to hold (a board without one accepts
      // images without the TLV).
      minSecurityCounter: floor > 0 ? floor : undefined,
    });
    const header = r.header!;
    checkOfferVersion(header, expected.version);
    this.checkedSize = expected.size;
    const check: ImageCheck = { version: `${header.version.major}.${header.version.minor}.${header.version.revision}`, securityCounter: r.securityCounter ?? 0, length: r.end ?? limit };
    const sig = r.signatures.find((s) => s.ok);
    if (sig) check.signature = `MCUboot ${sig.algorithm}, key ${sig.keyIndex}`;
    return check;
  }

  /** The secondary's trailer must read erased for boot_set_pending: erase the sector(s) holding
   * it when it does not (a previous image's magic, or a swap's leftovers). */
  releaseSlot(slot: string): void {
    const s = this.control.secondary;
    if (slot !== s.label) throw new Error(`${slot} is not the MCUboot secondary slot`);
    const l = this.control.secondaryLayout;
    const { erasedValue, sectors } = s.geometry;
    const tail = s.read(l.statusOff, l.slotSize - l.statusOff);
    if (tail.every((b) => b === erasedValue)) return;
    for (const sector of sectors) {
      if (sector.offset + sector.size > l.statusOff) s.erase(sector.offset, sector.size);
    }
  }

  /** boot_set_pending. A magic that reads neither erased nor good is a boot_set_pending that a
   * power cut tore (bootutil would refuse it, BOOT_EBADIMAGE): the sectors holding only the
   * trailer are erased and the trailer written again; when the image reaches into them, the
   * image is written again from that sector (RewriteSlot). */
  stage(slot: string): void {
    const s = this.control.secondary;
    if (slot !== s.label) throw new Error(`${slot} is not the MCUboot secondary slot`);
    if (this.control.secondaryState().magic === "bad") {
      const l = this.control.secondaryLayout;
      const tail = s.geometry.sectors.filter((x) => x.offset + x.size > l.statusOff);
      const shared = tail.find((x) => x.offset < this.checkedSize);
      if (shared) {
        throw new RewriteSlot(`${s.label}: a torn trailer shares the sector at 0x${shared.offset.toString(16)} with the image; writing the image again from there`, shared.offset);
      }
      for (const x of tail) s.erase(x.offset, x.size);
    }
    this.control.stage(this.o.permanent ?? false);
  }

  confirm(): void {
    this.control.confirm();
  }

  /** MCUboot reverts an unconfirmed image at the next reset by itself: nothing to write. */
  markInvalid(): void {}

  rollbackPossible(): boolean {
    return this.control.canRevert();
  }
}
