// Board profiles: the flash geometry and partition layout of each simulated board.
// ESP-IDF boards (BoardProfile) describe their partitions with an ESP partition table
// (partitionsCsv, written at tableOffset); other targets (MCUboot, STM32 dual bank) describe them
// with a generic `layout` of labelled regions. `profile()` returns ESP boards only (what
// SimBoard and the CLI use today); `boardProfile()` returns any board.

import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChipInfo, Sector } from "../../src/ports.ts";
import { ESP_CHIP_ID } from "../../src/targets/esp-idf/esp-chip.ts";
import type { ChipGeometry } from "../flash/nor-flash.ts";
import type { McubootStrategy } from "../../src/targets/mcuboot/trailer.ts";

/** A labelled flash region of a board without an ESP partition table. Offsets are chip offsets. */
export interface LayoutEntry {
  label: string;
  offset: number;
  size: number;
}

interface BoardBase {
  name: string;
  flashSize: number;
  /** Uniform erase sector size; `sectors` replaces it for non-uniform parts. */
  sectorSize: number;
  /** Non-uniform sector map of the whole chip (ascending, covering [0, flashSize)). */
  sectors?: readonly Sector[];
  writeAlign: number;
  erasedValue: number;
  /** ECC write-once word (8 on STM32L4): see host-sim/flash/nor-flash.ts. */
  eccWordSize?: number;
  /** Labelled regions; required for non-ESP targets. */
  layout?: readonly LayoutEntry[];
  /** Where the chip sits in the MCU's address space (for documentation and `board show`). */
  baseAddress?: number;
}

export interface BoardProfile extends BoardBase {
  target?: "esp-idf";
  /** The chip: esp_chip_id_t and revision major * 100 + minor (efuse_hal_chip_revision()). The
   * runtime refuses images for another chip or revision; so does the simulated bootloader. */
  chip: Required<Omit<ChipInfo, "secureBootKeyDigests">>;
  /** ESP-IDF partition table offset (CONFIG_PARTITION_TABLE_OFFSET). */
  tableOffset: number;
  /** partitions.csv next to this file. */
  partitionsCsv: string;
}

export interface McubootBoardProfile extends BoardBase {
  target: "mcuboot";
  layout: readonly LayoutEntry[];
  mcuboot: { strategy: McubootStrategy; maxAlign: number; primary: string; secondary: string; scratch?: string; journal: string };
}

export interface DualBankBoardProfile extends BoardBase {
  target: "stm32-dualbank";
  layout: readonly LayoutEntry[];
  dualBank: { bankSize: number; banks: readonly [string, string]; optionBytes: string; flags: string; journal: string };
}

export type AnyBoardProfile = BoardProfile | McubootBoardProfile | DualBankBoardProfile;

const KiB = 1024;

/** STM32F4 1 MiB (RM0090 §3.3 Table 5, "Flash module organization", STM32F40x/41x): sectors 0-3
 * of 16 KiB, sector 4 of 64 KiB, sectors 5-11 of 128 KiB, at 0x0800_0000. */
function stm32f4Sectors(): Sector[] {
  const sizes = [16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128].map((k) => k * KiB);
  const out: Sector[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push({ offset: at, size });
    at += size;
  }
  return out;
}

export const BOARD_PROFILES: Record<string, AnyBoardProfile> = {
  "esp32-4mb": {
    name: "esp32-4mb",
    chip: { name: "esp32", id: ESP_CHIP_ID.ESP32, revisionFull: 300 }, // ESP32 ECO3 (v3.0)
    flashSize: 4 * 1024 * 1024,
    sectorSize: 0x1000,
    writeAlign: 4,
    erasedValue: 0xff,
    tableOffset: 0x8000,
    partitionsCsv: "esp32-4mb.csv",
  },
  // MCUboot swap-move needs equal sectors and a primary one sector larger than the secondary: the
  // seven 128 KiB sectors give primary 4 and secondary 3 (largest image 384 KiB minus the
  // trailer). The 16 KiB sectors hold MCUboot (32 KiB) and the journal (two 16 KiB sectors: a
  // checkpoint never waits for, nor erases, a 128 KiB sector). The 64 KiB sector is the key-value
  // store. No scratch: swap-move and overwrite-only do not use one.
  "stm32f4-1mb": {
    name: "stm32f4-1mb",
    target: "mcuboot",
    flashSize: 1024 * KiB,
    sectorSize: 128 * KiB,
    sectors: stm32f4Sectors(),
    // 32-bit word programming (PSIZE x32, RM0090 §3.6.2) at 2.7-3.6 V.
    writeAlign: 4,
    erasedValue: 0xff,
    baseAddress: 0x0800_0000,
    layout: [
      { label: "mcuboot", offset: 0x00000, size: 0x08000 }, // sectors 0-1
      { label: "journal", offset: 0x08000, size: 0x08000 }, // sectors 2-3 (2 x 16 KiB)
      { label: "storage", offset: 0x10000, size: 0x10000 }, // sector 4 (64 KiB)
      { label: "primary", offset: 0x20000, size: 0x80000 }, // sectors 5-8 (4 x 128 KiB)
      { label: "secondary", offset: 0xa0000, size: 0x60000 }, // sectors 9-11 (3 x 128 KiB)
    ],
    mcuboot: { strategy: "swap-move", maxAlign: 8, primary: "primary", secondary: "secondary", journal: "journal" },
  },
  // STM32L4 dual bank (RM0351 §3.3.1, 1 MiB parts with DUALBANK=1): two banks of 512 KiB in 2 KiB
  // pages, 64-bit programming with ECC (a double-word once per erase). Each bank holds a whole
  // application linked at 0x0800_0000 (the bank selected by FLASH_OPTR.BFB2 is the one booted);
  // its last two pages are kept out of the application: bank 1's hold the journal, bank 2's the
  // boot flag record (src/targets/stm32-dualbank/boot-flags.ts). The option bytes are not in the
  // main flash (they sit at 0x1FFF_7800); the simulator appends them as one 2 KiB page at
  // 0x10_0000 (layout "option-bytes", src/targets/stm32-dualbank/option-bytes.ts).
  "stm32l4-dualbank-1mb": {
    name: "stm32l4-dualbank-1mb",
    target: "stm32-dualbank",
    flashSize: 1024 * KiB + 2 * KiB,
    sectorSize: 2 * KiB,
    writeAlign: 8,
    eccWordSize: 8,
    erasedValue: 0xff,
    baseAddress: 0x0800_0000,
    layout: [
      { label: "bank1", offset: 0x00000, size: 0x7f000 },
      { label: "journal", offset: 0x7f000, size: 0x01000 }, // bank 1, pages 254-255
      { label: "bank2", offset: 0x80000, size: 0x7f000 },
      { label: "boot-flags", offset: 0xff000, size: 0x01000 }, // bank 2, pages 254-255
      { label: "option-bytes", offset: 0x100000, size: 0x00800 }, // stands for 0x1FFF_7800
    ],
    dualBank: { bankSize: 512 * KiB, banks: ["bank1", "bank2"], optionBytes: "option-bytes", flags: "boot-flags", journal: "journal" },
  },
};

/** The ESP-IDF boards (what SimBoard runs). */
export const PROFILES: Record<string, BoardProfile> = Object.fromEntries(
  Object.entries(BOARD_PROFILES).filter((e): e is [string, BoardProfile] => (e[1].target ?? "esp-idf") === "esp-idf"),
);

/** An ESP-IDF board profile by name. */
export function profile(name: string): BoardProfile {
  const p = PROFILES[name];
  if (!p) {
    const other = BOARD_PROFILES[name];
    if (other) throw new Error(`board ${name} is a ${other.target} board without an ESP partition table; ESP boards: ${Object.keys(PROFILES).join(", ")}`);
    throw new Error(`unknown board ${name}; known: ${Object.keys(BOARD_PROFILES).join(", ")}`);
  }
  return p;
}

/** Any board profile by name. */
export function boardProfile(name: string): AnyBoardProfile {
  const p = BOARD_PROFILES[name];
  if (!p) throw new Error(`unknown board ${name}; known: ${Object.keys(BOARD_PROFILES).join(", ")}`);
  return p;
}

export function chipGeometry(p: BoardBase): ChipGeometry {
  let sectors: Sector[];
  if (p.sectors) sectors = p.sectors.slice();
  else {
    sectors = [];
    for (let at = 0; at < p.flashSize; at += p.sectorSize) sectors.push({ offset: at, size: p.sectorSize });
  }
  const g: ChipGeometry = { size: p.flashSize, sectors, writeAlign: p.writeAlign, erasedValue: p.erasedValue };
  if (p.eccWordSize !== undefined) g.eccWordSize = p.eccWordSize;
  return g;
}

/** A region of a layout board by label. */
export function layoutEntry(p: AnyBoardProfile, label: string): LayoutEntry {
  const e = p.layout?.find((x) => x.label === label);
  if (!e) throw new Error(`board ${p.name} has no region ${label}`);
  return e;
}

export function partitionsCsv(p: BoardProfile): string {
  return fs.readFileSync(fileURLToPath(new URL(p.partitionsCsv, import.meta.url)), "utf8");
}
