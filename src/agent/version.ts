// Versions are SemVer 2.0.0 (https://semver.org/spec/v2.0.0.html), exactly: MAJOR.MINOR.PATCH
// with optional -pre.release identifiers and +build metadata. No normalisation: no "v" prefix, no
// whitespace, no leading zeros, no missing parts; anything else is refused, so an offer's version
// and the image's esp_app_desc_t version are compared byte for byte. Ordering follows the spec
// (section 11): numbers numerically, a pre-release is lower than its release, pre-release
// identifiers one by one (numeric below alphanumeric, ASCII order, more identifiers higher);
// build metadata is ignored. Parsed by hand: no RegExp (portable ECMAScript, cheap on XS).
// A version that is not SemVer is refused with OtaError(-1, update failed).

import { ErrorCode, OtaError } from "../errors.ts";

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers: numbers for numeric ones. */
  pre: (number | string)[];
  build: string[];
}

/** An identifier character: [0-9A-Za-z-]. */
function identChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d;
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return s.length > 0;
}

/** Why `s` is not a numeric identifier (digits, no leading zero, a safe integer), or "". */
function numericProblem(s: string, what: string): string {
  if (!allDigits(s)) return `${what} ${JSON.stringify(s)} is not a number`;
  if (s.length > 1 && s.charCodeAt(0) === 0x30) return `${what} ${s} has a leading zero`;
  if (!Number.isSafeInteger(Number(s))) return `${what} ${s} is too large`;
  return "";
}

/** Why `v` is not a SemVer 2.0.0 version, or undefined when it is one. */
export function versionProblem(v: string): string | undefined {
  try {
    parseVersion(v);
    return undefined;
  } catch (e) {
    return e instanceof OtaError ? e.reason : String(e);
  }
}

/** Parses a SemVer 2.0.0 version. Throws OtaError(-1) with a reason naming the fault. */
export function parseVersion(v: string): SemVer {
  if (typeof v !== "string") throw new OtaError(ErrorCode.UpdateFailed, "version is not a string");
  if (v.length === 0) throw new OtaError(ErrorCode.UpdateFailed, "version is empty");
  const bad = (why: string): never => {
    throw new OtaError(ErrorCode.UpdateFailed, `version ${JSON.stringify(v)} is not SemVer 2.0 (MAJOR.MINOR.PATCH): ${why}`);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (!identChar(c) && c !== 0x2e && c !== 0x2b) bad(`character ${JSON.stringify(v[i])} at ${i}`);
  }
  const plus = v.indexOf("+");
  const withoutBuild = plus < 0 ? v : v.slice(0, plus);
  const dash = withoutBuild.indexOf("-");
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const parts = core.split(".");
  if (parts.length !== 3) bad(`${parts.length} dotted part${parts.length === 1 ? "" : "s"} in ${JSON.stringify(core)}, not 3`);
  const names = ["major", "minor", "patch"];
  const nums = parts.map((p, i) => {
    const problem = numericProblem(p, names[i]);
    if (problem) bad(problem);
    return Number(p);
  });
  const pre: (number | string)[] = [];
  if (dash >= 0) {
    for (const id of withoutBuild.slice(dash + 1).split(".")) {
      if (id.length === 0) bad("empty pre-release identifier");
      if (allDigits(id)) {
        const problem = numericProblem(id, "pre-release identifier");
        if (problem) bad(problem);
        pre.push(Number(id));
      } else {
        pre.push(id);
      }
    }
  }
  const build: string[] = [];
  if (plus >= 0) {
    for (const id of v.slice(plus + 1).split(".")) {
      if (id.length === 0 || id.indexOf("+") >= 0) bad("empty or malformed build identifier");
      build.push(id);
    }
  }
  return { major: nums[0], minor: nums[1], patch: nums[2], pre, build };
}

function sign(d: number): number {
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** -1, 0 or 1 as `a` has lower, equal or higher precedence than `b` (build metadata ignored).
 * Throws OtaError(-1) when either is not SemVer 2.0.0. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  const core = sign(x.major - y.major) || sign(x.minor - y.minor) || sign(x.patch - y.patch);
  if (core !== 0) return core;
  // A release is higher than its pre-releases.
  if (x.pre.length === 0 || y.pre.length === 0) return sign(y.pre.length - x.pre.length);
  for (let i = 0; i < x.pre.length && i < y.pre.length; i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === q) continue;
    if (typeof p === "number" && typeof q === "number") return sign(p - q);
    if (typeof p === "number") return -1;
    if (typeof q === "number") return 1;
    return p < q ? -1 : 1;
  }
  return sign(x.pre.length - y.pre.length);
}
