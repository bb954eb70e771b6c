// SignaturePort on Moddable's crypto modules (shared/reference/moddable-sdk.md §5, signatures.md
// §3; sources modules/crypt/etc/{ecdsa,curve,rsa}.js, modules/crypt/arith/{ecp,ec,modular}.js):
// - ECDSA P-256 / P-384: `ecdsa` verify over the digest, on the `curve` parameters with the
//   native big-number point arithmetic (ec.c). The SDK does NOT check that 1 <= r, s <= n-1
//   (s >= n acts as s mod n, so (r, s + n) verifies; s = 0 makes the native modular inverse loop
//   forever), does not truncate the digest to the order's length, and does not check the point:
//   all three are done here before the SDK is called.
// - raw RSA (RSAVP1): `rsa` process(c) = c^e mod m with the native modular exponentiation; it
//   reduces c >= m silently, so s < n is checked here. EMSA-PSS stays portable (src/crypto/rsa-pss.ts).
// - SHA-384 / SHA-512: `crypt` Digest.
// Ed25519 is not here: Moddable has none; src/crypto/ed25519.ts is portable TypeScript.
// The SDK objects are made on first use, not when the platform is built.

import Curve from "curve";
import ECDSA from "ecdsa";
import ECPoint from "ecp";
import RSA from "rsa";
import type { Digest, EcdsaCurve, SignaturePort, WideDigestAlgorithm } from "../../ports.ts";
import { bigFromBE, bigToBE } from "../../crypto/bigint.ts";
import { NativeDigest } from "./digests.ts";

/** Moddable's curve names (curve.js `curves`). */
const CURVE_NAMES: Readonly<Record<EcdsaCurve, "secp256r1" | "secp384r1">> = Object.freeze({ p256: "secp256r1", p384: "secp384r1" });

/** An unsigned big-endian integer from at most `size` significant bytes, else undefined. */
function unsignedOfSize(bytes: Uint8Array, size: number): bigint | undefined {
  let first = 0;
  while (first < bytes.length && bytes[first] === 0) first++;
  return bytes.length - first > size ? undefined : bigFromBE(bytes.subarray(first));
}

/** A copy of `bytes` in an ArrayBuffer of its own (the SDK reads whole ArrayBuffers). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

export class ModdableSignatures implements SignaturePort {
  readonly #curves: Partial<Record<EcdsaCurve, Curve>> = {};

  #curve(curve: EcdsaCurve): Curve | undefined {
    const name = CURVE_NAMES[curve];
    if (!name) return undefined;
    let c = this.#curves[curve];
    if (!c) {
      c = new Curve(name);
      if (typeof c.n !== "bigint") return undefined; // an SDK without this curve
      this.#curves[curve] = c;
    }
    return c;
  }

  ecdsaVerify(curve: EcdsaCurve, publicKey: Uint8Array, digest: Uint8Array, r: Uint8Array, s: Uint8Array): boolean {
    const c = this.#curve(curve);
    if (!c) return false;
    const size = c.orderSize;
    const n = c.n;
    // the public point: uncompressed SEC1, coordinates in the field, on the curve
    if (publicKey.length !== 1 + 2 * size || publicKey[0] !== 0x04) return false;
    const x = bigFromBE(publicKey.subarray(1, 1 + size));
    const y = bigFromBE(publicKey.subarray(1 + size));
    const { a, b, m: p } = c.ec;
    if (x >= p || y >= p || (y * y - (x * x * x + a * x + b)) % p !== 0n) return false;
    // 1 <= r, s <= n - 1 (FIPS 186-5 §6.4.2 step 1): the SDK does not check it
    const rv = unsignedOfSize(r, size);
    const sv = unsignedOfSize(s, size);
    if (rv === undefined || sv === undefined || rv < 1n || rv >= n || sv < 1n || sv >= n) return false;
    // e: the leftmost bits of the digest, as many as n has (both orders are whole bytes)
    const e = digest.length > size ? digest.subarray(0, size) : digest;
    const sig = new Uint8Array(2 * size);
    sig.set(bigToBE(rv, size), 0);
    sig.set(bigToBE(sv, size), size);
    try {
      return new ECDSA(new ECPoint(x, y), c).verify(ownBuffer(e), sig.buffer) === true;
    } catch {
      return false;
    }
  }

  rsaPublic(modulus: Uint8Array, exponent: number, signature: Uint8Array): Uint8Array {
    let first = 0;
    while (first < modulus.length - 1 && modulus[first] === 0) first++;
    const size = modulus.length - first;
    const m = bigFromBE(modulus.subarray(first));
    const c = bigFromBE(signature);
    if (m < 3n || (m & 1n) === 0n) throw new RangeError("RSA: the modulus is not odd");
    if (!Number.isSafeInteger(exponent) || exponent < 3 || exponent % 2 === 0) throw new RangeError("RSA: the exponent is not a small odd number");
    if (signature.length !== size || c >= m) throw new RangeError("RSA: signature representative out of range"); // RFC 8017 §5.2.2 step 1
    return bigToBE(new RSA(BigInt(exponent), m).process(c), size);
  }

  createDigest(algorithm: WideDigestAlgorithm): Digest | undefined {
    if (algorithm === "sha384") return new NativeDigest("SHA384");
    if (algorithm === "sha512") return new NativeDigest("SHA512");
    return undefined;
  }
}
