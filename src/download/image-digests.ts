// The three digests the cloud gives for an image (MD5, CRC-32, SHA-256), computed together
// through the platform's native digests as bytes stream past.

import type { Digest, DigestPort } from "../ports.ts";
import { toHex } from "../util/bytes.ts";

export interface DigestSet {
  md5: string;
  crc32: string;
  sha256: string;
}

export class ImageDigests {
  private md5: Digest;
  private crc: Digest;
  private sha: Digest;

  constructor(port: DigestPort) {
    this.md5 = port.create("md5");
    this.crc = port.create("crc32");
    this.sha = port.create("sha256");
  }

  update(data: Uint8Array): void {
    this.md5.update(data);
    this.crc.update(data);
    this.sha.update(data);
  }

  /** Returns the digests and starts over. */
  finish(): DigestSet {
    return { md5: toHex(this.md5.finish()), crc32: toHex(this.crc.finish()), sha256: toHex(this.sha.finish()) };
  }

  reset(): void {
    this.finish();
  }
}

/** The first digest that disagrees, as a reason, or undefined when all three match. */
export function digestMismatch(expected: DigestSet, got: DigestSet): string | undefined {
  for (const k of ["md5", "crc32", "sha256"] as const) {
    if (expected[k] !== got[k]) return `${k} mismatch: expected ${expected[k]}, image has ${got[k]}`;
  }
  return undefined;
}
