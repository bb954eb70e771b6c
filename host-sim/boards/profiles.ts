// Board profiles: the flash geometry and partition layout of each simulated board.

import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChipInfo, Sector } from "../../src/ports.ts";
import { ESP_CHIP_ID } from "../../src/targets/esp-idf/esp-chip.ts";
import type { ChipGeometry } from "../flash/nor-flash.ts";

export interface BoardProfile {
  name: string;
  /** The chip: esp_chip_id_t and revision major * 100 + minor (efuse_hal_chip_revision()). The
   * runtime refuses images for another chip or revision; so does the simulated bootloader. */
  chip: Required<Omit<ChipInfo, "secureBootKeyDigests">>;
  flashSize: number;
  /** Uniform erase sector size (a sector map may replace it for non-uniform parts). */
  sectorSize: number;
  writeAlign: number;
  erasedValue: number;
  /** ESP-IDF partition table offset (CONFIG_PARTITION_TABLE_OFFSET). */
  tableOffset: number;
  /** partitions.csv next to this file. */
  partitionsCsv: string;
}

export const PROFILES: Record<string, BoardProfile> = {
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
};

export function profile(name: string): BoardProfile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown board ${name}; known: ${Object.keys(PROFILES).join(", ")}`);
  return p;
}

export function chipGeometry(p: BoardProfile): ChipGeometry {
  const sectors: Sector[] = [];
  for (let at = 0; at < p.flashSize; at += p.sectorSize) sectors.push({ offset: at, size: p.sectorSize });
  return { size: p.flashSize, sectors, writeAlign: p.writeAlign, erasedValue: p.erasedValue };
}

export function partitionsCsv(p: BoardProfile): string {
  return fs.readFileSync(fileURLToPath(new URL(p.partitionsCsv, import.meta.url)), "utf8");
}
