// MCUboot's swap decision table (boot_swap_tables in mcu-tools/mcuboot
// boot/bootutil/src/bootutil_public.c, boot_swap_type_multi), evaluated in order;
// shared/reference/boot-formats.md §4.5. Row I (REVERT on a secondary with copy_done) exists only
// with swap-offset, which this project does not implement.

import { SwapType, type SwapState, type SwapTypeValue } from "./trailer.ts";

/** The swap type the bootloader computes from the two trailers (before validating the image). */
export function swapTypeFromTable(primary: SwapState, secondary: SwapState): SwapTypeValue {
  // II: secondary magic GOOD, secondary image_ok UNSET -> TEST
  if (secondary.magic === "good" && secondary.imageOk === "unset") return SwapType.TEST;
  // III: secondary magic GOOD, secondary image_ok SET -> PERM
  if (secondary.magic === "good" && secondary.imageOk === "set") return SwapType.PERM;
  // IV: primary magic GOOD, primary image_ok UNSET, primary copy_done SET -> REVERT
  if (primary.magic === "good" && primary.imageOk === "unset" && primary.copyDone === "set") return SwapType.REVERT;
  return SwapType.NONE;
}
