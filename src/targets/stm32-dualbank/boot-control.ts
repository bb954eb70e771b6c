// Boot control for STM32 dual-bank parts (STM32L4 with DUALBANK=1): the option bit FLASH_OPTR.BFB2
// selects the bank the chip boots (option-bytes.ts), and a flag record (boot-flags.ts) gives the
// trial/confirm state the hardware lacks. Same shape as McubootBootControl: the running bank,
// where the next image goes (the other bank), the running image's state, stage(), confirm(),
// canRevert(); plus onBoot(), which the runtime calls first at every start (it does what
// MCUboot's revert does: an image that booted on trial and was not confirmed before the next
// reset is abandoned, and the option bit goes back).
// Order of writes: stage() writes the TRIAL record for the other bank, then the option bit; a cut
// between the two is completed by onBoot() ("repair"). A revert writes CONFIRMED for the other
// bank, then the option bit.

import type { FlashPartition } from "../../ports.ts";
import { FlagState, appendFlag, readCurrentFlag, type FlagRecord } from "./boot-flags.ts";
import { bootBankOf, withBootBank, type OptionBytesPort } from "./option-bytes.ts";

export type Bank = 1 | 2;
export type RunningState = "confirmed" | "trial";
/** What onBoot() found: keep running ("normal", "trial": first boot of a staged image), or
 * restart now ("revert": the trial was not confirmed; "repair": the option bit was reprogrammed
 * to match the flag record). */
export type BootAction = "normal" | "trial" | "revert" | "repair";

export class DualBankBootControl {
  readonly banks: readonly [FlashPartition, FlashPartition];
  readonly flags: FlashPartition;
  readonly options: OptionBytesPort;
  /** The bank mapped at the boot address now (SYSCFG_MEMRMP.FB_MODE: 0 bank 1, 1 bank 2). */
  readonly running: Bank;

  constructor(banks: readonly [FlashPartition, FlashPartition], flags: FlashPartition, options: OptionBytesPort, running: Bank) {
    this.banks = banks;
    this.flags = flags;
    this.options = options;
    this.running = running;
  }

  private get other(): Bank {
    return this.running === 1 ? 2 : 1;
  }

  runningSlot(): string {
    return this.banks[this.running - 1].label;
  }

  nextSlot(): string {
    return this.banks[this.other - 1].label;
  }

  current(): FlagRecord | undefined {
    return readCurrentFlag(this.flags);
  }

  runningState(): RunningState {
    const r = this.current();
    return r && r.bank === this.running && r.state !== FlagState.CONFIRMED ? "trial" : "confirmed";
  }

  /** The previous image stays in the other bank until the next update erases it. */
  canRevert(): boolean {
    return this.runningState() === "trial";
  }

  private selectBank(bank: Bank): void {
    const optr = this.options.read();
    if (bootBankOf(optr) !== bank || optr !== withBootBank(optr, bank)) this.options.program(withBootBank(optr, bank));
  }

  /** Schedules the image in the other bank for a trial boot: the TRIAL record, then BFB2. */
  stage(): void {
    appendFlag(this.flags, this.other, FlagState.TRIAL);
    this.selectBank(this.other);
  }

  /** Confirms the running image when it runs on trial. */
  confirm(): void {
    if (this.runningState() === "trial") appendFlag(this.flags, this.running, FlagState.CONFIRMED);
  }

  /** Gives up the running trial image now: the other bank, confirmed, boots at the next reset. */
  revert(): void {
    appendFlag(this.flags, this.other, FlagState.CONFIRMED);
    this.selectBank(this.other);
  }

  /** Called first at every start. */
  onBoot(): BootAction {
    const r = this.current();
    if (!r) return "normal"; // factory state: whatever boots is confirmed
    if (r.bank === this.running) {
      if (r.state === FlagState.TRIAL) {
        appendFlag(this.flags, this.running, FlagState.BOOTED);
        return "trial";
      }
      if (r.state === FlagState.BOOTED) {
        this.revert();
        return "revert";
      }
      this.selectBank(this.running); // a revert whose option write was cut: finish it
      return "normal";
    }
    // The record is about the other bank but this one runs.
    if (bootBankOf(this.options.read()) === r.bank && r.state !== FlagState.CONFIRMED) {
      // BFB2 already selects it, yet the chip fell back here: that bank does not boot (the
      // system bootloader found no valid stack pointer). The trial is over.
      appendFlag(this.flags, this.running, FlagState.CONFIRMED);
      this.selectBank(this.running);
      return "revert";
    }
    if (bootBankOf(this.options.read()) === r.bank) return "normal"; // confirmed other bank, ROM fell back: keep running
    this.selectBank(r.bank);
    return "repair";
  }
}
