// The STM32 dual-bank boot target (STM32L4 with DUALBANK=1): the image runs from the bank mapped
// at the boot address and the next one is written into the other bank; boot control is the
// bank-swap option bit plus the flag record (boot-control.ts), and because the part has no
// bootloader that checks images, the agent checks them all before it flips the bit: the bank
// image format (bank-image.ts: a vector table that boots, then MCUboot's header and TLVs), its
// hash, a signature by one of the board's trusted keys, SEC_CNT not below the running image's.
// settleAtBoot() does what a bootloader would do at reset (boot-control.ts onBoot).

import type { BootTarget, ImageCheck, ImageExpectation, ImageIdentity, SlotInfo, SlotReader, TrialState } from "../boot-target.ts";
import type { DigestPort, FlashPartition, PartitionPort, SignaturePort } from "../../ports.ts";
import type { PublicKey } from "../../crypto/public-key.ts";
import { ErrorCode, OtaError } from "../../errors.ts";
import { withFlashErrors } from "../../flash/flash-errors.ts";
import { DualBankBootControl, type Bank } from "./boot-control.ts";
import type { OptionBytesPort } from "./option-bytes.ts";
import { mcubootView, payloadLength, VT_HEAD } from "./bank-image.ts";
import { checkOfferVersion, mcubootIdentity } from "../mcuboot/image-identity.ts";
import { checkMcubootImage } from "../mcuboot/verify-image.ts";

export interface DualBankTargetOptions {
  partitions: PartitionPort;
  digests: DigestPort;
  signatures?: SignaturePort;
  /** Trusted keys. Non-empty: an image is staged only if a signature by one of them verifies. */
  keys?: readonly PublicKey[];
  /** FLASH_OPTR (the platform's option-byte programming sequence). */
  optionBytes: OptionBytesPort;
  /** Bank labels, bank 1 first (default "bank1", "bank2"), and the flag record's (default
   * "boot-flags"). */
  banks?: readonly [string, string];
  flags?: string;
}

export class DualBankTarget implements BootTarget {
  readonly kind = "stm32-dualbank";
  readonly headSize = VT_HEAD;
  private readonly o: DualBankTargetOptions;
  private readonly banks: readonly [FlashPartition, FlashPartition];
  private readonly control: DualBankBootControl;

  constructor(options: DualBankTargetOptions) {
    this.o = options;
    const parts = withFlashErrors(options.partitions);
    const [l1, l2] = options.banks ?? ["bank1", "bank2"];
    this.banks = [parts.open(l1), parts.open(l2)];
    const running = parts.running();
    const bank: Bank | undefined = running === l1 ? 1 : running === l2 ? 2 : undefined;
    if (!bank) throw new Error(`running partition ${running} is not a bank (${l1}, ${l2})`);
    this.control = new DualBankBootControl(this.banks, parts.open(options.flags ?? "boot-flags"), options.optionBytes, bank);
  }

  slots(): readonly SlotInfo[] {
    return this.banks.map((b) => ({ label: b.label, size: b.geometry.size }));
  }

  runningSlot(): SlotInfo {
    return this.slotInfo(this.control.runningSlot());
  }

  nextSlot(): SlotInfo {
    return this.slotInfo(this.control.nextSlot());
  }

  runningImage(): ImageIdentity {
    const bank = this.banks[this.control.running - 1];
    const read = (at: number, n: number) => bank.read(at, n);
    const limit = bank.geometry.size;
    return mcubootIdentity(mcubootView(read, payloadLength(read(0, VT_HEAD), limit)), limit);
  }

  runningState(): TrialState {
    const s = this.control.runningState();
    return { trial: s === "trial", confirmed: s === "confirmed", name: s };
  }

  /** The vector table: a stack pointer the ROM accepts and a payload length that fits. */
  checkHead(head: Uint8Array, expected: ImageExpectation): void {
    payloadLength(head, expected.size);
  }

  checkImage(read: SlotReader, expected: ImageExpectation): ImageCheck {
    const keys = this.o.keys ?? [];
    if (keys.length > 0 && !this.o.signatures && keys.some((k) => k.kind !== "ed25519")) {
      throw new OtaError(ErrorCode.VerifyFailed, "dual bank: this board has ECDSA/RSA keys but the platform has no signature port; no image can be verified");
    }
    const limit = expected.size;
    const payload = payloadLength(read(0, VT_HEAD), limit);
    const floor = this.runningImage().securityCounter;
    const r = checkMcubootImage(mcubootView(read, payload), limit, {
      digests: this.o.digests,
      signatures: this.o.signatures,
      keys,
      minSecurityCounter: floor > 0 ? floor : undefined,
    });
    const header = r.header!;
    if (header.hdrSize !== 0x20) throw new OtaError(ErrorCode.VerifyFailed, `bank image: ih_hdr_size ${header.hdrSize}, the format needs 32`);
    if (header.imgSize !== payload) throw new OtaError(ErrorCode.VerifyFailed, `bank image: ih_img_size ${header.imgSize} differs from the vector table's payload length ${payload}`);
    checkOfferVersion(header, expected.version);
    const v = header.version;
    const check: ImageCheck = { version: `${v.major}.${v.minor}.${v.revision}`, securityCounter: r.securityCounter ?? 0, length: r.end ?? limit };
    const sig = r.signatures.find((s) => s.ok);
    if (sig) check.signature = `MCUboot TLV ${sig.algorithm}, key ${sig.keyIndex}`;
    return check;
  }

  /** Nothing selects the other bank: BFB2 and the flag record name the running one (the ROM
   * prefers bank 2 under BFB2 = 1 only when bank 2 runs). */
  releaseSlot(slot: string): void {
    if (slot !== this.control.nextSlot()) throw new Error(`${slot} is not the inactive bank`);
  }

  stage(slot: string): void {
    if (slot !== this.control.nextSlot()) throw new Error(`${slot} is not the inactive bank`);
    this.control.stage();
  }

  confirm(): void {
    this.control.confirm();
  }

  markInvalid(): void {
    this.control.revert();
  }

  rollbackPossible(): boolean {
    return this.control.canRevert();
  }

  /** boot-control.ts onBoot: "revert" and "repair" changed the bank that boots: restart. */
  settleAtBoot(): boolean {
    const action = this.control.onBoot();
    return action === "revert" || action === "repair";
  }

  private slotInfo(label: string): SlotInfo {
    const b = this.banks.find((x) => x.label === label)!;
    return { label, size: b.geometry.size };
  }
}
