// MCUboot image trailer at the end of each slot: magic, image_ok, copy_done, swap_info,
// swap_size and (swap strategies) the swap status area below them. Offsets are computed from
// BOOT_MAX_ALIGN (A, 8 by default, 8..32 with MCUBOOT_BOOT_MAX_ALIGN) as bootutil does.
// Sources: mcu-tools/mcuboot boot/bootutil/src/bootutil_public.c (boot_magic_off,
// boot_image_ok_off, boot_copy_done_off, boot_swap_info_off, boot_swap_size_off, boot_write_magic,
// boot_write_trailer, boot_read_swap_state, boot_flag_decode, boot_magic_decode),
// bootutil_misc.c / bootutil_priv.h (boot_trailer_sz, boot_status_sz, BOOT_STATUS_STATE_COUNT),
// include/bootutil/bootutil_public.h (BOOT_MAGIC_*, BOOT_FLAG_*, BOOT_SWAP_TYPE_*);
// shared/reference/boot-formats.md §4.3.

import { OtaError, ErrorCode } from "../../errors.ts";
import type { FlashPartition } from "../../ports.ts";
import { equalBytes, readU32LE, writeU32LE } from "../../util/bytes.ts";

/** BOOT_MAGIC_SZ. */
export const BOOT_MAGIC_SZ = 16;
/** BOOT_MAX_ALIGN default (and the alignment of the standard magic). */
export const BOOT_MAX_ALIGN_DEFAULT = 8;
/** The magic for BOOT_MAX_ALIGN 8 (boot_img_magic). */
export const BOOT_MAGIC_STANDARD = Object.freeze([0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80] as const);
/** The magic for BOOT_MAX_ALIGN != 8: u16 align (LE) followed by these 14 bytes. */
export const BOOT_MAGIC_ALT_TAIL = Object.freeze([0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a] as const);

/** BOOT_FLAG_SET; an erased byte is UNSET, anything else BAD (boot_flag_decode). */
export const BOOT_FLAG_SET = 0x01;

/** BOOT_SWAP_TYPE_* (bootutil_public.h). */
export const SwapType = Object.freeze({ NONE: 1, TEST: 2, PERM: 3, REVERT: 4, FAIL: 5, PANIC: 0xff } as const);
export type SwapTypeValue = (typeof SwapType)[keyof typeof SwapType];

/** BOOT_STATUS_STATE_COUNT: 3 for swap-move and swap-scratch, 2 for swap-offset, none for overwrite-only. */
export type McubootStrategy = "swap-move" | "swap-scratch" | "overwrite-only";
export const STATUS_STATE_COUNT: Readonly<Record<McubootStrategy, number>> = Object.freeze({ "swap-move": 3, "swap-scratch": 3, "overwrite-only": 0 });

export type MagicState = "good" | "unset" | "bad";
export type FlagState = "set" | "unset" | "bad";

export interface TrailerLayout {
  slotSize: number;
  maxAlign: number;
  /** Bytes of one status entry and of one flag write: ALIGN_UP(1, flash write alignment). */
  writeSize: number;
  /** boot_magic_off = S - 16. */
  magicOff: number;
  /** The magic is written as magicWriteSize bytes from ALIGN_DOWN(magicOff, A), 0xFF-prefixed. */
  magicWriteOff: number;
  magicWriteSize: number;
  imageOkOff: number;
  copyDoneOff: number;
  swapInfoOff: number;
  swapSizeOff: number;
  /** Start of the swap status area (S - boot_trailer_sz). */
  statusOff: number;
  /** Status entries the area holds: MAX_IMG_SECTORS x STATE_COUNT. */
  statusEntries: number;
  /** boot_trailer_sz: status area plus boot_trailer_info_sz. */
  trailerSize: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;

export interface TrailerOptions {
  /** BOOT_MAX_ALIGN: 8 (default), 16 or 32. */
  maxAlign?: number;
  /** The flash write alignment (BOOT_WRITE_SZ); must not exceed maxAlign. */
  writeAlign: number;
  strategy: McubootStrategy;
  /** BOOT_MAX_IMG_SECTORS: here the primary slot's sector count. */
  imageSectors: number;
}

/** The trailer offsets of a slot of `slotSize` bytes (boot-formats.md §4.3). */
export function trailerLayout(slotSize: number, o: TrailerOptions): TrailerLayout {
  const a = o.maxAlign ?? BOOT_MAX_ALIGN_DEFAULT;
  if (a !== 8 && a !== 16 && a !== 32) throw new RangeError(`BOOT_MAX_ALIGN ${a}: MCUboot allows 8, 16 or 32`);
  if (o.writeAlign > a) throw new RangeError(`flash write alignment ${o.writeAlign} exceeds BOOT_MAX_ALIGN ${a}`);
  if (slotSize % a !== 0) throw new RangeError(`slot size 0x${slotSize.toString(16)} is not a multiple of ${a}`);
  const writeSize = alignUp(1, o.writeAlign);
  const magicOff = slotSize - BOOT_MAGIC_SZ;
  const magicWriteSize = alignUp(BOOT_MAGIC_SZ, a); // BOOT_MAGIC_ALIGN_SIZE
  const imageOkOff = alignDown(magicOff - a, a);
  const copyDoneOff = imageOkOff - a;
  const swapInfoOff = copyDoneOff - a;
  const swapSizeOff = swapInfoOff - a;
  const infoSize = 4 * a + magicWriteSize; // boot_trailer_info_sz (no encryption keys)
  const statusEntries = o.imageSectors * STATUS_STATE_COUNT[o.strategy];
  const trailerSize = statusEntries * writeSize + infoSize;
  return {
    slotSize, maxAlign: a, writeSize, magicOff, magicWriteOff: alignDown(magicOff, a), magicWriteSize,
    imageOkOff, copyDoneOff, swapInfoOff, swapSizeOff,
    statusOff: slotSize - trailerSize, statusEntries, trailerSize,
  };
}

/** The 16 magic bytes for BOOT_MAX_ALIGN `maxAlign`. */
export function bootMagic(maxAlign: number): Uint8Array {
  if (maxAlign === BOOT_MAX_ALIGN_DEFAULT) return Uint8Array.from(BOOT_MAGIC_STANDARD);
  const m = new Uint8Array(BOOT_MAGIC_SZ);
  m[0] = maxAlign & 0xff;
  m[1] = (maxAlign >> 8) & 0xff;
  m.set(BOOT_MAGIC_ALT_TAIL, 2);
  return m;
}

export interface SwapState {
  magic: MagicState;
  imageOk: FlagState;
  copyDone: FlagState;
  /** Low nibble of swap_info: NONE when erased or above REVERT (boot_read_swap_state). */
  swapType: SwapTypeValue;
  /** High nibble of swap_info. */
  imageIndex: number;
}

function isErased(b: Uint8Array, erased: number): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== erased) return false;
  return true;
}

function flag(p: FlashPartition, off: number): FlagState {
  const v = p.read(off, 1)[0];
  if (v === p.geometry.erasedValue) return "unset";
  return v === BOOT_FLAG_SET ? "set" : "bad";
}

/** boot_read_swap_state. */
export function readSwapState(p: FlashPartition, l: TrailerLayout): SwapState {
  const erased = p.geometry.erasedValue;
  const m = p.read(l.magicOff, BOOT_MAGIC_SZ);
  const magic: MagicState = isErased(m, erased) ? "unset" : equalBytes(m, bootMagic(l.maxAlign)) ? "good" : "bad";
  const info = p.read(l.swapInfoOff, 1)[0];
  let swapType: SwapTypeValue = SwapType.NONE;
  let imageIndex = 0;
  if (info !== erased && (info & 0x0f) >= SwapType.TEST && (info & 0x0f) <= SwapType.REVERT) {
    swapType = (info & 0x0f) as SwapTypeValue;
    imageIndex = info >> 4;
  }
  return { magic, imageOk: flag(p, l.imageOkOff), copyDone: flag(p, l.copyDoneOff), swapType, imageIndex };
}

/** boot_read_swap_size: the u32 at swap_size_off, or undefined when erased. */
export function readSwapSize(p: FlashPartition, l: TrailerLayout): number | undefined {
  const b = p.read(l.swapSizeOff, 4);
  return isErased(b, p.geometry.erasedValue) ? undefined : readU32LE(b, 0);
}

/** boot_write_trailer: ALIGN_UP(len, write alignment) bytes padded with the erased value. */
export function writeTrailer(p: FlashPartition, l: TrailerLayout, off: number, data: Uint8Array): void {
  const n = alignUp(data.length, l.writeSize);
  if (n > l.maxAlign) throw new OtaError(ErrorCode.FlashWriteFailed, `trailer write of ${n} bytes exceeds BOOT_MAX_ALIGN ${l.maxAlign}`);
  const buf = new Uint8Array(n).fill(p.geometry.erasedValue);
  buf.set(data);
  p.write(off, buf);
}

/** boot_write_magic: BOOT_MAGIC_ALIGN_SIZE bytes at ALIGN_DOWN(magic_off, A), the magic at their end. */
export function writeMagic(p: FlashPartition, l: TrailerLayout): void {
  const buf = new Uint8Array(l.magicWriteSize).fill(p.geometry.erasedValue);
  buf.set(bootMagic(l.maxAlign), l.magicWriteSize - BOOT_MAGIC_SZ);
  p.write(l.magicWriteOff, buf);
}

/** boot_write_image_ok / boot_write_copy_done: the flag byte 0x01. */
export function writeFlag(p: FlashPartition, l: TrailerLayout, off: number): void {
  writeTrailer(p, l, off, Uint8Array.of(BOOT_FLAG_SET));
}

/** boot_write_swap_info: (image_index << 4) | swap_type. */
export function writeSwapInfo(p: FlashPartition, l: TrailerLayout, swapType: number, imageIndex = 0): void {
  writeTrailer(p, l, l.swapInfoOff, Uint8Array.of(((imageIndex & 0x0f) << 4) | (swapType & 0x0f)));
}

/** boot_write_swap_size. */
export function writeSwapSize(p: FlashPartition, l: TrailerLayout, size: number): void {
  const b = new Uint8Array(4);
  writeU32LE(b, 0, size);
  writeTrailer(p, l, l.swapSizeOff, b);
}

/** Offset of swap status entry `index` (boot_status_off + index * write size). */
export function statusEntryOff(l: TrailerLayout, index: number): number {
  if (index < 0 || index >= l.statusEntries) throw new RangeError(`status entry ${index} outside 0..${l.statusEntries - 1}`);
  return l.statusOff + index * l.writeSize;
}

/** Whether status entry `index` is written (not erased). */
export function statusEntryWritten(p: FlashPartition, l: TrailerLayout, index: number): boolean {
  return p.read(statusEntryOff(l, index), 1)[0] !== p.geometry.erasedValue;
}

/** Writes status entry `index` (boot_write_status: the state byte, padded to the write size). */
export function writeStatusEntry(p: FlashPartition, l: TrailerLayout, index: number, state: number): void {
  writeTrailer(p, l, statusEntryOff(l, index), Uint8Array.of(state & 0xff));
}
