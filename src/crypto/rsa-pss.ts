// RSASSA-PSS verification (RFC 8017 §8.1.2) with SHA-256 and MGF1-SHA-256 (§B.2.1): the
// EMSA-PSS-VERIFY decoding of §9.1.2 in portable TypeScript, on top of the platform's raw RSA
// public operation (SignaturePort.rsaPublic; Moddable's `rsa` module has no PSS,
// signatures.md §3). Used by MCUboot RSA*_PSS TLVs and ESP Secure Boot V2 RSA blocks, both
// with salt length 32 (signatures.md §1.2, §2.3).

import type { DigestPort, SignaturePort } from "../ports.ts";

const SHA256_SIZE = 32;
/** §9.1.1 step 12: the trailer field 0xbc. */
const PSS_TRAILER = 0xbc;

/** MGF1 (RFC 8017 §B.2.1) with SHA-256: `length` mask bytes from `seed`. */
export function mgf1Sha256(seed: Uint8Array, length: number, digests: DigestPort): Uint8Array {
  const out = new Uint8Array(length);
  const d = digests.create("sha256");
  const counter = new Uint8Array(4);
  for (let i = 0, o = 0; o < length; i++, o += SHA256_SIZE) {
    counter[0] = i >>> 24;
    counter[1] = i >>> 16;
    counter[2] = i >>> 8;
    counter[3] = i;
    d.update(seed);
    d.update(counter);
    const block = d.finish();
    out.set(block.subarray(0, Math.min(SHA256_SIZE, length - o)), o);
  }
  return out;
}

/** Bit length of a big-endian unsigned integer. */
export function bitLength(be: Uint8Array): number {
  let i = 0;
  while (i < be.length && be[i] === 0) i++;
  if (i === be.length) return 0;
  return (be.length - i - 1) * 8 + (32 - Math.clz32(be[i]));
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of the message hash `mHash` (SHA-256) against the RSAVP1
 * output `m` (big-endian, the modulus length) of a modulus of `modBits` bits. Returns whether
 * the encoding is consistent.
 */
export function emsaPssVerify(mHash: Uint8Array, m: Uint8Array, modBits: number, saltLength: number, digests: DigestPort): boolean {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  // I2OSP(m, emLen): m has the modulus length, one byte more than emLen when emBits % 8 === 0
  if (m.length < emLen) return false;
  for (let i = 0; i < m.length - emLen; i++) if (m[i] !== 0) return false;
  const em = m.subarray(m.length - emLen);
  const hLen = SHA256_SIZE;
  if (mHash.length !== hLen) return false;
  if (emLen < hLen + saltLength + 2) return false; // step 3
  if (em[emLen - 1] !== PSS_TRAILER) return false; // step 4
  const dbLen = emLen - hLen - 1;
  const maskedDB = em.subarray(0, dbLen); // step 5
  const h = em.subarray(dbLen, dbLen + hLen);
  const topMask = 0xff >> (8 * emLen - emBits); // bits of the first byte that belong to EM
  if (maskedDB[0] & ~topMask & 0xff) return false; // step 6
  const db = mgf1Sha256(h, dbLen, digests); // step 7
  for (let i = 0; i < dbLen; i++) db[i] ^= maskedDB[i]; // step 8
  db[0] &= topMask; // step 9
  const psLen = emLen - hLen - saltLength - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false; // step 10
  if (db[psLen] !== 0x01) return false;
  const d = digests.create("sha256"); // steps 11-13: H' = Hash(0x00 * 8 ‖ mHash ‖ salt)
  d.update(new Uint8Array(8));
  d.update(mHash);
  d.update(db.subarray(dbLen - saltLength));
  const h2 = d.finish();
  let diff = 0;
  for (let i = 0; i < hLen; i++) diff |= h[i] ^ h2[i];
  return diff === 0; // step 14
}

/**
 * RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) over a SHA-256 message hash, with a big-endian modulus
 * and signature. False for a signature of the wrong length, s >= n, or a bad encoding.
 */
export function rsaPssVerify(
  port: SignaturePort,
  digests: DigestPort,
  key: { modulus: Uint8Array; exponent: number },
  mHash: Uint8Array,
  signature: Uint8Array,
  saltLength = 32,
): boolean {
  let first = 0;
  while (first < key.modulus.length && key.modulus[first] === 0) first++;
  const modulus = key.modulus.subarray(first);
  if (signature.length !== modulus.length) return false; // step 1
  let m: Uint8Array;
  try {
    m = port.rsaPublic(modulus, key.exponent, signature); // step 2 (RSAVP1)
  } catch (e) {
    if (e instanceof RangeError) return false; // s >= n
    throw e;
  }
  return emsaPssVerify(mHash, m, bitLength(modulus), saltLength, digests);
}
