// STM32L4 user option bytes: the FLASH_OPTR register and its stored form. Bit positions from ST
// RM0351 (STM32L4x5/L4x6 reference manual), §3.7.8 "Flash option register (FLASH_OPTR)":
// RDP [7:0] (0xAA = level 0), BOR_LEV [10:8], nRST_STOP 12, nRST_STDBY 13, nRST_SHDW 14,
// IWDG_SW 16, IWDG_STOP 17, IWDG_STDBY 18, WWDG_SW 19, BFB2 20 ("dual-bank boot": 1 = boot from
// bank 2 when it holds a valid stack pointer, through the system bootloader, else bank 1),
// DUALBANK 21, nBOOT1 23, SRAM2_PE 24, SRAM2_RST 25, nSWBOOT0 26, nBOOT0 27. Factory value
// 0xFFEF_F8AA (BFB2 = 0: bank 1 boots).
// Stored form (RM0351 §3.4.1 "Option bytes description"): the option bytes are not in the main
// flash but in the information block at 0x1FFF_7800, as a 64-bit double-word {u32 OPTR,
// u32 ~OPTR}; when the word and its complement do not match at option-byte load, OPTVERR is set
// and the option bytes read as all ones (so BFB2 = 1). The simulator keeps this double-word at
// offset 0 of a 2 KiB "option-bytes" page (host-sim/boards/profiles.ts); programming is an erase
// of that page and one 8-byte write (OPTSTRT), taking effect at the next reset (OBL_LAUNCH).

import type { FlashPartition } from "../../ports.ts";
import { readU32LE, writeU32LE } from "../../util/bytes.ts";

/** FLASH_OPTR.BFB2. */
export const OPTR_BFB2 = 1 << 20;
/** FLASH_OPTR.DUALBANK. */
export const OPTR_DUALBANK = 1 << 21;
/** FLASH_OPTR.RDP field mask and its level-0 value. */
export const OPTR_RDP_MASK = 0xff;
export const OPTR_RDP_LEVEL0 = 0xaa;
/** Factory FLASH_OPTR (RM0351 §3.7.8 reset value). */
export const OPTR_FACTORY = 0xffeff8aa;
/** What FLASH_OPTR reads after a failed option-byte load (OPTVERR). */
export const OPTR_LOAD_ERROR = 0xffffffff;

/** Offsets of the stored double-word. */
export const OB_OFF_OPTR = 0;
export const OB_OFF_OPTR_COMPLEMENT = 4;
export const OB_RECORD_SIZE = 8;

/** The bank FLASH_OPTR asks the chip to boot: 2 with BFB2 set, else 1. */
export const bootBankOf = (optr: number): 1 | 2 => ((optr & OPTR_BFB2) !== 0 ? 2 : 1);

/** FLASH_OPTR with BFB2 selecting `bank`. A value read after a load error starts from the factory
 * value, so reprogramming never leaves RDP at 0xFF (level 1). */
export function withBootBank(optr: number, bank: 1 | 2): number {
  const base = optr === OPTR_LOAD_ERROR ? OPTR_FACTORY : optr;
  return (bank === 2 ? base | OPTR_BFB2 : base & ~OPTR_BFB2) >>> 0;
}

/** The stored double-word for `optr`. */
export function encodeOptionBytes(optr: number): Uint8Array {
  const b = new Uint8Array(OB_RECORD_SIZE);
  writeU32LE(b, OB_OFF_OPTR, optr >>> 0);
  writeU32LE(b, OB_OFF_OPTR_COMPLEMENT, ~optr >>> 0);
  return b;
}

/** FLASH_OPTR as the option-byte loader sets it from the stored double-word. */
export function decodeOptionBytes(b: Uint8Array): { optr: number; loadError: boolean } {
  const optr = readU32LE(b, OB_OFF_OPTR);
  const comp = readU32LE(b, OB_OFF_OPTR_COMPLEMENT);
  if ((optr ^ comp) >>> 0 !== 0xffffffff) return { optr: OPTR_LOAD_ERROR, loadError: true };
  return { optr, loadError: false };
}

/** The option-byte interface a platform gives the dual-bank target (FLASH_OPTKEYR unlock,
 * FLASH_OPTR write, OPTSTRT; the new value applies at the next reset). */
export interface OptionBytesPort {
  /** FLASH_OPTR as loaded at the last reset (or programmed since, on the simulator). */
  read(): number;
  program(optr: number): void;
}

/** FLASH_OPTR kept as the stored double-word at the start of a flash page of its own (the
 * simulator's "option-bytes" page, host-sim/boards/profiles.ts): read decodes it, program erases
 * the page and writes the new double-word, as the option-byte programming sequence does. */
export function pageOptionBytes(page: FlashPartition): OptionBytesPort {
  return {
    read: () => decodeOptionBytes(page.read(0, OB_RECORD_SIZE)).optr,
    program: (optr: number) => {
      page.erase(0, page.geometry.size);
      page.write(0, encodeOptionBytes(optr));
    },
  };
}
