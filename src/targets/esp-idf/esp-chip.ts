// ESP chip ids and revision ranges as the app image header names them, and the check the
// ESP-IDF bootloader makes before it loads an app.
// Sources (espressif/esp-idf, boot-formats.md section 3.1):
// - esp_chip_id_t in components/bootloader_support/include/esp_app_format.h (the ids below);
// - bootloader_common_check_chip_validity() and bootloader_common_check_chip_revision_validity()
//   in components/bootloader_support/src/bootloader_common_loader.c: the chip id must equal the
//   firmware's; the revision must be >= min_chip_rev_full (ESP_CHIP_REV_ABOVE in
//   components/soc/include/soc/chip_revision.h is a plain `min <= rev`); for an application it
//   must also be <= max_chip_rev_full unless that field is unset, i.e. 0 or 0xFFFF
//   (IS_FIELD_SET), or the DISABLE_WAFER_VERSION_MAJOR eFuse is burnt (not modelled).
// Portable ECMAScript (runs on XS).

import type { ChipInfo } from "../../ports.ts";

/** esp_chip_id_t values (esp_app_format.h). */
export const ESP_CHIP_ID = Object.freeze({
  ESP32: 0x0000,
  ESP32S2: 0x0002,
  ESP32C3: 0x0005,
  ESP32S3: 0x0009,
  ESP32C2: 0x000c,
  ESP32C6: 0x000d,
  ESP32H2: 0x0010,
  ESP32P4: 0x0012,
  ESP32C61: 0x0014,
  ESP32C5: 0x0017,
  ESP32H21: 0x0019,
  ESP32H4: 0x001c,
  ESP32S31: 0x0020,
  /** ESP_CHIP_ID_INVALID. */
  INVALID: 0xffff,
} as const);

/** max_chip_rev_full values that mean "no maximum" (IS_FIELD_SET in bootloader_common_loader.c). */
export const ESP_CHIP_REV_UNSET_LOW = 0;
export const ESP_CHIP_REV_UNSET_HIGH = 0xffff;

/** The chip fields of esp_image_header_t. */
export interface ImageChipFields {
  chipId: number;
  /** min_chip_rev_full, major * 100 + minor. */
  minChipRevFull: number;
  /** max_chip_rev_full; 0 or 0xFFFF: no maximum. */
  maxChipRevFull: number;
}

/** "v3.1" for 301, the way ESP-IDF logs revisions. */
export function chipRevisionText(full: number): string {
  return `v${Math.floor(full / 100)}.${full % 100}`;
}

function chipName(id: number): string {
  for (const key in ESP_CHIP_ID) {
    if (ESP_CHIP_ID[key as keyof typeof ESP_CHIP_ID] === id) return key;
  }
  return "unknown";
}

/** Why the image cannot run on `chip` (as the ESP-IDF bootloader decides), or undefined. */
export function chipMismatch(image: ImageChipFields, chip: ChipInfo): string | undefined {
  if (image.chipId !== chip.id) {
    const hex = (n: number) => "0x" + n.toString(16).padStart(4, "0");
    return `image is for chip id ${hex(image.chipId)} (${chipName(image.chipId)}), this board is ${hex(chip.id)} (${chip.name ?? chipName(chip.id)})`;
  }
  const rev = chip.revisionFull;
  if (rev === undefined) return undefined;
  if (rev < image.minChipRevFull) {
    return `image needs chip revision >= ${chipRevisionText(image.minChipRevFull)}, this chip is ${chipRevisionText(rev)}`;
  }
  const max = image.maxChipRevFull;
  if (max !== ESP_CHIP_REV_UNSET_LOW && max !== ESP_CHIP_REV_UNSET_HIGH && rev > max) {
    return `image needs chip revision <= ${chipRevisionText(max)}, this chip is ${chipRevisionText(rev)}`;
  }
  return undefined;
}
