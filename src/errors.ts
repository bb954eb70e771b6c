// Error values of the runtime. The codes are the ones IoT OTA platforms report on their
// progress topics (Alibaba "step", QuecThing result codes), so they stay visible at the edge.

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

/** An error with a platform-visible code and a human reason. */
export class OtaError extends Error {
  // A field, not an assignment: XS freezes Error.prototype, where assigning `name` throws.
  override readonly name = "OtaError";
  readonly code: ErrorCodeValue;
  readonly reason: string;
  constructor(code: ErrorCodeValue, reason: string) {
    super(`${code}: ${reason}`);
    this.code = code;
    this.reason = reason;
  }
}

export function isOtaError(e: unknown): e is OtaError {
  return e instanceof OtaError;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
