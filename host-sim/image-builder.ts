// Builds valid, deterministic ESP32 app images for tests and the `xs-ota image build` CLI.
// Layout (boot-formats.md section 3): 24-byte header, 4 segments (DROM starting with
// esp_app_desc_t, DRAM, IRAM, IROM), XOR checksum block, appended SHA-256.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { APP_DESC_OFF_APP_ELF_SHA256, APP_DESC_OFF_MMU_PAGE_SIZE, encodeAppDesc } from "../src/targets/esp-idf/esp-app-desc.ts";
import {
  ESP_APPENDED_HASH_SIZE,
  ESP_CHECKSUM_SEED,
  ESP_CHIP_ID_OFFSET,
  ESP_ENTRY_ADDR_OFFSET,
  ESP_MAX_CHIP_REV_FULL_OFFSET,
  ESP_MIN_CHIP_REV_FULL_OFFSET,
  ESP_MIN_CHIP_REV_OFFSET,
  ESP_HASH_APPENDED_OFFSET,
  ESP_IMAGE_HEADER_SIZE,
  ESP_IMAGE_MAGIC,
  ESP_SEGMENT_HEADER_SIZE,
  checksumBlockLength,
} from "../src/targets/esp-idf/esp-app-image.ts";
import { ESP_CHIP_ID } from "../src/targets/esp-idf/esp-chip.ts";
import { writeU16LE, writeU32LE } from "../src/util/bytes.ts";
import { loadSbv2SigningKey, sbv2SignImage } from "./sbv2-sign.ts";

function readKeyText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`--sign ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : e instanceof Error ? e.message : String(e)}`);
  }
}

export interface TestImageOptions {
  version: string;
  /** Total image size in bytes: a multiple of 16, at least 1 KiB, at most 16 MiB (else throws). */
  size: number;
  projectName?: string;
  secureVersion?: number;
  /** Variant seed: same version, different bytes. Default 0. */
  build?: number;
  /** Bytes appended after the image (an offer of any byte size: the digests cover them, the
   * image walk ends before them). Deterministic, never the erased value 0xFF. Default 0. */
  trailing?: number;
  /** Header chip fields (esp_image_header_t, src/targets/esp-idf/esp-chip.ts): chip_id (default 0x0000,
   * ESP32), min_chip_rev_full (default 0) and max_chip_rev_full (default 399, v3.99). */
  chipId?: number;
  minChipRevFull?: number;
  maxChipRevFull?: number;
  /** entry_addr (default: the start of the IRAM segment). */
  entryAddr?: number;
}

const SEGMENT_COUNT = 4;
const DROM = 0x3f400000; // mapped; data offset must match the address modulo 64 KiB
const DRAM = 0x3ffb0000;
const IRAM = 0x40080000;
const IROM = 0x400d0000; // mapped
const PAGE = 0x10000;

/** FNV-1a 32 of a string, the PRNG seed. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** mulberry32: small deterministic PRNG returning u32. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Builds a valid ESP32 app image of exactly `size` bytes, then `trailing` bytes. Throws on a
 * size that is not a multiple of 16, below 1 KiB or above 16 MiB (no rounding), or a trailing
 * count that is not an integer in [0, 16 MiB]. */
export function buildTestImage(opts: TestImageOptions): Uint8Array {
  const { version, size, projectName = "xs-ota-demo", secureVersion = 0, build = 0, trailing = 0 } = opts;
  const { chipId = ESP_CHIP_ID.ESP32, minChipRevFull = 0, maxChipRevFull = 399, entryAddr = IRAM } = opts;
  if (!Number.isInteger(size) || size % 16 || size < 1024 || size > 16 * 1024 * 1024) {
    throw new RangeError(`image size ${size} must be a multiple of 16 in [1 KiB, 16 MiB]`);
  }
  if (!Number.isInteger(trailing) || trailing < 0 || trailing > 16 * 1024 * 1024) {
    throw new RangeError(`trailing byte count ${trailing} must be an integer in [0, 16 MiB]`);
  }
  const rnd = prng(fnv1a(`${version}\u0000${build}`));
  // Checksum block of 4, 8, 12 or 16 bytes (varies with the seed); every length is a multiple
  // of 4, so unpadded = size - 32 - pad gives a block that ends exactly at size - 32.
  const pad = 4 * (1 + (rnd() % 4));
  const unpadded = size - ESP_APPENDED_HASH_SIZE - pad;
  const data = unpadded - ESP_IMAGE_HEADER_SIZE - SEGMENT_COUNT * ESP_SEGMENT_HEADER_SIZE;
  // DRAM and IRAM stay small (they are loaded into RAM); DROM and IROM share the rest.
  const small = () => 4 * (1 + (rnd() % Math.min(2048, Math.floor(data / 64))));
  const dram = small();
  const iram = small();
  const rest = data - 256 - dram - iram;
  const drom = 256 + 4 * Math.floor(((rest / 4) * (1 + (rnd() % 7))) / 8);
  const irom = data - drom - dram - iram;
  const lengths = [drom, dram, iram, irom];

  const img = new Uint8Array(size + trailing);
  img[0] = ESP_IMAGE_MAGIC;
  img[1] = SEGMENT_COUNT;
  img[2] = 2; // spi_mode DIO
  img[3] = 0x20; // spi_size 4 MB (high nibble), spi_speed DIV_2 (low nibble)
  writeU32LE(img, ESP_ENTRY_ADDR_OFFSET, entryAddr);
  img[8] = 0xee; // wp_pin disabled
  writeU16LE(img, ESP_CHIP_ID_OFFSET, chipId);
  img[ESP_MIN_CHIP_REV_OFFSET] = Math.floor(minChipRevFull / 100) & 0xff; // legacy: the major revision
  writeU16LE(img, ESP_MIN_CHIP_REV_FULL_OFFSET, minChipRevFull);
  writeU16LE(img, ESP_MAX_CHIP_REV_FULL_OFFSET, maxChipRevFull);
  img[ESP_HASH_APPENDED_OFFSET] = 1;

  let pos = ESP_IMAGE_HEADER_SIZE;
  let checksum = ESP_CHECKSUM_SEED;
  for (let s = 0; s < SEGMENT_COUNT; s++) {
    const dataOff = pos + ESP_SEGMENT_HEADER_SIZE;
    const load = [DROM + (dataOff % PAGE), DRAM, IRAM, IROM + (dataOff % PAGE)][s];
    writeU32LE(img, pos, load);
    writeU32LE(img, pos + 4, lengths[s]);
    let i = dataOff;
    if (s === 0) {
      const desc = encodeAppDesc({ secureVersion, version, projectName, time: "12:00:00", date: "Jan  1 2026", idfVersion: "v5.5" });
      desc.set(createHash("sha256").update(`${projectName}\u0000${version}\u0000${build}`).digest(), APP_DESC_OFF_APP_ELF_SHA256);
      desc[APP_DESC_OFF_MMU_PAGE_SIZE] = 16; // log2(64 KiB)
      img.set(desc, i);
      i += desc.length;
    }
    const end = dataOff + lengths[s];
    for (; i < end; i += 4) writeU32LE(img, i, rnd());
    for (let j = dataOff; j < end; j++) checksum ^= img[j];
    pos = end;
  }
  if (pos !== unpadded || checksumBlockLength(pos) !== pad) throw new Error("image layout bug");
  img[pos + pad - 1] = checksum; // padding bytes before it stay zero
  img.set(createHash("sha256").update(img.subarray(0, pos + pad)).digest(), pos + pad);
  for (let i = size; i < img.length; i++) img[i] = rnd() % 0xff; // never 0xFF: padding must not pass for data
  return img;
}

/** An offer of exactly `size` bytes, any size from 1 KiB: the largest valid image whose size is
 * a multiple of 16, then `size % 16` trailing bytes (sim update and torture take any --size). */
export function buildImageOfSize(opts: Omit<TestImageOptions, "trailing">): Uint8Array {
  const rest = Number.isInteger(opts.size) ? opts.size % 16 : 0;
  return buildTestImage({ ...opts, size: opts.size - rest, trailing: rest });
}

/** Parses "4096", "0x1000", "64K", "64KiB", "64KB", "2M", "1MiB" (case-insensitive). All
 * suffixes are binary: K = 1024, M = 1024^2, G = 1024^3. Throws on anything else. */
export function parseSize(text: string | number): number {
  if (typeof text === "number") return text;
  const m = /^\s*(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`bad size "${text}"`);
  const n = m[1].toLowerCase().startsWith("0x") ? parseInt(m[1], 16) : Number(m[1]);
  const mul = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k"] ?? 1;
  const v = n * mul;
  if (!Number.isSafeInteger(v)) throw new RangeError(`bad size "${text}"`);
  return v;
}

export interface ImageBuildOptions {
  version: string;
  size: string | number;
  out: string;
  build?: number;
  secureVersion?: number;
  projectName?: string;
  /** Bytes appended after the image (`--trailing N`). */
  trailing?: number;
  /** Header chip fields and entry address (see TestImageOptions). */
  chipId?: number;
  minChipRevFull?: number;
  maxChipRevFull?: number;
  entryAddr?: number;
  /** Private key files: append a Secure Boot V2 signature sector (`--sign`, up to 3). */
  sign?: readonly string[];
}

/** CLI glue for `xs-ota image build`: builds the image and writes it to `out`. */
export function imageBuildCommand(opts: ImageBuildOptions): { out: string; size: number; sha256: string } {
  const image = buildTestImage({
    version: opts.version,
    size: parseSize(opts.size),
    build: opts.build,
    secureVersion: opts.secureVersion,
    projectName: opts.projectName,
    trailing: opts.trailing,
    chipId: opts.chipId,
    minChipRevFull: opts.minChipRevFull,
    maxChipRevFull: opts.maxChipRevFull,
    entryAddr: opts.entryAddr,
  });
  const keys = (opts.sign ?? []).map((file) => loadSbv2SigningKey(readKeyText(file), `--sign ${file}`));
  const out = keys.length ? sbv2SignImage(image, keys).signed : image;
  writeFileSync(opts.out, out);
  return { out: opts.out, size: out.length, sha256: createHash("sha256").update(out).digest("hex") };
}
