// MCUboot image header (32 bytes, `struct image_header`): mcu-tools/mcuboot
// boot/bootutil/include/bootutil/image.h; shared/reference/boot-formats.md §4.1.

import { ErrorCode, OtaError } from "../../errors.ts";
import { readU16LE, readU32LE } from "../../util/bytes.ts";

export const IMAGE_HEADER_SIZE = 32;
/** IMAGE_MAGIC (bytes 3d b8 f3 96); 0x96f3b83c was the V1 magic, which bootutil refuses. */
export const IMAGE_MAGIC = 0x96f3b83d;

const OFF_MAGIC = 0; // ih_magic u32
const OFF_LOAD_ADDR = 4; // ih_load_addr u32
const OFF_HDR_SIZE = 8; // ih_hdr_size u16
const OFF_PROTECT_TLV_SIZE = 10; // ih_protect_tlv_size u16
const OFF_IMG_SIZE = 12; // ih_img_size u32
const OFF_FLAGS = 16; // ih_flags u32
const OFF_VER_MAJOR = 20; // ih_ver.iv_major u8
const OFF_VER_MINOR = 21; // ih_ver.iv_minor u8
const OFF_VER_REVISION = 22; // ih_ver.iv_revision u16
const OFF_VER_BUILD = 24; // ih_ver.iv_build_num u32

/** ih_flags bits (image.h IMAGE_F_*). */
export const IMAGE_F_PIC = 0x1;
export const IMAGE_F_ENCRYPTED_AES128 = 0x4;
export const IMAGE_F_ENCRYPTED_AES256 = 0x8;
export const IMAGE_F_NON_BOOTABLE = 0x10;
export const IMAGE_F_RAM_LOAD = 0x20;

export interface ImageVersion {
  major: number;
  minor: number;
  revision: number;
  build: number;
}

export interface ImageHeader {
  loadAddr: number;
  /** Offset of the payload (header plus its padding). */
  hdrSize: number;
  /** Size of the protected TLV area including its 4-byte info header, or 0. */
  protectTlvSize: number;
  /** Payload size, excluding the header. */
  imgSize: number;
  flags: number;
  version: ImageVersion;
}

/** Parses the first 32 bytes of an image. Throws OtaError(VerifyFailed) on a bad magic or size. */
export function parseImageHeader(b: Uint8Array): ImageHeader {
  if (b.length < IMAGE_HEADER_SIZE) throw new OtaError(ErrorCode.VerifyFailed, `MCUboot header: ${b.length} bytes, need ${IMAGE_HEADER_SIZE}`);
  const magic = readU32LE(b, OFF_MAGIC);
  if (magic !== IMAGE_MAGIC) throw new OtaError(ErrorCode.VerifyFailed, `MCUboot header: bad magic 0x${magic.toString(16)}`);
  const hdrSize = readU16LE(b, OFF_HDR_SIZE);
  if (hdrSize < IMAGE_HEADER_SIZE) throw new OtaError(ErrorCode.VerifyFailed, `MCUboot header: ih_hdr_size ${hdrSize} below ${IMAGE_HEADER_SIZE}`);
  return {
    loadAddr: readU32LE(b, OFF_LOAD_ADDR),
    hdrSize,
    protectTlvSize: readU16LE(b, OFF_PROTECT_TLV_SIZE),
    imgSize: readU32LE(b, OFF_IMG_SIZE),
    flags: readU32LE(b, OFF_FLAGS),
    version: {
      major: b[OFF_VER_MAJOR],
      minor: b[OFF_VER_MINOR],
      revision: readU16LE(b, OFF_VER_REVISION),
      build: readU32LE(b, OFF_VER_BUILD),
    },
  };
}

/** "major.minor.revision+build", as imgtool prints it. */
export function formatImageVersion(v: ImageVersion): string {
  return `${v.major}.${v.minor}.${v.revision}+${v.build}`;
}
