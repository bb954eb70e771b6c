// Signs an ESP app image the way `espsecure sign-data --version 2` does with an ECDSA P-256 key
// (shared/reference/signatures.md §2.1, §2.2, §2.4, §2.5, §2.6), with node:crypto only: the image
// padded with 0xFF to 4 KiB, then a 4096-byte sector holding one version-3 block (SHA-256 of the
// padded image, curve id 2, X and Y little-endian, r and s little-endian, CRC-32 of bytes
// [0, 1196) stored LE at 1196, 16 zero bytes) and 0xFF after it.

import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { crc32 } from "node:zlib";

const ALIGN = 0x1000;
const SECTOR = 4096;
const BLOCK = 1216;
const OFF_DIGEST = 4;
const OFF_CURVE = 36;
const OFF_X = 37;
const OFF_Y = 69;
const OFF_R = 101;
const OFF_S = 133;
const OFF_CRC = 1196;

export interface P256Key {
  privateKey: KeyObject;
  /** X and Y, big-endian, 32 bytes each. */
  x: Uint8Array;
  y: Uint8Array;
}

export function p256Key(): P256Key {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jwk = publicKey.export({ format: "jwk" });
  return { privateKey, x: new Uint8Array(Buffer.from(jwk.x!, "base64url")), y: new Uint8Array(Buffer.from(jwk.y!, "base64url")) };
}

const le = (be: Uint8Array): Uint8Array => be.slice().reverse();

/** The eFuse digest of the key: SHA-256 of curve id ‖ X_le ‖ Y_le (§2.6), hex. */
export function p256KeyDigest(key: P256Key): string {
  return createHash("sha256").update(Uint8Array.of(2)).update(le(key.x)).update(le(key.y)).digest("hex");
}

/** The image, its 0xFF padding to 4 KiB, and the signature sector signed with `key`. */
export function signSbv2P256(image: Uint8Array, key: P256Key): Uint8Array {
  const signedLength = Math.ceil(image.length / ALIGN) * ALIGN;
  const out = new Uint8Array(signedLength + SECTOR).fill(0xff);
  out.set(image);
  const signed = out.subarray(0, signedLength);
  const block = new Uint8Array(BLOCK);
  block[0] = 0xe7;
  block[1] = 0x03;
  block.set(createHash("sha256").update(signed).digest(), OFF_DIGEST);
  block[OFF_CURVE] = 2;
  block.set(le(key.x), OFF_X);
  block.set(le(key.y), OFF_Y);
  const rs = sign("sha256", signed, { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  block.set(le(rs.subarray(0, 32)), OFF_R);
  block.set(le(rs.subarray(32, 64)), OFF_S);
  new DataView(block.buffer).setUint32(OFF_CRC, crc32(block.subarray(0, OFF_CRC)), true);
  out.set(block, signedLength);
  return out;
}
