// esp_delta_ota's 64-byte patch file header, in front of a plain detools sequential patch.
// Source: espressif/idf-extra-components a9149818 (esp_delta_ota 1.1.4):
// esp_delta_ota/examples/https_delta_ota/tools/esp_delta_ota_patch_gen.py (create_patch) and
// main/main.c (verify_patch_header); shared/vectors/detools/README.md "(b)".
//
//   offset 0   4 bytes  magic 0xFCCDDE10, little-endian (bytes 10 de cd fc)
//   offset 4  32 bytes  SHA-256 of the base (running) app image: for an ESP-IDF image with an
//                       appended hash, the stored digest = SHA-256 of all bytes but the last 32
//   offset 36 28 bytes  reserved, zeros (not read by the device)
//   offset 64           the detools patch

export const ESP_DELTA_HEADER_SIZE = 64;
export const ESP_DELTA_MAGIC = 0xfccdde10;
export const ESP_DELTA_MAGIC_OFFSET = 0;
export const ESP_DELTA_BASE_SHA256_OFFSET = 4;
export const ESP_DELTA_BASE_SHA256_SIZE = 32;

/** The magic as read from `header` (little-endian u32). */
export function espDeltaMagic(header: Uint8Array): number {
  const o = ESP_DELTA_MAGIC_OFFSET;
  return (header[o] | (header[o + 1] << 8) | (header[o + 2] << 16) | (header[o + 3] << 24)) >>> 0;
}

/** The base image's SHA-256 the header names. */
export function espDeltaBaseSha256(header: Uint8Array): Uint8Array {
  return header.subarray(ESP_DELTA_BASE_SHA256_OFFSET, ESP_DELTA_BASE_SHA256_OFFSET + ESP_DELTA_BASE_SHA256_SIZE);
}

/** A 64-byte header for a patch made against the base image with this SHA-256. */
export function buildEspDeltaHeader(baseSha256: Uint8Array): Uint8Array {
  if (baseSha256.length !== ESP_DELTA_BASE_SHA256_SIZE) throw new RangeError("base SHA-256 must be 32 bytes");
  const h = new Uint8Array(ESP_DELTA_HEADER_SIZE);
  const o = ESP_DELTA_MAGIC_OFFSET;
  h[o] = ESP_DELTA_MAGIC & 0xff;
  h[o + 1] = (ESP_DELTA_MAGIC >>> 8) & 0xff;
  h[o + 2] = (ESP_DELTA_MAGIC >>> 16) & 0xff;
  h[o + 3] = ESP_DELTA_MAGIC >>> 24;
  h.set(baseSha256, ESP_DELTA_BASE_SHA256_OFFSET);
  return h;
}
