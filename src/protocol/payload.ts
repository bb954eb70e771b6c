// JSON payloads of the cloud dialects: bytes in and out of an MqttPort or HttpPort, bounded in
// size, with every failure turned into OtaError(-1) so a hostile payload can only be refused.

import { ErrorCode, OtaError } from "../errors.ts";
import { compareVersions } from "../agent/version.ts";
import type { CharClass } from "../util/char-class.ts";
import { charClass } from "../util/char-class.ts";
import { utf8Decode, utf8Encode } from "../util/utf8.ts";

/** Largest payload a dialect accepts: an upgrade message or a plan is a few hundred bytes. */
export const MAX_PAYLOAD = 16 * 1024;

export type Json = Record<string, unknown>;

/** Throws the dialect's error: OtaError(-1) with `what: reason`. */
export function refuse(what: string, reason: string): never {
  throw new OtaError(ErrorCode.UpdateFailed, `${what}: ${reason}`);
}

/** Parses a JSON object from bytes (or a string), refusing oversize, malformed or non-object
 * payloads. */
export function decodeJson(payload: Uint8Array | string, what: string, max = MAX_PAYLOAD): Json {
  const length = payload.length;
  if (length > max) refuse(what, `payload of ${length} bytes is larger than ${max}`);
  const text = typeof payload === "string" ? payload : utf8Decode(payload);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    refuse(what, "payload is not JSON");
  }
  return record(value, what, "payload");
}

export function encodeJson(value: unknown): Uint8Array {
  return utf8Encode(JSON.stringify(value));
}

/** `value` as a plain object, or a refusal naming `field`. */
export function record(value: unknown, what: string, field: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) refuse(what, `${field} must be an object`);
  return value as Json;
}

export function text(o: Json, key: string, what: string, max = 128, pattern?: CharClass): string {
  const v = o[key];
  if (typeof v !== "string") refuse(what, `${key} must be a string`);
  if (v.length === 0 || v.length > max) refuse(what, `${key} must have 1..${max} characters`);
  if (pattern && !pattern.test(v)) refuse(what, `${key} ${JSON.stringify(v.slice(0, 40))} has characters outside ${pattern.source}`);
  return v;
}

export function optText(o: Json, key: string, what: string, max = 128, pattern?: CharClass): string | undefined {
  return o[key] === undefined ? undefined : text(o, key, what, max, pattern);
}

export function integer(o: Json, key: string, what: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v)) refuse(what, `${key} must be an integer`);
  if (v < min || v > max) refuse(what, `${key} ${v} out of range ${min}..${max}`);
  return v;
}

export function optInteger(o: Json, key: string, what: string, min: number, max: number): number | undefined {
  return o[key] === undefined ? undefined : integer(o, key, what, min, max);
}

/** Names that go into MQTT topics and JSON fields: no topic separators or wildcards. */
export const NAME = charClass("A-Za-z0-9_.:-");

/** Characters of a version string in a cloud message (checked for order by orderableVersion). */
export const VERSION_CHARS = charClass("A-Za-z0-9._+-");

/** A version the runtime can order (SemVer 2.0, src/agent/version.ts), or a refusal: the
 * agent's own comparison would otherwise fail later with a less useful error. */
export function orderableVersion(v: string, what: string, field = "version"): string {
  try {
    compareVersions(v, v);
  } catch {
    refuse(what, `${field} ${JSON.stringify(v.slice(0, 40))} is not a SemVer 2.0 version (MAJOR.MINOR.PATCH[-pre][+build])`);
  }
  return v;
}
