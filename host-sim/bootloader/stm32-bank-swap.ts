// The boot of an STM32L4 dual-bank part, simulated: at reset the option-byte loader reads the
// stored {OPTR, ~OPTR} double-word (a mismatch reads as all ones, OPTVERR); with BFB2 = 0 the
// chip boots bank 1 directly; with BFB2 = 1 the system bootloader boots bank 2 if its first word
// (the initial stack pointer) points into SRAM, else bank 1 if that one does, and maps the booted
// bank at 0x0800_0000 (FB_MODE). Sources: ST RM0351 §3.4 (option bytes), §3.7.8 (FLASH_OPTR.BFB2)
// and §2.6 "Boot configuration"; AN2606 "STM32 microcontroller system memory boot mode", the
// dual-bank boot flow of the STM32L47x/L48x/L49x/L4Ax bootloader (stack pointer in SRAM check).
// The option bytes live in the simulator's "option-bytes" page (host-sim/boards/profiles.ts).

import type { FlashPartition } from "../../src/ports.ts";
import { readU32LE } from "../../src/util/bytes.ts";
import {
  OB_RECORD_SIZE, OPTR_FACTORY, bootBankOf, decodeOptionBytes, encodeOptionBytes, pageOptionBytes, type OptionBytesPort,
} from "../../src/targets/stm32-dualbank/option-bytes.ts";
import { NoBootableImage } from "./esp-idf.ts";

/** AN2606: the bootloader accepts a bank whose initial stack pointer is in SRAM (0x2000_0000 region). */
export function hasValidStackPointer(bank: FlashPartition): boolean {
  const sp = readU32LE(bank.read(0, 4), 0);
  return ((sp & 0x2ffe0000) >>> 0) === 0x20000000;
}

/** FLASH_OPTR programming on the simulator: erase the option page, program the double-word. */
export function simOptionBytes(page: FlashPartition): OptionBytesPort {
  return pageOptionBytes(page);
}

/** The factory option bytes (BFB2 = 0), as a fresh chip holds them. */
export function factoryOptionBytes(page: FlashPartition): void {
  page.erase(0, page.geometry.size);
  page.write(0, encodeOptionBytes(OPTR_FACTORY));
}

export interface BankBootOutcome {
  bank: 1 | 2;
  optr: number;
  /** The option bytes failed to load (OPTVERR): they read as all ones. */
  optionLoadError: boolean;
  log: string[];
}

/** One reset. Throws NoBootableImage when no bank the chip would run has a valid stack pointer. */
export function bootDualBank(banks: readonly [FlashPartition, FlashPartition], optionPage: FlashPartition): BankBootOutcome {
  const { optr, loadError } = decodeOptionBytes(optionPage.read(0, OB_RECORD_SIZE));
  const log: string[] = [];
  if (loadError) log.push("option bytes do not match their complement (OPTVERR): FLASH_OPTR reads 0xffffffff");
  if (bootBankOf(optr) === 1) {
    if (!hasValidStackPointer(banks[0])) throw new NoBootableImage([...log, "BFB2 = 0 and bank 1 holds no valid stack pointer"]);
    return { bank: 1, optr, optionLoadError: loadError, log };
  }
  for (const bank of [2, 1] as const) {
    if (hasValidStackPointer(banks[bank - 1])) {
      if (bank === 1) log.push("BFB2 = 1 but bank 2 holds no valid stack pointer: the system bootloader boots bank 1");
      return { bank, optr, optionLoadError: loadError, log };
    }
  }
  throw new NoBootableImage([...log, "BFB2 = 1 and neither bank holds a valid stack pointer"]);
}
