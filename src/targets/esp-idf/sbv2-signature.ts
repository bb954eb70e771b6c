// ESP-IDF Secure Boot V2 signature sector (`ets_secure_boot_signature_t`, 4096 bytes right after
// the app image padded to 4 KiB) and its verification as esp_secure_boot_verify_sbv2_signature_block
// does on OTA. Sources: esp_rom/include/*/rom/secure_boot.h (block layout), espsecure
// `generate_rsa_signature_block` / `generate_ecdsa_signature_block` / `_digest_sbv2_public_key`
// (esptool v5.3.1), bootloader_support/src/secure_boot_v2/secure_boot_signatures_app.c;
// shared/reference/signatures.md §2.1-§2.7. Integers in a block are little-endian.

import { ErrorCode, OtaError } from "../../errors.ts";
import type { DigestPort, EcdsaCurve, SignaturePort } from "../../ports.ts";
import { bigFromLE, bigToLE, modInv, modPow } from "../../crypto/bigint.ts";
import type { PublicKey } from "../../crypto/public-key.ts";
import { rsaPssVerify } from "../../crypto/rsa-pss.ts";
import { wideDigest } from "../../crypto/sha512.ts";
import { equalBytes, readU32LE, toHex, writeU32LE } from "../../util/bytes.ts";
import { crc32 } from "../../util/crc32.ts";

/** The signed region ends on a 4 KiB boundary; the sector is 4 KiB (signatures.md §2.1). */
export const SBV2_ALIGN = 0x1000;
export const SBV2_SECTOR_SIZE = 4096;
export const SBV2_BLOCK_SIZE = 1216;
/** SECURE_BOOT_NUM_BLOCKS: 3 on ESP32-S2/S3/C3/C6/H2/P4; 1 on ESP32-C2 and ESP32 ECO3. */
export const SBV2_MAX_BLOCKS = 3;
export const SBV2_MAGIC = 0xe7;
export const SBV2_VERSION_RSA = 0x02;
export const SBV2_VERSION_ECDSA = 0x03;

// Block offsets, exported for the host-side signer (host-sim/sbv2-sign.ts) that writes blocks.
// Common header (§2.3, §2.4)
export const OFF_MAGIC = 0;
export const OFF_VERSION = 1;
export const OFF_SHA_VERSION = 2; // ECDSA: 0 = SHA-256 (P-192/P-256), 1 = SHA-384 (P-384)
export const OFF_IMAGE_DIGEST = 4;
/** CRC-32 (zlib) of block bytes [0, 1196), stored LE at 1196 (CRC_SIGN_BLOCK_LEN). */
export const CRC_LEN = 1196;
export const OFF_CRC = 1196;

// RSA-3072 block, version 2 (§2.3)
export const RSA_BYTES = 384;
const RSA_OFF_N = 36;
const RSA_OFF_E = 420;
const RSA_OFF_RINV = 424;
const RSA_OFF_MPRIME = 808;
export const RSA_OFF_SIG = 812;
/** Key digest input: n ‖ e ‖ R̃ ‖ M′ = block[36, 812) (§2.6). */
const RSA_KEY_START = RSA_OFF_N;
const RSA_KEY_END = RSA_OFF_SIG;

// ECDSA block, version 3 (§2.4): [curve id, X, Y, r, s] at these offsets per digest size
export interface EcdsaLayout {
  curve: EcdsaCurve;
  curveId: number;
  digestSize: number;
  size: number;
  offCurve: number;
  offPoint: number;
  offSig: number;
}
export const ECDSA_P256: EcdsaLayout = Object.freeze({ curve: "p256", curveId: 2, digestSize: 32, size: 32, offCurve: 36, offPoint: 37, offSig: 101 });
export const ECDSA_P384: EcdsaLayout = Object.freeze({ curve: "p384", curveId: 3, digestSize: 48, size: 48, offCurve: 52, offPoint: 53, offSig: 149 });
/** Curve id 1 (P-192): not supported here (Moddable has no P-192; signatures.md §3). */
const CURVE_ID_P192 = 1;

export type Sbv2Algorithm = "rsa3072-pss" | "ecdsa-p256" | "ecdsa-p384";

export interface Sbv2Block {
  index: number;
  /** Offset of the block from the start of the signature sector. */
  offset: number;
  /** Magic, CRC and version valid, and a scheme this verifier knows. */
  wellFormed: boolean;
  reason?: string;
  algorithm?: Sbv2Algorithm;
  /** The block's image digest field (SHA-256, or SHA-384 for P-384). */
  digestField?: Uint8Array;
  /** SHA-256 of the block's key fields: what eFuse holds (§2.6). */
  keyDigest?: Uint8Array;
  bytes: Uint8Array;
}

/** ALIGN_UP(imageLength, 4 KiB): the end of the signed region and the start of the sector. */
export function sbv2SignedLength(imageLength: number): number {
  return Math.ceil(imageLength / SBV2_ALIGN) * SBV2_ALIGN;
}

const sha256 = (digests: DigestPort, data: Uint8Array): Uint8Array => {
  const d = digests.create("sha256");
  d.update(data);
  return d.finish();
};

const reversed = (b: Uint8Array): Uint8Array => b.slice().reverse();

/** Parses the blocks of a 4096-byte signature sector (the first `maxBlocks` of them). */
export function parseSignatureSector(sector: Uint8Array, digests: DigestPort, maxBlocks = SBV2_MAX_BLOCKS): Sbv2Block[] {
  const blocks: Sbv2Block[] = [];
  for (let i = 0; i < Math.min(maxBlocks, SBV2_MAX_BLOCKS); i++) {
    const offset = i * SBV2_BLOCK_SIZE;
    const bytes = sector.subarray(offset, offset + SBV2_BLOCK_SIZE);
    const block: Sbv2Block = { index: i, offset, wellFormed: false, bytes };
    blocks.push(block);
    if (bytes.length < SBV2_BLOCK_SIZE) block.reason = "truncated";
    else if (bytes[OFF_MAGIC] !== SBV2_MAGIC) block.reason = `magic 0x${bytes[OFF_MAGIC].toString(16)}`;
    else if (crc32(bytes.subarray(0, CRC_LEN)) !== readU32LE(bytes, OFF_CRC)) block.reason = "CRC mismatch";
    else if (bytes[OFF_VERSION] === SBV2_VERSION_RSA) {
      block.algorithm = "rsa3072-pss";
      block.digestField = bytes.slice(OFF_IMAGE_DIGEST, OFF_IMAGE_DIGEST + 32);
      block.keyDigest = sha256(digests, bytes.subarray(RSA_KEY_START, RSA_KEY_END));
      block.wellFormed = true;
    } else if (bytes[OFF_VERSION] === SBV2_VERSION_ECDSA) {
      const layout = bytes[OFF_SHA_VERSION] === 1 ? ECDSA_P384 : bytes[OFF_SHA_VERSION] === 0 ? ECDSA_P256 : undefined;
      const curveId = layout ? bytes[layout.offCurve] : -1;
      if (!layout) block.reason = `unknown SHA version ${bytes[OFF_SHA_VERSION]}`;
      else if (curveId === CURVE_ID_P192) block.reason = "ECDSA P-192 is not supported";
      else if (curveId !== layout.curveId) block.reason = `curve id ${curveId} does not match the digest size`;
      else {
        block.algorithm = layout.curve === "p256" ? "ecdsa-p256" : "ecdsa-p384";
        block.digestField = bytes.slice(OFF_IMAGE_DIGEST, OFF_IMAGE_DIGEST + layout.digestSize);
        block.keyDigest = sha256(digests, bytes.subarray(layout.offCurve, layout.offPoint + 2 * layout.size));
        block.wellFormed = true;
      }
    } else block.reason = `unknown version ${bytes[OFF_VERSION]}`;
  }
  return blocks;
}

/**
 * The key fields of a block for a public key, and where they start in the block: for RSA-3072
 * n ‖ e ‖ R̃ ‖ M′ (little-endian, R̃ = 2^6144 mod n, M′ = -n⁻¹ mod 2^32) at 36; for ECDSA
 * curve id ‖ X ‖ Y (little-endian) at 36 (P-256) or 52 (P-384). These bytes are the key digest's
 * input (§2.6). Throws OtaError(VerifyFailed) for a key that is not an SBv2 scheme.
 */
export function sbv2KeyFields(key: PublicKey): { offset: number; bytes: Uint8Array } {
  if (key.kind === "rsa") {
    if (key.modulus.length !== RSA_BYTES) throw new OtaError(ErrorCode.VerifyFailed, `SBv2: RSA key of ${key.modulus.length * 8} bits, need 3072`);
    const n = bigFromLE(reversed(key.modulus));
    const rinv = modPow(2n, BigInt(2 * RSA_BYTES * 8), n);
    const mprime = (2n ** 32n - modInv(n % 2n ** 32n, 2n ** 32n)) % 2n ** 32n;
    const fields = new Uint8Array(RSA_KEY_END - RSA_KEY_START);
    fields.set(reversed(key.modulus), RSA_OFF_N - RSA_KEY_START);
    writeU32LE(fields, RSA_OFF_E - RSA_KEY_START, key.exponent);
    fields.set(bigToLE(rinv, RSA_BYTES), RSA_OFF_RINV - RSA_KEY_START);
    writeU32LE(fields, RSA_OFF_MPRIME - RSA_KEY_START, Number(mprime));
    return { offset: RSA_KEY_START, bytes: fields };
  }
  if (key.kind === "ecdsa") {
    const layout = key.curve === "p256" ? ECDSA_P256 : ECDSA_P384;
    const fields = new Uint8Array(1 + 2 * layout.size);
    fields[0] = layout.curveId;
    fields.set(reversed(key.point.subarray(1, 1 + layout.size)), 1);
    fields.set(reversed(key.point.subarray(1 + layout.size)), 1 + layout.size);
    return { offset: layout.offCurve, bytes: fields };
  }
  throw new OtaError(ErrorCode.VerifyFailed, "SBv2: Ed25519 keys are not a Secure Boot V2 scheme");
}

/**
 * The eFuse key digest of a public key, as `espsecure digest-sbv2-public-key` computes it: the
 * SHA-256 of its block key fields (sbv2KeyFields).
 */
export function sbv2KeyDigest(key: PublicKey, digests: DigestPort): Uint8Array {
  return sha256(digests, sbv2KeyFields(key).bytes);
}

export interface Sbv2VerifyOptions {
  digests: DigestPort;
  signatures: SignaturePort;
  /** The eFuse key digests (32 bytes; ESP32-C2 compares only the first keyDigestLength). */
  trustedKeyDigests: readonly Uint8Array[];
  /** Bytes of a key digest that are compared: 32, or 16 on ESP32-C2. */
  keyDigestLength?: number;
  /** Signature blocks the chip reads: 3, or 1 (ESP32-C2, ESP32 ECO3, SIGNED_ON_UPDATE_NO_SECURE_BOOT). */
  maxBlocks?: number;
  /** Check every block instead of stopping at the first that verifies (reporting tools). */
  checkAll?: boolean;
}

export interface Sbv2SignatureResult {
  index: number;
  algorithm?: Sbv2Algorithm;
  keyDigest?: string;
  trusted: boolean;
  ok: boolean;
  reason?: string;
}

export interface Sbv2VerifyResult {
  valid: boolean;
  /** [0, signedLength) is hashed; the sector follows. */
  signedLength: number;
  /** Index of the block that verified. */
  verifiedBlock?: number;
  /** Hex digest of [0, signedLength) the verified block signs (SHA-256, or SHA-384 for P-384). */
  imageDigest?: string;
  signatures: Sbv2SignatureResult[];
  errors: string[];
}

/** Largest read the verifier issues. */
export const SBV2_READ_CHUNK = 4096;

function digestRange(read: (o: number, n: number) => Uint8Array, end: number, d: { update(b: Uint8Array): void }): void {
  for (let off = 0; off < end; off += SBV2_READ_CHUNK) {
    const n = Math.min(SBV2_READ_CHUNK, end - off);
    const b = read(off, n);
    if (b.length !== n) throw new OtaError(ErrorCode.VerifyFailed, `short read at 0x${off.toString(16)}`);
    d.update(b);
  }
}

/**
 * Verifies the Secure Boot V2 signature sector of the app image whose length (header, segments,
 * checksum, appended hash) is `imageLength`, stored at [0, limit) (the partition): valid when a
 * well-formed block whose key digest is trusted carries the image's digest and a signature that
 * verifies over it (signatures.md §2.7; the block's digest field is checked as the
 * documentation and espsecure do). Never throws for bad content.
 */
export function verifySbv2Image(
  read: (offset: number, length: number) => Uint8Array,
  limit: number,
  imageLength: number,
  options: Sbv2VerifyOptions,
): Sbv2VerifyResult {
  const signedLength = sbv2SignedLength(imageLength);
  const result: Sbv2VerifyResult = { valid: false, signedLength, signatures: [], errors: [] };
  if (signedLength + SBV2_SECTOR_SIZE > limit) {
    result.errors.push(`no room for a signature sector: image padded to 0x${signedLength.toString(16)} + 4096 exceeds 0x${limit.toString(16)}`);
    return result;
  }
  const sector = read(signedLength, SBV2_SECTOR_SIZE);
  if (sector.length !== SBV2_SECTOR_SIZE) {
    result.errors.push("short read of the signature sector");
    return result;
  }
  const compared = options.keyDigestLength ?? 32;
  const blocks = parseSignatureSector(sector, options.digests, options.maxBlocks ?? SBV2_MAX_BLOCKS);
  let sha256Digest: Uint8Array | undefined;
  let sha384Digest: Uint8Array | undefined;
  const imageDigest = (wide: boolean): Uint8Array => {
    if (wide) {
      if (!sha384Digest) {
        const d = wideDigest("sha384", options.signatures);
        digestRange(read, signedLength, d);
        sha384Digest = d.finish();
      }
      return sha384Digest;
    }
    if (!sha256Digest) {
      const d = options.digests.create("sha256");
      digestRange(read, signedLength, d);
      sha256Digest = d.finish();
    }
    return sha256Digest;
  };

  try {
    for (const b of blocks) {
      const sig: Sbv2SignatureResult = { index: b.index, trusted: false, ok: false };
      if (b.algorithm) sig.algorithm = b.algorithm;
      if (b.keyDigest) sig.keyDigest = toHex(b.keyDigest);
      result.signatures.push(sig);
      if (!b.wellFormed) {
        sig.reason = b.reason;
        continue;
      }
      const kd = b.keyDigest!.subarray(0, compared);
      sig.trusted = options.trustedKeyDigests.some((t) => t.length >= compared && equalBytes(t.subarray(0, compared), kd));
      if (!sig.trusted) {
        sig.reason = "key digest is not trusted";
        continue;
      }
      const digest = imageDigest(b.algorithm === "ecdsa-p384");
      if (!equalBytes(b.digestField!, digest)) {
        sig.reason = "the block's image digest does not match the image";
        continue;
      }
      sig.ok = verifyBlock(b, digest, options);
      if (!sig.ok) {
        sig.reason = "signature does not verify";
        continue;
      }
      if (result.verifiedBlock !== undefined) continue;
      result.verifiedBlock = b.index;
      result.imageDigest = toHex(digest);
      if (!options.checkAll) break; // the first success ends the search, as in IDF
    }
  } catch (e) {
    if (!(e instanceof OtaError)) throw e;
    result.errors.push(e.reason);
  }
  if (result.verifiedBlock === undefined) {
    const why = result.signatures.map((s) => `block ${s.index}: ${s.reason}`).join(", ");
    result.errors.push(`no signature block verifies with a trusted key (${why})`);
  }
  result.valid = result.errors.length === 0;
  return result;
}

function verifyBlock(b: Sbv2Block, digest: Uint8Array, o: Sbv2VerifyOptions): boolean {
  const bytes = b.bytes;
  if (b.algorithm === "rsa3072-pss") {
    const modulus = reversed(bytes.subarray(RSA_OFF_N, RSA_OFF_N + RSA_BYTES));
    const exponent = readU32LE(bytes, RSA_OFF_E);
    const signature = reversed(bytes.subarray(RSA_OFF_SIG, RSA_OFF_SIG + RSA_BYTES));
    if (modulus[0] === 0 || exponent < 3 || !(exponent & 1)) return false;
    return rsaPssVerify(o.signatures, o.digests, { modulus, exponent }, digest, signature, 32);
  }
  const layout = b.algorithm === "ecdsa-p384" ? ECDSA_P384 : ECDSA_P256;
  const n = layout.size;
  const point = new Uint8Array(1 + 2 * n);
  point[0] = 0x04;
  point.set(reversed(bytes.subarray(layout.offPoint, layout.offPoint + n)), 1);
  point.set(reversed(bytes.subarray(layout.offPoint + n, layout.offPoint + 2 * n)), 1 + n);
  const r = reversed(bytes.subarray(layout.offSig, layout.offSig + n));
  const s = reversed(bytes.subarray(layout.offSig + n, layout.offSig + 2 * n));
  return o.signatures.ecdsaVerify(layout.curve, point, digest, r, s);
}

/** verifySbv2Image that throws OtaError(VerifyFailed) with the reasons when it is not valid. */
export function checkSbv2Image(
  read: (offset: number, length: number) => Uint8Array,
  limit: number,
  imageLength: number,
  options: Sbv2VerifyOptions,
): Sbv2VerifyResult {
  const r = verifySbv2Image(read, limit, imageLength, options);
  if (!r.valid) throw new OtaError(ErrorCode.VerifyFailed, `Secure Boot V2: ${r.errors.join("; ")}`);
  return r;
}
