// The image format of the STM32 dual-bank target: what a bank holds and what the agent checks
// before it selects the bank. The part has no bootloader of ours: the ROM boots the bank at
// 0x0800_0000 when its first word (the initial stack pointer) points into SRAM (AN2606, see
// host-sim/bootloader/stm32-bank-swap.ts), so the bank must begin with the application's vector
// table. The signed metadata is MCUboot's (an `imgtool sign --header-size 0x20 --pad-header`
// image: 32-byte header, payload, protected and unprotected TLVs; boot-formats.md §4.1-§4.2,
// signatures.md §1), checked with the same code MCUboot's bootutil check uses (verify-image.ts),
// only stored with the 32-byte header moved behind the payload:
//
//   bank offset   what                                     MCUboot image offset
//   0             payload (vector table first), L bytes    0x20
//   L             MCUboot image header (ih_hdr_size 0x20)  0
//   L + 0x20      TLV areas, unchanged                     L + 0x20
//
// L, the payload length, sits in the vector table's reserved word at 0x20 (vector 8, reserved by
// the ARMv7-M architecture, ARM DDI 0403 §B1.5.2; NXP's LPC parts keep the image length there
// too), so the running image can be found without a scan. The payload and the word are hashed
// and signed as they are. This is xs-ota's own arrangement.

import { ErrorCode, OtaError } from "../../errors.ts";
import { readU32LE } from "../../util/bytes.ts";
import { IMAGE_HEADER_SIZE } from "../mcuboot/image-header.ts";
import type { ImageRead } from "../mcuboot/tlv.ts";

/** Offset of the initial stack pointer (vector 0). */
export const VT_INITIAL_SP = 0x00;
/** Offset of the reserved vector-table word that holds the payload length L. */
export const VT_PAYLOAD_LENGTH = 0x20;
/** Bytes of the vector table the format reads. */
export const VT_HEAD = VT_PAYLOAD_LENGTH + 4;
/** SRAM region of the AN2606 stack-pointer check: (sp & 0x2FFE0000) === 0x20000000. */
const SP_MASK = 0x2ffe0000;
const SP_SRAM = 0x20000000;

/** Whether the ROM boots a bank that starts with this initial stack pointer. */
export function stackPointerValid(sp: number): boolean {
  return ((sp & SP_MASK) >>> 0) === SP_SRAM;
}

/** L, from the first VT_HEAD bytes of a bank image; throws OtaError(-3) when it cannot be one. */
export function payloadLength(head: Uint8Array, limit: number): number {
  if (head.length < VT_HEAD) throw new OtaError(ErrorCode.VerifyFailed, `bank image: ${head.length} bytes, need ${VT_HEAD}`);
  const sp = readU32LE(head, VT_INITIAL_SP);
  if (!stackPointerValid(sp)) {
    throw new OtaError(ErrorCode.VerifyFailed, `bank image: initial stack pointer 0x${sp.toString(16)} is not in SRAM; the chip would not boot it`);
  }
  const l = readU32LE(head, VT_PAYLOAD_LENGTH);
  if (l < VT_HEAD || l + IMAGE_HEADER_SIZE > limit) {
    throw new OtaError(ErrorCode.VerifyFailed, `bank image: payload length 0x${l.toString(16)} (vector-table word 0x20) does not fit the ${limit}-byte image`);
  }
  return l;
}

/** The MCUboot image a bank holds, read in MCUboot's order (header first). */
export function mcubootView(read: ImageRead, payload: number): ImageRead {
  const rotated = payload + IMAGE_HEADER_SIZE;
  // MCUboot offset x < rotated: the header [0, 0x20) is at bank L + x, the payload at x - 0x20.
  const bankOffset = (x: number) => (x < IMAGE_HEADER_SIZE ? payload + x : x - IMAGE_HEADER_SIZE);
  return (off, n) => {
    if (off >= rotated) return read(off, n);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const x = off + done;
      const runEnd = x < IMAGE_HEADER_SIZE ? IMAGE_HEADER_SIZE : x < rotated ? rotated : off + n;
      const len = Math.min(n - done, runEnd - x);
      out.set(x >= rotated ? read(x, len) : read(bankOffset(x), len), done);
      done += len;
    }
    return out;
  };
}
