// The DER and PEM forms signature verification needs (ITU-T X.690 DER; RFC 5280 §4.1
// SubjectPublicKeyInfo; RFC 5480 EC keys and the ECDSA-Sig-Value of RFC 3279 §2.2.3; RFC 8410
// Ed25519 keys; RFC 8017 Appendix A.1.1 RSAPublicKey; RFC 7468 PEM). Strict DER, definite lengths
// only; parsed by hand (no RegExp). These are the bytes imgtool hashes for KEYHASH
// (signatures.md §1.5) and the keys espsecure extract-public-key writes.

import type { EcdsaCurve } from "../ports.ts";

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;

/** Object identifiers as their DER content bytes. */
const OID_EC_PUBLIC_KEY = Object.freeze([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]); // 1.2.840.10045.2.1
const OID_P256 = Object.freeze([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]); // 1.2.840.10045.3.1.7 prime256v1
const OID_P384 = Object.freeze([0x2b, 0x81, 0x04, 0x00, 0x22]); // 1.3.132.0.34 secp384r1
const OID_ED25519 = Object.freeze([0x2b, 0x65, 0x70]); // 1.3.101.112
const OID_RSA = Object.freeze([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]); // 1.2.840.113549.1.1.1

/** Field size in bytes of each curve. */
export const CURVE_BYTES: Readonly<Record<EcdsaCurve, number>> = Object.freeze({ p256: 32, p384: 48 });

export type PublicKey =
  | { kind: "ecdsa"; curve: EcdsaCurve; /** 0x04 ‖ X ‖ Y */ point: Uint8Array; spki: Uint8Array }
  | { kind: "ed25519"; key: Uint8Array; spki: Uint8Array }
  | { kind: "rsa"; /** big-endian, no leading zero */ modulus: Uint8Array; exponent: number; spki: Uint8Array };

/** A malformed DER or PEM input. */
export class DerError extends Error {
  override readonly name = "DerError";
}

interface Tlv {
  tag: number;
  /** content [start, end) */
  start: number;
  end: number;
}

/** Reads one TLV at `off` that must end by `limit`. */
function readTlv(b: Uint8Array, off: number, limit: number, tag: number, what: string): Tlv {
  if (off + 2 > limit) throw new DerError(`${what}: truncated`);
  if (b[off] !== tag) throw new DerError(`${what}: tag 0x${b[off].toString(16)}, expected 0x${tag.toString(16)}`);
  let len = b[off + 1];
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) throw new DerError(`${what}: unsupported length form`);
    if (start + n > limit) throw new DerError(`${what}: truncated length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i];
    if (len < 0x80 || b[start] === 0) throw new DerError(`${what}: length not minimally encoded`);
    start += n;
  }
  if (start + len > limit) throw new DerError(`${what}: length ${len} runs past its container`);
  return { tag, start, end: start + len };
}

function sameBytes(b: Uint8Array, t: Tlv, ref: readonly number[]): boolean {
  if (t.end - t.start !== ref.length) return false;
  for (let i = 0; i < ref.length; i++) if (b[t.start + i] !== ref[i]) return false;
  return true;
}

/** A non-negative minimal DER INTEGER's magnitude (no sign byte). */
function unsignedInteger(b: Uint8Array, t: Tlv, what: string): Uint8Array {
  const n = t.end - t.start;
  if (n === 0) throw new DerError(`${what}: empty INTEGER`);
  if (b[t.start] & 0x80) throw new DerError(`${what}: negative INTEGER`);
  if (n > 1 && b[t.start] === 0 && !(b[t.start + 1] & 0x80)) throw new DerError(`${what}: INTEGER not minimally encoded`);
  return b.subarray(b[t.start] === 0 && n > 1 ? t.start + 1 : t.start, t.end);
}

function leftPad(v: Uint8Array, size: number, what: string): Uint8Array {
  if (v.length > size) throw new DerError(`${what}: integer longer than ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

/**
 * An ECDSA-Sig-Value `SEQUENCE { INTEGER r, INTEGER s }` (MCUboot's ECDSA_SIG TLV) as fixed-size
 * big-endian r and s. Zero bytes after the SEQUENCE are allowed (imgtool --pad-sig); anything else
 * is an error.
 */
export function parseEcdsaSignature(der: Uint8Array, curve: EcdsaCurve): { r: Uint8Array; s: Uint8Array } {
  const size = CURVE_BYTES[curve];
  const seq = readTlv(der, 0, der.length, TAG_SEQUENCE, "ECDSA signature");
  for (let i = seq.end; i < der.length; i++) if (der[i] !== 0) throw new DerError("ECDSA signature: bytes after the SEQUENCE");
  const rt = readTlv(der, seq.start, seq.end, TAG_INTEGER, "ECDSA signature r");
  const st = readTlv(der, rt.end, seq.end, TAG_INTEGER, "ECDSA signature s");
  if (st.end !== seq.end) throw new DerError("ECDSA signature: extra data in the SEQUENCE");
  return { r: leftPad(unsignedInteger(der, rt, "r"), size, "r"), s: leftPad(unsignedInteger(der, st, "s"), size, "s") };
}

/** The key in a DER SubjectPublicKeyInfo: EC P-256/P-384 (uncompressed point), Ed25519 or RSA. */
export function parseSpki(der: Uint8Array): PublicKey {
  const spki = der.slice();
  const top = readTlv(der, 0, der.length, TAG_SEQUENCE, "SubjectPublicKeyInfo");
  if (top.end !== der.length) throw new DerError("SubjectPublicKeyInfo: trailing bytes");
  const alg = readTlv(der, top.start, top.end, TAG_SEQUENCE, "AlgorithmIdentifier");
  const oid = readTlv(der, alg.start, alg.end, TAG_OID, "algorithm");
  const bits = readTlv(der, alg.end, top.end, TAG_BIT_STRING, "subjectPublicKey");
  if (bits.end !== top.end) throw new DerError("SubjectPublicKeyInfo: extra fields");
  if (bits.end - bits.start < 2 || der[bits.start] !== 0) throw new DerError("subjectPublicKey: unused bits");
  const key = der.subarray(bits.start + 1, bits.end);

  if (sameBytes(der, oid, OID_EC_PUBLIC_KEY)) {
    const param = readTlv(der, oid.end, alg.end, TAG_OID, "EC parameters");
    if (param.end !== alg.end) throw new DerError("EC AlgorithmIdentifier: extra fields");
    const curve: EcdsaCurve | undefined = sameBytes(der, param, OID_P256) ? "p256" : sameBytes(der, param, OID_P384) ? "p384" : undefined;
    if (!curve) throw new DerError("EC key: curve is neither P-256 nor P-384");
    if (key.length !== 1 + 2 * CURVE_BYTES[curve] || key[0] !== 0x04) throw new DerError("EC key: not an uncompressed point");
    return { kind: "ecdsa", curve, point: key.slice(), spki };
  }
  if (sameBytes(der, oid, OID_ED25519)) {
    if (oid.end !== alg.end) throw new DerError("Ed25519 AlgorithmIdentifier: parameters must be absent");
    if (key.length !== 32) throw new DerError("Ed25519 key: not 32 bytes");
    return { kind: "ed25519", key: key.slice(), spki };
  }
  if (sameBytes(der, oid, OID_RSA)) {
    if (oid.end !== alg.end) {
      const nul = readTlv(der, oid.end, alg.end, TAG_NULL, "RSA parameters");
      if (nul.end !== alg.end || nul.end !== nul.start) throw new DerError("RSA AlgorithmIdentifier: bad parameters");
    }
    const off = bits.start + 1;
    const seq = readTlv(der, off, bits.end, TAG_SEQUENCE, "RSAPublicKey");
    if (seq.end !== bits.end) throw new DerError("RSAPublicKey: trailing bytes");
    const nt = readTlv(der, seq.start, seq.end, TAG_INTEGER, "modulus");
    const et = readTlv(der, nt.end, seq.end, TAG_INTEGER, "publicExponent");
    if (et.end !== seq.end) throw new DerError("RSAPublicKey: extra fields");
    const e = unsignedInteger(der, et, "publicExponent");
    if (e.length > 4) throw new DerError("RSA key: exponent above 2^32");
    let exponent = 0;
    for (let i = 0; i < e.length; i++) exponent = exponent * 256 + e[i];
    if (exponent < 3 || !(exponent & 1)) throw new DerError("RSA key: bad exponent");
    return { kind: "rsa", modulus: unsignedInteger(der, nt, "modulus").slice(), exponent, spki };
  }
  throw new DerError("SubjectPublicKeyInfo: unsupported algorithm");
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 (RFC 4648 §4); whitespace is skipped, padding optional at the end only. */
export function base64Decode(text: string): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nbits = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === " " || c === "\n" || c === "\r" || c === "\t") continue;
    if (c === "=") {
      padding++;
      continue;
    }
    const v = BASE64.indexOf(c);
    if (v < 0 || padding) throw new DerError(`base64: bad character at ${i}`);
    acc = (acc << 6) | v;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push((acc >> nbits) & 0xff);
    }
  }
  if (nbits >= 6 || padding > 2) throw new DerError("base64: truncated");
  return Uint8Array.from(out);
}

/** The DER inside the first PEM block with the given label (RFC 7468). */
export function pemToDer(pem: string, label = "PUBLIC KEY"): Uint8Array {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const a = pem.indexOf(begin);
  if (a < 0) throw new DerError(`PEM: no "${begin}" line`);
  const b = pem.indexOf(end, a + begin.length);
  if (b < 0) throw new DerError(`PEM: no "${end}" line`);
  return base64Decode(pem.slice(a + begin.length, b));
}

/** A public key from PEM text ("PUBLIC KEY") or DER SubjectPublicKeyInfo bytes. */
export function parsePublicKey(input: string | Uint8Array): PublicKey {
  return parseSpki(typeof input === "string" ? pemToDer(input) : input);
}
