// ECDSA P-256 Secure Boot V2 signing for tests: a fresh key, its eFuse digest, and a signed image,
// all through host-sim/sbv2-sign.ts (the signer behind `xs-ota image build --sign`).

import { createHash, generateKeyPairSync } from "node:crypto";
import { loadSbv2SigningKey, sbv2SignImage, type Sbv2SigningKey } from "../../host-sim/sbv2-sign.ts";

export type P256Key = Sbv2SigningKey;

export function p256Key(): P256Key {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return loadSbv2SigningKey(privateKey.export({ format: "pem", type: "pkcs8" }) as string);
}

/** The eFuse digest of the key: SHA-256 of the block's key fields (signatures.md §2.6), hex. */
export function p256KeyDigest(key: P256Key): string {
  return createHash("sha256").update(key.fields.bytes).digest("hex");
}

/** The image, its 0xFF padding to 4 KiB, and the signature sector signed with `key`. */
export function signSbv2P256(image: Uint8Array, key: P256Key): Uint8Array {
  return sbv2SignImage(image, [key]).signed;
}
