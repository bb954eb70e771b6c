// Test images for the STM32 boards (host-sim/layout-board.ts): an application payload that the
// simulated ROM boots (a vector table whose initial stack pointer is in SRAM), made into an
// MCUboot image (stm32f4-1mb, imgtool's layout through mcuboot-image-builder.ts) or a dual-bank
// bank image (stm32l4-dualbank-1mb, src/targets/stm32-dualbank/bank-image.ts: the same signed
// MCUboot image with its header moved behind the payload). Signed with the simulated boards' key
// (a fixed Ed25519 key, so the bytes are the same on every run) unless told otherwise.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { buildMcubootImage } from "./mcuboot-image-builder.ts";
import { parsePublicKey, type PublicKey } from "../src/crypto/public-key.ts";
import { IMAGE_HEADER_SIZE } from "../src/targets/mcuboot/image-header.ts";
import { VT_PAYLOAD_LENGTH } from "../src/targets/stm32-dualbank/bank-image.ts";
import { concatBytes, writeU32LE } from "../src/util/bytes.ts";

/** Initial stack pointer (top of SRAM1 on STM32L4/F4 parts) and reset handler (Thumb) of the
 * payloads. */
const INITIAL_SP = 0x20018000;
const RESET_HANDLER = 0x08000199;
/** PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/** A deterministic Ed25519 key from a name (its seed is the name's SHA-256). */
export function ed25519KeyFromName(name: string): KeyObject {
  const seed = createHash("sha256").update(name).digest();
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The key the simulated STM32 boards trust and sign their images with. */
export const SIM_BOARD_KEY = ed25519KeyFromName("xs-ota simulated STM32 board key");

export function publicKeyOf(key: KeyObject): PublicKey {
  return parsePublicKey(new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" })));
}

export type Stm32ImageFormat = "mcuboot" | "bank";

export interface Stm32ImageOptions {
  format: Stm32ImageFormat;
  /** "major.minor.revision" (the build is `build`). */
  version: string;
  /** About this many bytes in all (the payload is sized for it; at least 1 KiB of payload). */
  size: number;
  build?: number;
  /** The signing key; null: unsigned (SHA256 TLV only). Default SIM_BOARD_KEY. */
  key?: KeyObject | null;
  securityCounter?: number;
}

/** The payload: vector table, then bytes that depend on the version and build. */
export function stm32Payload(length: number, version: string, build: number): Uint8Array {
  const b = new Uint8Array(length);
  writeU32LE(b, 0, INITIAL_SP);
  writeU32LE(b, 4, RESET_HANDLER);
  const tag = createHash("sha256").update(`${version}+${build}`).digest();
  for (let i = 8; i < length; i++) b[i] = tag[i & 31] ^ ((i * 131) >> 3);
  return b;
}

function build(o: Stm32ImageOptions, payloadLength: number): Uint8Array {
  const build = o.build ?? 0;
  const payload = stm32Payload(payloadLength, o.version, build);
  if (o.format === "bank") writeU32LE(payload, VT_PAYLOAD_LENGTH, payloadLength);
  const image = buildMcubootImage({
    payload,
    padHeader: true,
    headerSize: IMAGE_HEADER_SIZE,
    version: `${o.version}+${build}`,
    key: o.key === null ? undefined : (o.key ?? SIM_BOARD_KEY),
    securityCounter: o.securityCounter,
  });
  return o.format === "mcuboot" ? image : toBankImage(image, payloadLength);
}

/** An MCUboot image with a 32-byte header (no padding) as a bank image: the header moved behind
 * the payload (src/targets/stm32-dualbank/bank-image.ts). */
export function toBankImage(image: Uint8Array, payloadLength: number): Uint8Array {
  const h = IMAGE_HEADER_SIZE;
  return concatBytes(image.subarray(h, h + payloadLength), image.subarray(0, h), image.subarray(h + payloadLength));
}

export interface McubootBuildCommand {
  format: Stm32ImageFormat;
  /** imgtool -v: "major.minor.revision[+build]". */
  version: string;
  /** Bytes of the test payload (a vector table, then content from the version and `variant`). */
  size: number;
  variant: number;
  /** Sign this binary instead of the test payload. */
  input?: string;
  /** PEM private key file (Ed25519 or ECDSA P-256); none: unsigned. */
  key?: string;
  securityCounter?: number;
  headerSize?: number;
  pad?: boolean;
  confirm?: boolean;
  slotSize?: number;
  align?: number;
  out: string;
}

/** `xs-ota image build --format mcuboot|bank`: imgtool sign's layout (mcuboot-image-builder.ts). */
export function mcubootImageBuildCommand(o: McubootBuildCommand): { out: string; size: number; sha256: string } {
  let payload = o.input ? new Uint8Array(readFileSync(o.input)) : stm32Payload(o.size, o.version, o.variant);
  let out: Uint8Array;
  const key = o.key ? readFileSync(o.key, "utf8") : undefined;
  if (o.format === "bank") {
    if ((o.headerSize ?? IMAGE_HEADER_SIZE) !== IMAGE_HEADER_SIZE || o.pad || o.confirm) {
      throw new Error("--format bank: the header is 32 bytes and the image is not padded (the bank has no MCUboot trailer)");
    }
    payload = payload.slice();
    writeU32LE(payload, VT_PAYLOAD_LENGTH, payload.length);
    const image = buildMcubootImage({ payload, padHeader: true, version: o.version, key, securityCounter: o.securityCounter });
    out = toBankImage(image, payload.length);
  } else {
    out = buildMcubootImage({
      payload, padHeader: true, headerSize: o.headerSize, version: o.version, key, securityCounter: o.securityCounter,
      pad: o.pad, confirm: o.confirm, slotSize: o.slotSize, align: o.align,
    });
  }
  writeFileSync(o.out, out);
  return { out: o.out, size: out.length, sha256: createHash("sha256").update(out).digest("hex") };
}

/** An image of about `size` bytes (exactly, with an Ed25519 key or none). */
export function buildStm32Image(o: Stm32ImageOptions): Uint8Array {
  const first = build(o, Math.max(1024, o.size - IMAGE_HEADER_SIZE));
  const overhead = first.length - Math.max(1024, o.size - IMAGE_HEADER_SIZE);
  return build(o, Math.max(1024, o.size - overhead));
}
