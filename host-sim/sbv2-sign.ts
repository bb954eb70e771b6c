// Signs an ESP app image for Secure Boot V2 as `espsecure sign-data --version 2` does (esptool
// v5.3.1 espsecure/__init__.py sign_secure_boot_v2, generate_rsa_signature_block,
// generate_ecdsa_signature_block, validate_signature_block): the image padded with 0xFF to 4 KiB,
// then a 4096-byte sector of one 1216-byte block per key (RSA-3072-PSS, ECDSA P-256, P-384),
// the rest 0xFF. The block layout is src/targets/esp-idf/sbv2-signature.ts's (its offsets, and
// its key fields, n ‖ e ‖ R̃ ‖ M′ or curve ‖ X ‖ Y); shared/reference/signatures.md §2.2-§2.5,
// §2.9. Signing uses node:crypto; RSA-PSS (random salt) and ECDSA (random k) differ every run.

import { constants, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { parseSpki } from "../src/crypto/public-key.ts";
import {
  CRC_LEN,
  ECDSA_P256,
  ECDSA_P384,
  OFF_CRC,
  OFF_IMAGE_DIGEST,
  OFF_MAGIC,
  OFF_SHA_VERSION,
  OFF_VERSION,
  RSA_BYTES,
  RSA_OFF_SIG,
  SBV2_ALIGN,
  SBV2_BLOCK_SIZE,
  SBV2_MAGIC,
  SBV2_MAX_BLOCKS,
  SBV2_SECTOR_SIZE,
  SBV2_VERSION_ECDSA,
  SBV2_VERSION_RSA,
  sbv2KeyFields,
  sbv2SignedLength,
  type Sbv2Algorithm,
} from "../src/targets/esp-idf/sbv2-signature.ts";
import { crc32 } from "../src/util/crc32.ts";
import { readU32LE, writeU32LE } from "../src/util/bytes.ts";

/** ECDSA block byte 2: the image digest is SHA-256 (0) or SHA-384 (1). */
const SHA_VERSION_SHA256 = 0;
const SHA_VERSION_SHA384 = 1;

/** A signing key as espsecure loads it (`_load_sbv2_signing_key`): RSA-3072, ECDSA P-256 or P-384. */
export interface Sbv2SigningKey {
  algorithm: Sbv2Algorithm;
  privateKey: KeyObject;
  /** The key fields of a block, and where they start in it. */
  fields: { offset: number; bytes: Uint8Array };
}

/** The signature over the signed region: RSA 384 bytes, ECDSA r ‖ s, all big-endian. */
export type Sbv2Signer = (key: Sbv2SigningKey, signedRegion: Uint8Array) => Uint8Array;

/** A private key from PEM (PKCS#1, SEC 1 or PKCS#8) or DER text; throws a clear Error otherwise. */
export function loadSbv2SigningKey(pem: string | Uint8Array, name = "key"): Sbv2SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(typeof pem === "string" ? pem : { key: Buffer.from(pem), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new Error(`${name}: not a private key (${e instanceof Error ? e.message : String(e)})`);
  }
  const details = privateKey.asymmetricKeyDetails ?? {};
  let algorithm: Sbv2Algorithm;
  if (privateKey.asymmetricKeyType === "rsa" && details.modulusLength === RSA_BYTES * 8) algorithm = "rsa3072-pss";
  else if (privateKey.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") algorithm = "ecdsa-p256";
  else if (privateKey.asymmetricKeyType === "ec" && details.namedCurve === "secp384r1") algorithm = "ecdsa-p384";
  else {
    const what = privateKey.asymmetricKeyType === "rsa" ? `RSA-${details.modulusLength}` : `${privateKey.asymmetricKeyType} ${details.namedCurve ?? ""}`.trim();
    throw new Error(`${name}: a ${what} key is not a Secure Boot V2 scheme (RSA-3072, ECDSA P-256 or P-384)`);
  }
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  return { algorithm, privateKey, fields: sbv2KeyFields(parseSpki(spki)) };
}

/** node:crypto signing: RSASSA-PSS SHA-256/MGF1-SHA-256/salt 32; ECDSA over SHA-256 or SHA-384. */
export const nodeSbv2Signer: Sbv2Signer = (key, data) => {
  if (key.algorithm === "rsa3072-pss") {
    return new Uint8Array(sign("sha256", data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  }
  const hash = key.algorithm === "ecdsa-p384" ? "sha384" : "sha256";
  return new Uint8Array(sign(hash, data, { key: key.privateKey, dsaEncoding: "ieee-p1363" }));
};

const reversed = (b: Uint8Array): Uint8Array => b.slice().reverse();

/**
 * One signature block: magic, version, (ECDSA) SHA version, the image digest, the key fields,
 * the signature little-endian (RSA: the 384 bytes reversed; ECDSA: r and s each reversed), the
 * CRC-32 of bytes [0, 1196), 16 zero bytes. `signature` is big-endian as Sbv2Signer returns it.
 */
export function sbv2Block(key: Sbv2SigningKey, imageDigest: Uint8Array, signature: Uint8Array): Uint8Array {
  const block = new Uint8Array(SBV2_BLOCK_SIZE);
  block[OFF_MAGIC] = SBV2_MAGIC;
  if (key.algorithm === "rsa3072-pss") {
    if (imageDigest.length !== 32 || signature.length !== RSA_BYTES) throw new RangeError("SBv2 RSA block: bad digest or signature length");
    block[OFF_VERSION] = SBV2_VERSION_RSA;
    block.set(reversed(signature), RSA_OFF_SIG);
  } else {
    const layout = key.algorithm === "ecdsa-p384" ? ECDSA_P384 : ECDSA_P256;
    if (imageDigest.length !== layout.digestSize || signature.length !== 2 * layout.size) {
      throw new RangeError("SBv2 ECDSA block: bad digest or signature length");
    }
    block[OFF_VERSION] = SBV2_VERSION_ECDSA;
    block[OFF_SHA_VERSION] = layout === ECDSA_P384 ? SHA_VERSION_SHA384 : SHA_VERSION_SHA256;
    block.set(reversed(signature.subarray(0, layout.size)), layout.offSig);
    block.set(reversed(signature.subarray(layout.size)), layout.offSig + layout.size);
  }
  block.set(imageDigest, OFF_IMAGE_DIGEST);
  block.set(key.fields.bytes, key.fields.offset);
  writeU32LE(block, OFF_CRC, crc32(block.subarray(0, CRC_LEN)));
  return block;
}

/** espsecure validate_signature_block: magic 0xE7, version RSA or ECDSA, CRC ok. */
function keptBlock(block: Uint8Array): boolean {
  return block[OFF_MAGIC] === SBV2_MAGIC
    && (block[OFF_VERSION] === SBV2_VERSION_RSA || block[OFF_VERSION] === SBV2_VERSION_ECDSA)
    && crc32(block.subarray(0, CRC_LEN)) === readU32LE(block, OFF_CRC);
}

export interface Sbv2SignOptions {
  /** espsecure --append-signatures: a 4 KiB-aligned input keeps the valid blocks of its last
   * sector (which is stripped) and the new blocks follow them; otherwise it is signed afresh. */
  append?: boolean;
  /** Produces the signatures (default node:crypto); tests inject known ones. */
  signer?: Sbv2Signer;
}

export interface Sbv2SignResult {
  /** The signed region (input padded to 4 KiB) followed by the 4096-byte signature sector. */
  signed: Uint8Array;
  /** Blocks kept from the input (append) and blocks added. */
  kept: number;
  added: number;
}

/** Pads `image` to 4 KiB with 0xFF and appends a signature sector with one block per key. */
export function sbv2SignImage(image: Uint8Array, keys: readonly Sbv2SigningKey[], options: Sbv2SignOptions = {}): Sbv2SignResult {
  if (keys.length === 0) throw new Error("SBv2 signing needs at least one key");
  const kept: Uint8Array[] = [];
  let content = image;
  if (options.append && image.length % SBV2_ALIGN === 0 && image.length >= SBV2_SECTOR_SIZE) {
    const last = image.subarray(image.length - SBV2_SECTOR_SIZE);
    for (let i = 0; i < SBV2_MAX_BLOCKS; i++) {
      const block = last.subarray(i * SBV2_BLOCK_SIZE, (i + 1) * SBV2_BLOCK_SIZE);
      if (!keptBlock(block)) break;
      kept.push(block);
    }
    if (kept.length === SBV2_MAX_BLOCKS) throw new Error(`the image already has ${SBV2_MAX_BLOCKS} signature blocks: no room to append`);
    if (kept.length > 0) content = image.subarray(0, image.length - SBV2_SECTOR_SIZE);
  }
  if (kept.length + keys.length > SBV2_MAX_BLOCKS) {
    throw new Error(`${kept.length + keys.length} signature blocks asked (${kept.length} kept, ${keys.length} keys): at most ${SBV2_MAX_BLOCKS}`);
  }
  const signedLength = sbv2SignedLength(content.length);
  const out = new Uint8Array(signedLength + SBV2_SECTOR_SIZE).fill(0xff);
  out.set(content);
  const region = out.subarray(0, signedLength);
  const sha256 = new Uint8Array(createHash("sha256").update(region).digest());
  let sha384: Uint8Array | undefined;
  const signer = options.signer ?? nodeSbv2Signer;
  const blocks = [...kept];
  for (const key of keys) {
    const digest = key.algorithm === "ecdsa-p384" ? (sha384 ??= new Uint8Array(createHash("sha384").update(region).digest())) : sha256;
    blocks.push(sbv2Block(key, digest, signer(key, region)));
  }
  blocks.forEach((b, i) => out.set(b, signedLength + i * SBV2_BLOCK_SIZE));
  return { signed: out, kept: kept.length, added: keys.length };
}
