// ECDSA verification over a precomputed digest (FIPS 186-5 §6.4.2) on NIST P-256 and P-384, in
// BigInt Jacobian arithmetic. host-sim's SignaturePort uses it because node:crypto verifies ECDSA
// only over a message it hashes itself (crypto.verify(null, …) still applies SHA-256), while the
// port, like Moddable's native `ecdsa` module, receives the digest. Node side only: the device
// uses the platform's native ECDSA.

import type { EcdsaCurve } from "../src/ports.ts";
import { bigFromBE, modInv } from "../src/crypto/bigint.ts";

interface Curve {
  p: bigint;
  b: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
  bytes: number;
}

/** SEC 2 v2 §2.4.2 (secp256r1) and §2.5.1 (secp384r1); a = -3. */
const CURVES: Record<EcdsaCurve, Curve> = {
  p256: {
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  p384: {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
};

/** Jacobian (X, Y, Z): x = X/Z², y = Y/Z³; Z = 0 is the point at infinity. */
type J = readonly [bigint, bigint, bigint];
const INF: J = [1n, 1n, 0n];

function dbl(c: Curve, q: J): J {
  if (q[2] === 0n || q[1] === 0n) return INF;
  const p = c.p;
  const [x, y, z] = q;
  const delta = (z * z) % p; // dbl-2001-b (a = -3)
  const gamma = (y * y) % p;
  const beta = (x * gamma) % p;
  const alpha = (3n * (x - delta) * (x + delta)) % p;
  const x3 = (((alpha * alpha - 8n * beta) % p) + p) % p;
  const z3 = ((((y + z) * (y + z) - gamma - delta) % p) + p) % p;
  const y3 = (((alpha * (4n * beta - x3) - 8n * gamma * gamma) % p) + p) % p;
  return [x3, y3, z3];
}

function add(c: Curve, a: J, b: J): J {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const p = c.p;
  const z1z1 = (a[2] * a[2]) % p; // add-2007-bl
  const z2z2 = (b[2] * b[2]) % p;
  const u1 = (a[0] * z2z2) % p;
  const u2 = (b[0] * z1z1) % p;
  const s1 = (a[1] * b[2] * z2z2) % p;
  const s2 = (b[1] * a[2] * z1z1) % p;
  const h = (u2 - u1 + p) % p;
  const r = (2n * (s2 - s1 + p)) % p;
  if (h === 0n) return r === 0n ? dbl(c, a) : INF;
  const i = (4n * h * h) % p;
  const j = (h * i) % p;
  const v = (u1 * i) % p;
  const x3 = (((r * r - j - 2n * v) % p) + p) % p;
  const y3 = (((r * (v - x3) - 2n * s1 * j) % p) + p) % p;
  const z3 = (((((a[2] + b[2]) * (a[2] + b[2]) - z1z1 - z2z2) % p) + p) % p * h) % p;
  return [x3, y3, z3];
}

/** u1·G + u2·Q (Shamir's trick), as affine x, or undefined for the point at infinity. */
function mul2X(c: Curve, u1: bigint, u2: bigint, qx: bigint, qy: bigint): bigint | undefined {
  const nBits = c.n.toString(2).length;
  const g: J = [c.gx, c.gy, 1n];
  const q: J = [qx, qy, 1n];
  const gq = add(c, g, q);
  let acc: J = INF;
  for (let i = nBits - 1; i >= 0; i--) {
    acc = dbl(c, acc);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) acc = add(c, acc, gq);
    else if (b1) acc = add(c, acc, g);
    else if (b2) acc = add(c, acc, q);
  }
  if (acc[2] === 0n) return undefined;
  const zi = modInv(acc[2], c.p);
  return (acc[0] * zi * zi) % c.p;
}

/** Whether `sig` (r, s big-endian) is a valid ECDSA signature of `digest` by the SEC1 point. */
export function ecdsaVerifyDigest(curve: EcdsaCurve, publicKey: Uint8Array, digest: Uint8Array, rb: Uint8Array, sb: Uint8Array): boolean {
  const c = CURVES[curve];
  if (!c || publicKey.length !== 1 + 2 * c.bytes || publicKey[0] !== 0x04) return false;
  const qx = bigFromBE(publicKey.subarray(1, 1 + c.bytes));
  const qy = bigFromBE(publicKey.subarray(1 + c.bytes));
  if (qx >= c.p || qy >= c.p) return false;
  if ((((qy * qy - (qx * qx * qx - 3n * qx + c.b)) % c.p) + c.p) % c.p !== 0n) return false;
  const r = bigFromBE(rb);
  const s = bigFromBE(sb);
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const nBits = c.n.toString(2).length;
  let e = bigFromBE(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  const w = modInv(s, c.n);
  const x = mul2X(c, (e * w) % c.n, (r * w) % c.n, qx, qy);
  return x !== undefined && x % c.n === r;
}

/**
 * What Moddable's `ecdsa` verify computes (modules/crypt/etc/ecdsa.js `_verify`, with the natives
 * of modular.c / ec.c), for host-sim's XS shim and the test fakes: NO range check of r and s,
 * e = the whole digest (no truncation), s inverted mod n (so s >= n acts as s mod n), and the
 * affine x of u1·G + u2·Q compared with r itself (not reduced mod n). The point is not checked.
 * s = 0 makes the SDK's binary modular inverse loop forever (xsBigIntEx.c
 * fxBigInt_mod_mulinv_general): that throws here. Another s ≡ 0 (mod n) has no inverse: false.
 */
export function moddableEcdsaVerify(curve: EcdsaCurve, qx: bigint, qy: bigint, e: bigint, r: bigint, s: bigint): boolean {
  const c = CURVES[curve];
  if (!c) throw new Error(`no curve ${curve}`);
  if (s === 0n) throw new Error("ecdsa: verify with s = 0 never returns on the device (the native modular inverse of 0 loops)");
  if (s % c.n === 0n) return false;
  const w = modInv(s, c.n);
  const x = mul2X(c, (e * w) % c.n, (r * w) % c.n, qx, qy);
  return x !== undefined && x === r;
}

/** Moddable's curve names (modules/crypt/etc/curve.js) and the parameters curve.js holds. */
const MODDABLE_CURVE_NAMES: Readonly<Record<string, EcdsaCurve>> = { secp256r1: "p256", secp384r1: "p384" };

/** The parameters of a Moddable curve name, or undefined for a name curve.js does not know. */
export function moddableCurve(name: string): { id: EcdsaCurve; a: bigint; b: bigint; m: bigint; n: bigint; gx: bigint; gy: bigint } | undefined {
  const id = Object.prototype.hasOwnProperty.call(MODDABLE_CURVE_NAMES, name) ? MODDABLE_CURVE_NAMES[name] : undefined;
  if (!id) return undefined;
  const c = CURVES[id];
  return { id, a: c.p - 3n, b: c.b, m: c.p, n: c.n, gx: c.gx, gy: c.gy };
}
