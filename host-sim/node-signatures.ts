// SignaturePort for Node (host-sim, tests), standing in for Moddable's native `rsa` and `ecdsa`
// modules as node-digests.ts does for `crypt`: the raw RSA public operation and SHA-384/512 from
// node:crypto; ECDSA over a given digest from ecdsa-verify.ts (node:crypto has no prehashed
// ECDSA verify).

import { constants, createPublicKey, publicDecrypt } from "node:crypto";
import type { Digest, SignaturePort, WideDigestAlgorithm } from "../src/ports.ts";
import { ecdsaVerifyDigest } from "./ecdsa-verify.ts";
import { HashDigest } from "./node-digests.ts";

const b64url = (b: Uint8Array): string => Buffer.from(b).toString("base64url");

function compareBE(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** s^e mod n through OpenSSL's RSA public decrypt without padding (RSAVP1). */
function rsaPublic(modulus: Uint8Array, exponent: number, signature: Uint8Array): Uint8Array {
  let first = 0;
  while (first < modulus.length - 1 && modulus[first] === 0) first++;
  const n = modulus.subarray(first);
  if (signature.length !== n.length || compareBE(signature, n) >= 0) throw new RangeError("RSA: signature representative out of range");
  const e = new Uint8Array(4);
  new DataView(e.buffer).setUint32(0, exponent >>> 0, false);
  let ef = 0;
  while (ef < 3 && e[ef] === 0) ef++;
  const key = createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e.subarray(ef)) }, format: "jwk" });
  return new Uint8Array(publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature));
}

/** The Node SignaturePort. */
export const nodeSignatures: SignaturePort = {
  ecdsaVerify: ecdsaVerifyDigest,
  rsaPublic,
  createDigest: (algorithm) => new HashDigest(algorithm),
};
