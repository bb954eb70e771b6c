// MCUboot TLV areas after the payload: an optional protected area `{u16 0x6908, u16 tot}` whose
// size equals ih_protect_tlv_size, then the unprotected area `{u16 0x6907, u16 tot}`; `tot`
// includes the 4-byte info header; each TLV is `{u16 type, u16 len}` + value, little-endian.
// Sources: mcu-tools/mcuboot boot/bootutil/include/bootutil/image.h (IMAGE_TLV_*),
// boot/bootutil/src/tlv.c (bootutil_tlv_iter_begin/next), scripts/imgtool/image.py;
// shared/reference/boot-formats.md §4.2, signatures.md §1.1-§1.2.

import { ErrorCode, OtaError } from "../../errors.ts";
import { readU16LE } from "../../util/bytes.ts";
import type { ImageHeader } from "./image-header.ts";

export const IMAGE_TLV_INFO_MAGIC = 0x6907;
export const IMAGE_TLV_PROT_INFO_MAGIC = 0x6908;
export const TLV_INFO_SIZE = 4;
export const TLV_HEADER_SIZE = 4;

/** TLV types (image.h). */
export const TLV = Object.freeze({
  KEYHASH: 0x01,
  PUBKEY: 0x02,
  SHA256: 0x10,
  SHA384: 0x11,
  SHA512: 0x12,
  RSA2048_PSS: 0x20,
  ECDSA_SIG: 0x22,
  RSA3072_PSS: 0x23,
  ED25519: 0x24,
  SIG_PURE: 0x25,
  SEC_CNT: 0x50,
} as const);

export interface TlvEntry {
  type: number;
  len: number;
  /** Absolute offset of the value in the image. */
  valueOffset: number;
  protected: boolean;
}

export interface TlvAreas {
  /** Start of the TLV areas: ih_hdr_size + ih_img_size. */
  start: number;
  /** End of the hashed region: start + ih_protect_tlv_size. */
  hashedEnd: number;
  /** End of the unprotected area: the end of the image. */
  end: number;
  /** Every TLV, protected first, in file order. */
  entries: TlvEntry[];
}

function fail(reason: string): never {
  throw new OtaError(ErrorCode.VerifyFailed, `MCUboot TLV: ${reason}`);
}

/** Reads `[offset, offset + length)`; the caller's bound `limit` is the slot (or file) size. */
export type ImageRead = (offset: number, length: number) => Uint8Array;

function readExact(read: ImageRead, limit: number, off: number, n: number, what: string): Uint8Array {
  if (off + n > limit) fail(`${what} at 0x${off.toString(16)} runs past the end (0x${limit.toString(16)})`);
  const b = read(off, n);
  if (b.length !== n) fail(`short read of ${what} at 0x${off.toString(16)}`);
  return b;
}

function walk(read: ImageRead, limit: number, from: number, end: number, prot: boolean, out: TlvEntry[]): void {
  let off = from;
  while (off < end) {
    if (off + TLV_HEADER_SIZE > end) fail(`${end - off} stray bytes at the end of the ${prot ? "protected" : "unprotected"} area`);
    const h = readExact(read, limit, off, TLV_HEADER_SIZE, "TLV header");
    const type = readU16LE(h, 0);
    const len = readU16LE(h, 2);
    const valueOffset = off + TLV_HEADER_SIZE;
    if (valueOffset + len > end) fail(`TLV 0x${type.toString(16)} of ${len} bytes runs past its area`);
    out.push({ type, len, valueOffset, protected: prot });
    off = valueOffset + len;
  }
}

/** Locates and walks both TLV areas. Throws OtaError(VerifyFailed) on framing errors. */
export function readTlvAreas(read: ImageRead, limit: number, header: ImageHeader): TlvAreas {
  const start = header.hdrSize + header.imgSize;
  const entries: TlvEntry[] = [];
  let off = start;
  const first = readExact(read, limit, off, TLV_INFO_SIZE, "TLV info");
  if (readU16LE(first, 0) === IMAGE_TLV_PROT_INFO_MAGIC) {
    const tot = readU16LE(first, 2);
    if (tot !== header.protectTlvSize) fail(`protected area size ${tot} differs from ih_protect_tlv_size ${header.protectTlvSize}`);
    if (tot < TLV_INFO_SIZE) fail(`protected area size ${tot} below its header`);
    walk(read, limit, off + TLV_INFO_SIZE, off + tot, true, entries);
    off += tot;
  } else if (header.protectTlvSize !== 0) {
    fail(`ih_protect_tlv_size is ${header.protectTlvSize} but there is no protected area (0x6908)`);
  }
  const hashedEnd = off;
  const info = readExact(read, limit, off, TLV_INFO_SIZE, "TLV info");
  const magic = readU16LE(info, 0);
  if (magic !== IMAGE_TLV_INFO_MAGIC) fail(`bad TLV info magic 0x${magic.toString(16)} at 0x${off.toString(16)}`);
  const tot = readU16LE(info, 2);
  if (tot < TLV_INFO_SIZE) fail(`TLV area size ${tot} below its header`);
  const end = off + tot;
  if (end > limit) fail(`TLV area ends at 0x${end.toString(16)}, past the slot end 0x${limit.toString(16)}`);
  walk(read, limit, off + TLV_INFO_SIZE, end, false, entries);
  return { start, hashedEnd, end, entries };
}
