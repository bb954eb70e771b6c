// The host side of host-sim/xs/shims/public-key.js: what Moddable's `curve`, `ecdsa` and `rsa`
// modules compute natively (ec.c, modular.c), with the SDK's semantics (no range checks; see
// host-sim/ecdsa-verify.ts moddableEcdsaVerify). BigInts travel as hex strings in JSON.

import { modPow } from "../../src/crypto/bigint.ts";
import type { EcdsaCurve } from "../../src/ports.ts";
import { moddableCurve, moddableEcdsaVerify } from "../ecdsa-verify.ts";

const big = (hex: unknown): bigint => {
  if (typeof hex !== "string" || !/^[0-9a-f]+$/.test(hex)) throw new TypeError("not a BigInt");
  return BigInt(`0x${hex}`);
};

/** OP.EC_CURVE: the parameters of `new Curve(name)`, or null when curve.js does not know it. */
export function curveParams(name: string): Record<string, string> | null {
  const c = moddableCurve(name);
  if (!c) return null;
  const hex = (v: bigint): string => v.toString(16);
  return { id: c.id, a: hex(c.a), b: hex(c.b), m: hex(c.m), n: hex(c.n), gx: hex(c.gx), gy: hex(c.gy) };
}

/** OP.ECDSA_VERIFY: ECDSA.prototype.verify of the SDK. */
export function ecdsaVerify(request: { curve: EcdsaCurve; x: string; y: string; e: string; r: string; s: string }): boolean {
  return moddableEcdsaVerify(request.curve, big(request.x), big(request.y), big(request.e), big(request.r), big(request.s));
}

/** OP.RSA_PROCESS: RSA.prototype.process of the SDK (c^e mod m; c >= m acts as c mod m). */
export function rsaProcess(request: { e: string; m: string; c: string }): string {
  const m = big(request.m);
  if (m === 0n) throw new RangeError("RSA: modulus 0");
  return modPow(big(request.c), big(request.e), m).toString(16);
}
