// DigestPort for Node (host-sim, tests): md5/sha256 from node:crypto, crc32 from node:zlib.
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { Digest, DigestAlgorithm, DigestPort } from "../src/ports.ts";

/** A node:crypto hash as a Digest that starts again after finish() (also SHA-384/512 for
 * node-signatures.ts). */
export class HashDigest implements Digest {
  private hash: Hash;
  constructor(private readonly algorithm: "md5" | "sha256" | "sha384" | "sha512") {
    this.hash = createHash(algorithm);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.hash.digest());
    this.hash = createHash(this.algorithm);
    return out;
  }
}

/** CRC-32 (zlib/IEEE); the result is 4 bytes big-endian, e.g. "123456789" -> cb f4 39 26. */
class Crc32Digest implements Digest {
  private crc = 0;
  update(data: Uint8Array): void {
    this.crc = crc32(data, this.crc);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.crc >>> 0, false);
    this.crc = 0;
    return out;
  }
}

export function createNodeDigest(algorithm: DigestAlgorithm): Digest {
  switch (algorithm) {
    case "md5":
    case "sha256":
      return new HashDigest(algorithm);
    case "crc32":
      return new Crc32Digest();
    default:
      throw new Error(`unsupported digest algorithm: ${String(algorithm)}`);
  }
}

/** The Node DigestPort. */
export const nodeDigests: DigestPort = { create: createNodeDigest };
