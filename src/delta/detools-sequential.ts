// The detools "sequential" patch format (bsdiff chunks), as eerimoq/detools' C library parses it
// (c/detools.c at 53d1f47: process_init_fixed_header, chunk_unpack_header_size,
// patch_reader_unpack_size, apply_patch_process_once) and its Python writer makes it
// (detools/create.py create_patch_sequential_data, detools/bsdiff.c pack_size).
// shared/vectors/detools/README.md "(a)" describes every field.
//
//   byte 0      bit 7 unused (0), bits 6-4 patch type (0 sequential), bits 3-0 compression
//   to-size     not compressed: first byte bit 7 = more, bits 5-0 = low 6 bits (bit 6 ignored);
//               further bytes bit 7 = more, bits 6-0 = next 7 bits; at most 4 bytes
//   (to-size 0: the patch ends here)
//   heatshrink  one parameter byte (window - 4) << 4 | (lookahead - 3): 0x44 for 8/7
//   payload     one compressed stream of: data-format size (0), then chunks until the output
//               is complete, each: diff size, diff bytes (added to old bytes), extra size, extra
//               bytes (copied), adjustment (added to the old-image position)
//   sizes       sign and magnitude: first byte bit 7 = more, bit 6 = negative, bits 5-0 = low
//               6 bits; further bytes bit 7 = more, bits 6-0 = next 7 bits; at most 4 bytes

export const PATCH_TYPE_SHIFT = 4;
export const PATCH_TYPE_MASK = 0x7;
export const COMPRESSION_MASK = 0xf;
export const PATCH_TYPE_SEQUENTIAL = 0;

/** Compression codes of byte 0 (detools.h DETOOLS_*; 3, 5, 6 exist in Python only). */
export const Compression = Object.freeze({
  none: 0,
  lzma: 1,
  crle: 2,
  bz2: 3,
  heatshrink: 4,
  zstd: 5,
  lz4: 6,
} as const);

/** The heatshrink parameter byte for window 8, lookahead 7. */
export const HEATSHRINK_PARAMS_8_7 = 0x44;
/** Sizes (to-size included) take at most this many bytes: 6 + 3 * 7 = 27 bits. */
export const SIZE_MAX_BYTES = 4;
export const SIZE_MAX = 2 ** 27 - 1;

/** Name of a compression code, for error reasons. */
export function compressionName(code: number): string {
  for (const [name, value] of Object.entries(Compression)) if (value === code) return name;
  return `#${code}`;
}

/** The fixed header byte for a sequential patch. */
export function headerByte(compression: number): number {
  return (PATCH_TYPE_SEQUENTIAL << PATCH_TYPE_SHIFT) | (compression & COMPRESSION_MASK);
}

/** Appends the encoding of a signed size (pack_size in detools/bsdiff.c) to `out`; also the
 * to-size's encoding when `value` >= 0. Returns the number of bytes. */
export function packSize(value: number, out: number[]): number {
  if (!Number.isInteger(value) || Math.abs(value) > SIZE_MAX) throw new RangeError(`size ${value} out of range`);
  if (value === 0) {
    out.push(0);
    return 1;
  }
  let mag = Math.abs(value);
  const start = out.length;
  out.push(0x80 | (value < 0 ? 0x40 : 0) | (mag & 0x3f));
  mag = Math.floor(mag / 64);
  while (mag > 0) {
    out.push(0x80 | (mag & 0x7f));
    mag >>>= 7;
  }
  out[out.length - 1] &= 0x7f;
  return out.length - start;
}
