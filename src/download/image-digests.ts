// The three digests the cloud gives for an image (MD5, CRC-32, SHA-256), computed together
// through the platform's native digests as bytes stream past.
//
// CRC-32 is skipped on a platform that can only compute it in JavaScript (DigestPort.scripted,
// Moddable: no CRC-32 module) while its SHA-256 is native: a SHA-256 match over the same bytes
// already proves what the CRC-32 would, and a table-driven CRC-32 costs XS about 31 meter units
// per byte, six times the rest of the runtime's JS work per byte of an update (bench/xs.ts).

import type { Digest, DigestPort } from "../ports.ts";
import { toHex } from "../util/bytes.ts";

export interface DigestSet {
  md5: string;
  /** Absent when the CRC-32 was not computed (see above). */
  crc32?: string;
  sha256: string;
}

export class ImageDigests {
  private md5: Digest;
  private crc: Digest | undefined;
  private sha: Digest;

  constructor(port: DigestPort) {
    const scripted = port.scripted ?? [];
    this.md5 = port.create("md5");
    this.crc = scripted.includes("crc32") && !scripted.includes("sha256") ? undefined : port.create("crc32");
    this.sha = port.create("sha256");
  }

  /** Whether the CRC-32 is computed (and so checked). */
  get checksCrc32(): boolean {
    return this.crc !== undefined;
  }

  update(data: Uint8Array): void {
    this.md5.update(data);
    this.crc?.update(data);
    this.sha.update(data);
  }

  /** Returns the digests and starts over. */
  finish(): DigestSet {
    const set: DigestSet = { md5: toHex(this.md5.finish()), sha256: toHex(this.sha.finish()) };
    if (this.crc) set.crc32 = toHex(this.crc.finish());
    return set;
  }

  reset(): void {
    this.finish();
  }
}

/** The first computed digest that disagrees, as a reason, or undefined when all match. */
export function digestMismatch(expected: DigestSet, got: DigestSet): string | undefined {
  for (const k of ["md5", "crc32", "sha256"] as const) {
    if (got[k] === undefined) continue;
    if (expected[k] !== got[k]) return `${k} mismatch: expected ${expected[k]}, image has ${got[k]}`;
  }
  return undefined;
}
