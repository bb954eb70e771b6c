// DigestPort on `crypt` (moddable-sdk.md §5). MD5 and SHA-256 are native (new Digest("MD5" |
// "SHA256")). After close() a Digest must be reset() before reuse: write() on a finalised context
// does not throw, it silently gives wrong results. Moddable has no CRC-32 module (only CRC8/CRC16
// in "crc"), so CRC-32 is the portable table-driven one from src/util/crc32.ts, declared
// `scripted`: image digests skip it when the native SHA-256 covers the bytes (image-digests.ts).

import { Digest as CryptDigest } from "crypt";
import type { Digest, DigestAlgorithm, DigestPort } from "../../ports.ts";
import { crc32 } from "../../util/crc32.ts";

/** A `crypt` Digest as a DigestPort digest (also the SignaturePort's SHA-384/512, signatures.ts). */
export class NativeDigest implements Digest {
  readonly #digest: CryptDigest;

  constructor(name: "MD5" | "SHA256" | "SHA384" | "SHA512") {
    this.#digest = new CryptDigest(name);
    this.#digest.reset();
  }

  update(data: Uint8Array): void {
    if (data.byteLength) this.#digest.write(data);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#digest.close());
    this.#digest.reset();
    return out;
  }
}

class Crc32Digest implements Digest {
  #crc = 0;

  update(data: Uint8Array): void {
    this.#crc = crc32(data, this.#crc);
  }

  /** 4 bytes, big-endian (the usual hex order). */
  finish(): Uint8Array {
    const c = this.#crc >>> 0;
    this.#crc = 0;
    return Uint8Array.of(c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff);
  }
}

export class ModdableDigests implements DigestPort {
  readonly scripted: readonly DigestAlgorithm[] = ["crc32"];

  create(algorithm: DigestAlgorithm): Digest {
    switch (algorithm) {
      case "md5":
        return new NativeDigest("MD5");
      case "sha256":
        return new NativeDigest("SHA256");
      case "crc32":
        return new Crc32Digest();
      default:
        throw new Error(`unsupported digest ${String(algorithm)}`);
    }
  }
}
