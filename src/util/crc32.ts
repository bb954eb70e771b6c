// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven and streaming.
// Semantics match zlib.crc32(data, prev): prev is a previous *result* (0 to start), so
// crc32(b, crc32(a)) === crc32(concat(a, b)). Portable ECMAScript (runs on XS).

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data`, continuing from a previous result `prev` (zlib semantics). */
export function crc32(data: Uint8Array, prev = 0): number {
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** 8 lower-case hex digits. */
export function crc32Hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** CRC of an ESP-IDF otadata entry: esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4), which is
 * zlib.crc32(le32(seq), 0xFFFFFFFF) (boot-formats.md 2.2 / 10.2). seq 1 -> 0x4743989a. */
export function otadataCrc(seq: number): number {
  const b = new Uint8Array(4);
  const v = seq >>> 0;
  b[0] = v & 0xff;
  b[1] = (v >>> 8) & 0xff;
  b[2] = (v >>> 16) & 0xff;
  b[3] = v >>> 24;
  return crc32(b, 0xffffffff);
}
