// esp_app_desc_t: the 256-byte application descriptor at image offset 0x20, i.e. the start of
// the first (DROM) segment's data. Source: esp-idf components/esp_app_format/include/
// esp_app_desc.h (static-asserted size 256, secure_version at 4); boot-formats.md 3.4 / 2.6.
// Portable ECMAScript (runs on XS).

import { OtaError, ErrorCode } from "../../errors.ts";
import { asciiDecodeZ, asciiEncode, readU32LE, writeU32LE } from "../../util/bytes.ts";

/** ESP_APP_DESC_MAGIC_WORD. */
export const APP_DESC_MAGIC = 0xabcd5432;
/** sizeof(esp_app_desc_t). */
export const APP_DESC_SIZE = 256;
/** sizeof(esp_image_header_t) + sizeof(esp_image_segment_header_t). */
export const APP_DESC_IMAGE_OFFSET = 0x20;

// Field offsets inside esp_app_desc_t (esp_app_desc.h).
export const APP_DESC_OFF_MAGIC = 0; // u32 magic_word
export const APP_DESC_OFF_SECURE_VERSION = 4; // u32 secure_version
export const APP_DESC_OFF_VERSION = 16; // char version[32] (after reserv1[2])
export const APP_DESC_OFF_PROJECT_NAME = 48; // char project_name[32]
export const APP_DESC_OFF_TIME = 80; // char time[16]
export const APP_DESC_OFF_DATE = 96; // char date[16]
export const APP_DESC_OFF_IDF_VER = 112; // char idf_ver[32]
export const APP_DESC_OFF_APP_ELF_SHA256 = 144; // uint8_t app_elf_sha256[32]
export const APP_DESC_OFF_MMU_PAGE_SIZE = 180; // uint8_t mmu_page_size (log2)

export interface AppDesc {
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
}

const STRINGS = Object.freeze([
  Object.freeze(["version", APP_DESC_OFF_VERSION, 32] as const),
  Object.freeze(["projectName", APP_DESC_OFF_PROJECT_NAME, 32] as const),
  Object.freeze(["time", APP_DESC_OFF_TIME, 16] as const),
  Object.freeze(["date", APP_DESC_OFF_DATE, 16] as const),
  Object.freeze(["idfVersion", APP_DESC_OFF_IDF_VER, 32] as const),
] as const);

/** Parses the 256 descriptor bytes. Throws OtaError(VerifyFailed) on a short buffer or bad magic. */
export function parseAppDesc(bytes: Uint8Array): AppDesc {
  if (bytes.length < APP_DESC_SIZE) {
    throw new OtaError(ErrorCode.VerifyFailed, `app descriptor needs ${APP_DESC_SIZE} bytes, got ${bytes.length}`);
  }
  const magic = readU32LE(bytes, APP_DESC_OFF_MAGIC);
  if (magic !== APP_DESC_MAGIC) {
    throw new OtaError(
      ErrorCode.VerifyFailed,
      `app descriptor magic 0x${magic.toString(16)}, expected 0x${APP_DESC_MAGIC.toString(16)}`,
    );
  }
  const s = (off: number, len: number) => asciiDecodeZ(bytes.subarray(off, off + len));
  return {
    secureVersion: readU32LE(bytes, APP_DESC_OFF_SECURE_VERSION),
    version: s(APP_DESC_OFF_VERSION, 32),
    projectName: s(APP_DESC_OFF_PROJECT_NAME, 32),
    time: s(APP_DESC_OFF_TIME, 16),
    date: s(APP_DESC_OFF_DATE, 16),
    idfVersion: s(APP_DESC_OFF_IDF_VER, 32),
  };
}

/** Encodes a descriptor (reserved fields, app_elf_sha256 and the rest zero). Strings must be
 * ASCII and leave room for the NUL (at most 31 or 15 characters); throws RangeError otherwise. */
export function encodeAppDesc(desc: AppDesc): Uint8Array {
  const out = new Uint8Array(APP_DESC_SIZE);
  writeU32LE(out, APP_DESC_OFF_MAGIC, APP_DESC_MAGIC);
  writeU32LE(out, APP_DESC_OFF_SECURE_VERSION, desc.secureVersion >>> 0);
  for (const [key, off, size] of STRINGS) {
    const b = asciiEncode(desc[key]);
    if (b.length > size - 1) throw new RangeError(`app descriptor ${key} longer than ${size - 1} characters`);
    out.set(b, off);
  }
  return out;
}
