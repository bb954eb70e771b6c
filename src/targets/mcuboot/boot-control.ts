// MCUboot boot control on the application side: bootutil's application API
// (boot/bootutil/src/bootutil_public.c: boot_set_pending -> boot_set_next(secondary, false,
// permanent), boot_set_confirmed -> boot_set_next(primary, true, true), boot_swap_type) written
// exactly as bootutil writes it, over the FlashPartition port; shared/reference/boot-formats.md
// §4.3-§4.5. Every write is one boot_write_trailer / boot_write_magic: aligned to the flash write
// size and BOOT_MAX_ALIGN, and only to bytes that read as erased (bootutil writes a field only
// when it reads UNSET).
// The image runs from the primary slot; the next image goes to the secondary slot, which must be
// erased in full (trailer included) before it is written: boot_set_pending writes the magic only
// when it reads as erased.

import { ErrorCode, OtaError } from "../../errors.ts";
import type { FlashPartition } from "../../ports.ts";
import { swapTypeFromTable } from "./swap-table.ts";
import {
  SwapType, readSwapState, trailerLayout, writeFlag, writeMagic, writeSwapInfo,
  type McubootStrategy, type SwapState, type SwapTypeValue, type TrailerLayout,
} from "./trailer.ts";
import { checkMcubootImage, type McubootVerifyOptions, type McubootVerifyResult } from "./verify-image.ts";

export interface McubootBootOptions {
  strategy: McubootStrategy;
  /** BOOT_MAX_ALIGN: 8 (default) or 32 (ESP32 with flash encryption), 16. */
  maxAlign?: number;
  /** Image index for multi-image builds (the high nibble of swap_info). Default 0. */
  imageIndex?: number;
}

/** State of the image in the primary slot (the running one). */
export type RunningState = "confirmed" | "trial";

export class McubootBootControl {
  readonly primary: FlashPartition;
  readonly secondary: FlashPartition;
  readonly strategy: McubootStrategy;
  readonly primaryLayout: TrailerLayout;
  readonly secondaryLayout: TrailerLayout;
  readonly imageIndex: number;

  constructor(primary: FlashPartition, secondary: FlashPartition, options: McubootBootOptions) {
    this.primary = primary;
    this.secondary = secondary;
    this.strategy = options.strategy;
    this.imageIndex = options.imageIndex ?? 0;
    const writeAlign = Math.max(primary.geometry.writeAlign, secondary.geometry.writeAlign);
    const common = { maxAlign: options.maxAlign, writeAlign, strategy: options.strategy, imageSectors: primary.geometry.sectors.length };
    this.primaryLayout = trailerLayout(primary.geometry.size, common);
    this.secondaryLayout = trailerLayout(secondary.geometry.size, common);
  }

  /** The slot the running image was booted from: MCUboot always runs the primary slot. */
  runningSlot(): string {
    return this.primary.label;
  }

  /** Where the next image goes. */
  nextSlot(): string {
    return this.secondary.label;
  }

  /** Largest image (header, payload and TLVs) the secondary slot holds below its trailer. */
  maxImageSize(): number {
    return this.secondaryLayout.statusOff;
  }

  primaryState(): SwapState {
    return readSwapState(this.primary, this.primaryLayout);
  }

  secondaryState(): SwapState {
    return readSwapState(this.secondary, this.secondaryLayout);
  }

  /** "trial" when the next boot reverts unless confirm() runs first (table row IV), else "confirmed". */
  runningState(): RunningState {
    const p = this.primaryState();
    return p.magic === "good" && p.imageOk === "unset" && p.copyDone === "set" ? "trial" : "confirmed";
  }

  /** Whether the previous image can come back: a swap strategy keeps it in the secondary slot. */
  canRevert(): boolean {
    return this.strategy !== "overwrite-only" && this.runningState() === "trial";
  }

  /** What the bootloader does on the next boot (boot_swap_type), before it validates the image. */
  pendingSwap(): SwapTypeValue {
    return swapTypeFromTable(this.primaryState(), this.secondaryState());
  }

  /** Validates the image in the secondary slot as the bootloader will (throws OtaError -3). */
  verifyNext(options: McubootVerifyOptions): McubootVerifyResult {
    const s = this.secondary;
    return checkMcubootImage((o, n) => s.read(o, n), this.maxImageSize(), options);
  }

  /**
   * boot_set_pending(permanent): schedules the secondary image for a test boot (reverted unless
   * confirmed) or a permanent one. With the secondary magic UNSET it writes, in bootutil's order,
   * the magic, image_ok (permanent only) and swap_info; with the magic GOOD it does nothing (already
   * scheduled); a BAD magic is refused (BOOT_EBADIMAGE) and nothing is written.
   */
  stage(permanent = false): void {
    const s = this.secondaryState();
    if (s.magic === "good") return;
    if (s.magic === "bad") {
      throw new OtaError(ErrorCode.UpdateFailed, `${this.secondary.label}: trailer magic is neither erased nor valid (BOOT_EBADIMAGE); erase the slot before writing an image`);
    }
    const l = this.secondaryLayout;
    writeMagic(this.secondary, l);
    if (permanent) writeFlag(this.secondary, l, l.imageOkOff);
    writeSwapInfo(this.secondary, l, permanent ? SwapType.PERM : SwapType.TEST, this.imageIndex);
  }

  /**
   * boot_set_confirmed: with the primary magic GOOD and image_ok UNSET it writes image_ok; with the
   * magic UNSET (an image that was never swapped in) there is nothing to confirm; a BAD magic is
   * refused (BOOT_EBADVECT).
   */
  confirm(): void {
    const p = this.primaryState();
    if (p.magic === "unset") return;
    if (p.magic === "bad") {
      throw new OtaError(ErrorCode.UpdateFailed, `${this.primary.label}: trailer magic is not valid (BOOT_EBADVECT)`);
    }
    if (p.imageOk === "unset") writeFlag(this.primary, this.primaryLayout, this.primaryLayout.imageOkOff);
    else if (p.imageOk === "bad") throw new OtaError(ErrorCode.UpdateFailed, `${this.primary.label}: image_ok holds neither erased nor 0x01`);
  }
}
