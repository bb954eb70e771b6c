// Ed25519 signature verification (RFC 8032 §5.1), portable TypeScript on BigInt: Moddable has
// no Ed25519 (shared/reference/moddable-sdk.md §5). Cofactorless check as BoringSSL's
// ED25519_verify (which MCUboot's image_ed25519.c uses): S < L, A decodes, and
// encode([S]B - [k]A) equals the signature's R bytes, with k = SHA-512(R ‖ A ‖ M) mod L.

import type { Digest, SignaturePort } from "../ports.ts";
import { bigFromLE, modPow } from "./bigint.ts";
import { wideDigest } from "./sha512.ts";

/** RFC 8032 §5.1: field prime, group order, curve constant d and base point B. */
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
const D2 = (2n * D) % P;
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n; // 2^((p-1)/4)
const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/** A point in extended coordinates (x = X/Z, y = Y/Z, x*y = T/Z). */
type Point = readonly [bigint, bigint, bigint, bigint];

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** add-2008-hwcd-3 (a = -1). */
function add(p: Point, q: Point): Point {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(p[3] * D2 * q[3]);
  const d = mod(2n * p[2] * q[2]);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

/** dbl-2008-hwcd (a = -1). */
function double(p: Point): Point {
  const a = mod(p[0] * p[0]);
  const b = mod(p[1] * p[1]);
  const c = mod(2n * p[2] * p[2]);
  const h = a + b;
  const xy = p[0] + p[1];
  const e = h - mod(xy * xy);
  const g = a - b;
  const f = c + g;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

/** RFC 8032 §5.1.3; undefined when the encoding is not a curve point. */
function decodePoint(bytes: Uint8Array): Point | undefined {
  const sign = bytes[31] >> 7;
  const yb = bytes.slice(0, 32);
  yb[31] &= 0x7f;
  const y = bigFromLE(yb);
  if (y >= P) return undefined;
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = mod(v * v * v);
  let x = mod(u * v3 * modPow(mod(u * v3 * v3 * v), (P - 5n) / 8n, P));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return undefined;
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

/** RFC 8032 §5.1.2. */
function encodePoint(p: Point): Uint8Array {
  const zi = modPow(p[2], P - 2n, P);
  const x = mod(p[0] * zi);
  let y = mod(p[1] * zi);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, y >>= 8n) out[i] = Number(y & 0xffn);
  out[31] |= Number(x & 1n) << 7;
  return out;
}

/**
 * Verifies an Ed25519 signature (PureEdDSA, RFC 8032 §5.1.7) of `message` by the 32-byte public
 * key. Returns false for any malformed input. `port` may supply a native SHA-512.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, port?: SignaturePort): boolean {
  return ed25519VerifyStream(publicKey, signature, (d) => d.update(message), port);
}

/**
 * As ed25519Verify, for a message too large to hold: `writeMessage` feeds it, in order, to the
 * SHA-512 that computes k (MCUboot SIG_PURE signs the whole hashed region of the image).
 */
export function ed25519VerifyStream(publicKey: Uint8Array, signature: Uint8Array, writeMessage: (digest: Digest) => void, port?: SignaturePort): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE || signature.length !== ED25519_SIGNATURE_SIZE) return false;
  const s = bigFromLE(signature.subarray(32, 64));
  if (s >= L) return false;
  const a = decodePoint(publicKey);
  if (!a) return false;
  const h = wideDigest("sha512", port);
  h.update(signature.subarray(0, 32));
  h.update(publicKey);
  writeMessage(h);
  const k = bigFromLE(h.finish()) % L;

  // Straus: [s]B + [k](-A) with one shared doubling chain.
  const negA: Point = [mod(-a[0]), a[1], a[2], mod(-a[3])];
  const base: Point = [BX, BY, 1n, mod(BX * BY)];
  const both = add(base, negA);
  let q: Point = [0n, 1n, 1n, 0n];
  for (let i = 255; i >= 0; i--) {
    q = double(q);
    const bs = (s >> BigInt(i)) & 1n;
    const bk = (k >> BigInt(i)) & 1n;
    if (bs && bk) q = add(q, both);
    else if (bs) q = add(q, base);
    else if (bk) q = add(q, negA);
  }
  const r = encodePoint(q);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= r[i] ^ signature[i];
  return diff === 0;
}
