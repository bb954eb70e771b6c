// Error values of the runtime. The codes are the ones IoT OTA platforms report on their
// progress topics (Alibaba "step", QuecThing result codes), so they stay visible at the edge.
// Reasons often carry untrusted text (an image's version, a server's answer): every reason and
// every message errorMessage() returns goes through printable(), so none carries raw control
// characters or invalid text into logs or protocol reports.

import { printable } from "./util/printable.ts";

// Module-level constant objects are frozen throughout src/: the XS linker (xsl) keeps frozen
// ones in flash and warns "not frozen" for the rest, which it copies into RAM.
export const ErrorCode = Object.freeze({
  /** Update failed: policy, staging, self-test, anything not below. */
  UpdateFailed: -1,
  /** The image could not be downloaded. */
  DownloadFailed: -2,
  /** The image did not verify: digests, structure, signature, version. */
  VerifyFailed: -3,
  /** Flash could not be written, erased or read back. */
  FlashWriteFailed: -4,
} as const);

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a platform-visible code and a human reason (escaped with printable()). */
export class OtaError extends Error {
  // A field, not an assignment: XS freezes Error.prototype, where assigning `name` throws.
  override readonly name = "OtaError";
  readonly code: ErrorCodeValue;
  readonly reason: string;
  constructor(code: ErrorCodeValue, reason: string) {
    const safe = printable(reason);
    super(`${code}: ${safe}`);
    this.code = code;
    this.reason = safe;
  }
}

export function isOtaError(e: unknown): e is OtaError {
  return e instanceof OtaError;
}

/** The message of anything thrown, escaped with printable(). */
export function errorMessage(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error ? String(e.message) : String(e);
  } catch {
    text = "unprintable error";
  }
  return printable(text);
}
