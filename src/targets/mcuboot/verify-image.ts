// MCUboot image validation as bootutil does it (boot/bootutil/src/image_validate.c
// bootutil_img_validate, bootutil_find_key.c, image_ecdsa.c, image_ed25519.c, image_rsa.c;
// shared/reference/signatures.md §1.3-§1.6): the hash TLV over exactly
// [0, ih_hdr_size + ih_img_size + ih_protect_tlv_size), KEYHASH selecting a trusted key (the
// image-hash algorithm over the key's DER SubjectPublicKeyInfo, compared over the TLV's length),
// a signature TLV counted only right after a KEYHASH that matched, SEC_CNT from the protected
// area for anti-rollback. Signatures: ECDSA_SIG (DER), ED25519 (over the hash, or over the hashed
// region with SIG_PURE), RSA2048/3072_PSS.

import { ErrorCode, OtaError } from "../../errors.ts";
import type { Digest, DigestPort, SignaturePort } from "../../ports.ts";
import { ed25519VerifyStream } from "../../crypto/ed25519.ts";
import { DerError, parseEcdsaSignature, type PublicKey } from "../../crypto/public-key.ts";
import { rsaPssVerify } from "../../crypto/rsa-pss.ts";
import { wideDigest } from "../../crypto/sha512.ts";
import { equalBytes, readU32LE, toHex } from "../../util/bytes.ts";
import {
  IMAGE_F_ENCRYPTED_AES128,
  IMAGE_F_ENCRYPTED_AES256,
  IMAGE_HEADER_SIZE,
  formatImageVersion,
  parseImageHeader,
  type ImageHeader,
} from "./image-header.ts";
import { TLV, readTlvAreas, type ImageRead, type TlvEntry } from "./tlv.ts";

/** Largest read the verifier issues. */
export const MCUBOOT_READ_CHUNK = 4096;
/** image_rsa.c PSS_SLEN. */
const RSA_PSS_SALT = 32;

type HashAlgorithm = "sha256" | "sha384" | "sha512";
const HASH_TLVS: Readonly<Record<number, readonly [HashAlgorithm, number]>> = Object.freeze({
  [TLV.SHA256]: Object.freeze(["sha256", 32] as [HashAlgorithm, number]),
  [TLV.SHA384]: Object.freeze(["sha384", 48] as [HashAlgorithm, number]),
  [TLV.SHA512]: Object.freeze(["sha512", 64] as [HashAlgorithm, number]),
});

export interface McubootVerifyOptions {
  digests: DigestPort;
  /** Needed for ECDSA and RSA signatures (and a native SHA-384/512 when the platform has one). */
  signatures?: SignaturePort;
  /** The trusted keys (bootutil_keys). */
  keys?: readonly PublicKey[];
  /** At least one signature by a trusted key must verify. Default: when keys are given. */
  requireSignature?: boolean;
  /** Anti-rollback (MCUBOOT_HW_ROLLBACK_PROT): the protected SEC_CNT must be present and >= this. */
  minSecurityCounter?: number;
}

export interface McubootSignatureResult {
  algorithm: "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa-pss";
  /** Hex of the KEYHASH TLV before it, when there is one. */
  keyDigest?: string;
  /** Index of the trusted key the KEYHASH selected, or -1 (the signature was not checked). */
  keyIndex: number;
  ok: boolean;
  /** Why it was not checked or did not verify. */
  reason?: string;
}

export interface McubootVerifyResult {
  valid: boolean;
  format: "mcuboot";
  header?: ImageHeader;
  version?: string;
  securityCounter?: number;
  /** The image hash (the hash TLV's algorithm) when it was computed. */
  hash?: { algorithm: HashAlgorithm; value: string; ok: boolean };
  signatures: McubootSignatureResult[];
  /** End of the image (end of the unprotected TLV area). */
  end?: number;
  errors: string[];
}

function createHash(algorithm: HashAlgorithm, o: McubootVerifyOptions): Digest {
  return algorithm === "sha256" ? o.digests.create("sha256") : wideDigest(algorithm, o.signatures);
}

/** Feeds [0, end) of the image to `sink`, MCUBOOT_READ_CHUNK bytes at a time. */
function streamRange(read: ImageRead, end: number, sink: (chunk: Uint8Array) => void): void {
  for (let off = 0; off < end; off += MCUBOOT_READ_CHUNK) {
    const n = Math.min(MCUBOOT_READ_CHUNK, end - off);
    const b = read(off, n);
    if (b.length !== n) throw new OtaError(ErrorCode.VerifyFailed, `short read at 0x${off.toString(16)}`);
    sink(b);
  }
}

const value = (read: ImageRead, t: TlvEntry): Uint8Array => read(t.valueOffset, t.len);

/**
 * Validates the MCUboot image stored at [0, limit) (a slot, or a file). Never throws for bad
 * image content: the reasons are in `errors` and `valid` is false. Reads at most
 * MCUBOOT_READ_CHUNK bytes at a time.
 */
export function verifyMcubootImage(read: ImageRead, limit: number, options: McubootVerifyOptions): McubootVerifyResult {
  const result: McubootVerifyResult = { valid: false, format: "mcuboot", signatures: [], errors: [] };
  const errors = result.errors;
  try {
    if (limit < IMAGE_HEADER_SIZE) throw new OtaError(ErrorCode.VerifyFailed, `image of ${limit} bytes has no header`);
    const header = parseImageHeader(read(0, IMAGE_HEADER_SIZE));
    result.header = header;
    result.version = formatImageVersion(header.version);
    if (header.flags & (IMAGE_F_ENCRYPTED_AES128 | IMAGE_F_ENCRYPTED_AES256)) errors.push("encrypted images are not supported");
    const areas = readTlvAreas(read, limit, header);
    result.end = areas.end;
    checkTlvs(read, areas.hashedEnd, areas.entries, options, result);
  } catch (e) {
    if (e instanceof OtaError) errors.push(e.reason);
    else throw e;
  }
  result.valid = errors.length === 0;
  return result;
}

function checkTlvs(read: ImageRead, hashedEnd: number, entries: TlvEntry[], o: McubootVerifyOptions, result: McubootVerifyResult): void {
  const errors = result.errors;
  const keys = o.keys ?? [];
  const requireSignature = o.requireSignature ?? keys.length > 0;

  // The hash: the first hash TLV fixes the algorithm (one per bootloader build, crypto/sha.h).
  const hashTlv = entries.find((t) => !t.protected && HASH_TLVS[t.type]);
  if (!hashTlv) {
    errors.push("no SHA256/SHA384/SHA512 TLV");
    return;
  }
  const [algorithm, size] = HASH_TLVS[hashTlv.type];
  const h = createHash(algorithm, o);
  streamRange(read, hashedEnd, (b) => h.update(b));
  const hash = h.finish();
  let hashOk = true;
  for (const t of entries) {
    if (t.protected || t.type !== hashTlv.type) continue;
    if (t.len !== size) {
      errors.push(`hash TLV of ${t.len} bytes, expected ${size}`);
      hashOk = false;
    } else if (!equalBytes(value(read, t), hash)) {
      errors.push(`image ${algorithm} does not match the hash TLV`);
      hashOk = false;
    }
  }
  result.hash = { algorithm, value: toHex(hash), ok: hashOk };

  // Key hashes of the trusted keys with the image-hash algorithm (bootutil_find_key).
  const keyHashes = keys.map((k) => {
    const d = createHash(algorithm, o);
    d.update(k.spki);
    return d.finish();
  });
  const pure = entries.some((t) => !t.protected && t.type === TLV.SIG_PURE);

  let keyId = -1;
  let keyDigest: string | undefined;
  let verified = 0;
  for (const t of entries) {
    if (t.protected) {
      if (t.type === TLV.SEC_CNT) {
        if (t.len !== 4) errors.push(`SEC_CNT of ${t.len} bytes, expected 4`);
        else result.securityCounter = readU32LE(value(read, t), 0);
      }
      continue;
    }
    switch (t.type) {
      case TLV.KEYHASH: {
        const kh = value(read, t);
        keyDigest = toHex(kh);
        keyId = -1;
        if (t.len === 0 || t.len > size) {
          errors.push(`KEYHASH of ${t.len} bytes (image hash is ${size})`);
          break;
        }
        keyId = keyHashes.findIndex((k) => equalBytes(k.subarray(0, t.len), kh));
        break;
      }
      case TLV.SIG_PURE:
        if (t.len !== 1 || value(read, t)[0] !== 1) errors.push("SIG_PURE TLV is not the single byte 0x01");
        break;
      case TLV.ECDSA_SIG:
      case TLV.ED25519:
      case TLV.RSA2048_PSS:
      case TLV.RSA3072_PSS: {
        const key = keyId >= 0 ? keys[keyId] : undefined;
        const sig: McubootSignatureResult = { algorithm: algorithmOf(t.type, key), keyIndex: keyId, ok: false };
        if (keyDigest !== undefined) sig.keyDigest = keyDigest;
        if (key) {
          const failure = checkSignature(read, t, key, hash, pure, hashedEnd, o);
          sig.ok = failure === undefined;
          if (failure) sig.reason = failure;
        } else {
          sig.reason = keyDigest === undefined ? "no KEYHASH before it" : "KEYHASH matches no trusted key";
        }
        if (sig.ok) verified++;
        result.signatures.push(sig);
        keyId = -1;
        keyDigest = undefined;
        break;
      }
      default:
        break;
    }
  }

  if (requireSignature && verified === 0) {
    const why = result.signatures.map((g) => `${g.algorithm}: ${g.reason}`).join(", ");
    errors.push(result.signatures.length === 0 ? "image is not signed" : `no signature by a trusted key verifies (${why})`);
  }
  if (o.minSecurityCounter !== undefined) {
    if (result.securityCounter === undefined) errors.push("no protected SEC_CNT TLV (anti-rollback is on)");
    else if (result.securityCounter < o.minSecurityCounter) {
      errors.push(`security counter ${result.securityCounter} is below ${o.minSecurityCounter}`);
    }
  }
}

function algorithmOf(type: number, key: PublicKey | undefined): McubootSignatureResult["algorithm"] {
  if (type === TLV.ED25519) return "ed25519";
  if (type === TLV.ECDSA_SIG) return key?.kind === "ecdsa" && key.curve === "p384" ? "ecdsa-p384" : "ecdsa-p256";
  return "rsa-pss";
}

/** Checks one signature TLV with the key its KEYHASH selected: undefined when it verifies, else why not. */
function checkSignature(
  read: ImageRead,
  t: TlvEntry,
  key: PublicKey,
  hash: Uint8Array,
  pure: boolean,
  hashedEnd: number,
  o: McubootVerifyOptions,
): string | undefined {
  const sig = value(read, t);
  const port = o.signatures;
  if (t.type === TLV.ED25519) {
    if (key.kind !== "ed25519") return "the key is not Ed25519";
    if (t.len !== 64) return `ED25519 TLV of ${t.len} bytes, expected 64`;
    const ok = pure
      ? ed25519VerifyStream(key.key, sig, (d) => streamRange(read, hashedEnd, (b) => d.update(b)), port)
      : ed25519VerifyStream(key.key, sig, (d) => d.update(hash), port);
    return ok ? undefined : "signature does not verify";
  }
  if (t.type === TLV.ECDSA_SIG) {
    if (key.kind !== "ecdsa") return "the key is not ECDSA";
    if (!port) return "ECDSA needs a SignaturePort";
    let rs: { r: Uint8Array; s: Uint8Array };
    try {
      rs = parseEcdsaSignature(sig, key.curve);
    } catch (e) {
      if (e instanceof DerError) return `bad DER: ${e.message}`;
      throw e;
    }
    return port.ecdsaVerify(key.curve, key.point, hash, rs.r, rs.s) ? undefined : "signature does not verify";
  }
  const bits = t.type === TLV.RSA2048_PSS ? 2048 : 3072;
  if (key.kind !== "rsa") return "the key is not RSA";
  if (key.modulus.length * 8 !== bits) return `RSA${bits}_PSS TLV with a ${key.modulus.length * 8}-bit key`;
  if (hash.length !== 32) return "RSA-PSS needs a SHA-256 image hash";
  if (!port) return "RSA needs a SignaturePort";
  return rsaPssVerify(port, o.digests, key, hash, sig, RSA_PSS_SALT) ? undefined : "signature does not verify";
}

/** verifyMcubootImage that throws OtaError(VerifyFailed) with the reasons when the image is not valid. */
export function checkMcubootImage(read: ImageRead, limit: number, options: McubootVerifyOptions): McubootVerifyResult {
  const r = verifyMcubootImage(read, limit, options);
  if (!r.valid) throw new OtaError(ErrorCode.VerifyFailed, `MCUboot image: ${r.errors.join("; ")}`);
  return r;
}
