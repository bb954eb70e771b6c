// An update offer: what the cloud (or a local caller) asks the device to install. Every
// protocol dialect turns its payload into this shape, through parseOffer, so that validation
// happens in one place. parseOffer reads each field of the input once into a snapshot of plain
// data, and anything that goes wrong while it reads or checks (a throwing getter, a proxy) is
// -1: a refused offer, never a flash or download error.
// No RegExp here: XS pays for every RegExp object, and one created at module load in a
// preloaded module crashed a Moddable release build (issue 9 §6). Fields are checked by hand.

import { OtaError, ErrorCode, errorMessage } from "../errors.ts";
import { isHex } from "../util/bytes.ts";
import { httpUrlProblem } from "../util/http-url.ts";

export interface Offer {
  /** Component name: "app" for the main firmware; other names address data partitions. */
  component: string;
  /** Version the device should run after the update. */
  version: string;
  /** http:// or https:// URL of the image; `local:` (optionally followed by a name) for an image
   * the application pushes itself (UART, BLE: see parseOffer's `local` option). */
  url: string;
  /** Image size in bytes. */
  size: number;
  /** Lower-case hex digests of the whole image. */
  md5: string;
  /** CRC-32 (IEEE) as 8 lower-case hex digits. */
  crc32: string;
  sha256: string;
  /** Minimum battery percent, minimum RSSI (dBm), required free bytes. */
  minBattery?: number;
  minSignal?: number;
  requiredSpace?: number;
  /** A delta package: `url` serves a detools sequential patch (optionally behind esp_delta_ota's
   * 64-byte header) that turns the running image `baseVersion` into the image the other fields
   * describe (size, digests: those of the produced image). See src/agent/delta-intake.ts. */
  delta?: DeltaOffer;
}

export interface DeltaOffer {
  /** The version the patch applies to: a device running another version refuses the offer. */
  baseVersion: string;
  /** SHA-256 of the base image as esp_partition_get_sha256 gives it (ESP-IDF image with an
   * appended hash: that hash), lower-case hex; when present the device checks it first. */
  baseSha256?: string;
  /** Patch bytes (what is downloaded). */
  size: number;
}

const MAX_SIZE = 0x4000000; // 64 MiB: larger than any flash these parts address
/** The fields parseOffer reads; nothing else of the input is looked at. */
export const OFFER_FIELDS = Object.freeze(["component", "version", "url", "size", "md5", "crc32", "sha256", "signature", "minBattery", "minSignal", "requiredSpace", "delta"] as const);
type Snapshot = Partial<Record<(typeof OFFER_FIELDS)[number], unknown>>;

function fail(reason: string): never {
  throw new OtaError(ErrorCode.UpdateFailed, `bad offer: ${reason}`);
}

function str(o: Snapshot, key: keyof Snapshot, max = 512): string {
  const v = o[key];
  if (typeof v !== "string") fail(`${key} must be a string`);
  if (v.length === 0 || v.length > max) fail(`${key} must have 1..${max} characters`);
  return v;
}

function hex(o: Snapshot, key: keyof Snapshot, length: number): string {
  const v = o[key];
  if (typeof v !== "string") fail(`missing digest ${key}`);
  const s = v.toLowerCase();
  if (s.length !== length || !isHex(s)) fail(`${key} must be ${length} hex digits`);
  return s;
}

function optNumber(o: Snapshot, key: keyof Snapshot): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(`${key} must be a number`);
  return v;
}

/** URL marker of an image the application pushes itself (local upgrade over UART/BLE). */
export const LOCAL_URL = "local:";
const MAX_LOCAL_NAME = 64;

/** `local:` plus 0..64 characters of [A-Za-z0-9._-]. */
function isLocalUrl(url: string): boolean {
  if (!url.startsWith(LOCAL_URL) || url.length > LOCAL_URL.length + MAX_LOCAL_NAME) return false;
  for (let i = LOCAL_URL.length; i < url.length; i++) {
    const c = url.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x5f || c === 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** Reads each field of an untrusted object once, as an own property: a getter runs at most once,
 * inherited fields are not seen. Throws whatever the object throws (a getter, a proxy trap). */
function snapshot<K extends string>(input: object, fields: readonly K[]): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  for (const key of fields) {
    const d = Object.getOwnPropertyDescriptor(input, key);
    if (d === undefined) continue;
    const v = "value" in d ? d.value : d.get === undefined ? undefined : d.get.call(input);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export interface ParseOfferOptions {
  /** Accept only a local offer: `url` must be absent (it becomes "local:") or `local:` plus an
   * optional name of [A-Za-z0-9._-]{0,64}. A local offer is refused when this is not set, so a
   * cloud can never make the agent wait for bytes that will not come. */
  local?: boolean;
}

/** True for an offer whose bytes the application pushes (no download). */
export function isLocalOffer(offer: Offer): boolean {
  return offer.url.startsWith(LOCAL_URL);
}

/** Validates an untrusted object and returns a clean Offer, or throws OtaError(-1): nothing
 * else escapes, whatever the input does while it is read. A `signature` field is refused:
 * signatures are not checked yet, and an offer that asks for one must not install unchecked. */
export function parseOffer(input: unknown, options: ParseOfferOptions = {}): Offer {
  try {
    return parseSnapshot(input, options);
  } catch (e) {
    if (e instanceof OtaError) throw e;
    fail(`the offer could not be read: ${errorMessage(e)}`);
  }
}

function parseSnapshot(input: unknown, options: ParseOfferOptions): Offer {
  if (typeof input !== "object" || input === null || Array.isArray(input)) fail("not an object");
  const o: Snapshot = snapshot(input, OFFER_FIELDS);
  if (o.signature !== undefined) fail("signatures are not supported yet; an offer with a signature field is refused rather than installed unchecked");
  const component = o.component === undefined ? "app" : str(o, "component", 32);
  const version = str(o, "version", 31);
  let url: string;
  if (options.local) {
    url = o.url === undefined ? LOCAL_URL : str(o, "url", 70);
    if (!isLocalUrl(url)) fail(`a local offer's url must be local: plus an optional name, got ${JSON.stringify(url.slice(0, 40))}`);
  } else {
    url = str(o, "url", 400);
    const problem = httpUrlProblem(url);
    if (problem !== undefined) fail(`url must be http(s)://host[:port][/path]: ${problem}; got ${JSON.stringify(url.slice(0, 60))}`);
  }
  const size = o.size;
  if (typeof size !== "number" || !Number.isInteger(size)) fail("size must be an integer");
  if (size <= 0 || size > MAX_SIZE) fail(`size ${size} out of range 1..${MAX_SIZE}`);
  const offer: Offer = {
    component,
    version,
    url,
    size,
    md5: hex(o, "md5", 32),
    crc32: hex(o, "crc32", 8),
    sha256: hex(o, "sha256", 64),
  };
  const minBattery = optNumber(o, "minBattery");
  const minSignal = optNumber(o, "minSignal");
  const requiredSpace = optNumber(o, "requiredSpace");
  if (minBattery !== undefined) offer.minBattery = minBattery;
  if (minSignal !== undefined) offer.minSignal = minSignal;
  if (requiredSpace !== undefined) offer.requiredSpace = requiredSpace;
  if (o.delta !== undefined) {
    if (options.local) fail("a local offer cannot be a delta");
    offer.delta = parseDelta(o.delta);
  }
  return offer;
}

const DELTA_FIELDS = Object.freeze(["baseVersion", "baseSha256", "size"] as const);

/** The `delta` object of an offer, read like the offer itself (own fields, each once). */
function parseDelta(input: unknown): DeltaOffer {
  if (typeof input !== "object" || input === null || Array.isArray(input)) fail("delta must be an object");
  const d = snapshot(input, DELTA_FIELDS);
  const baseVersion = d.baseVersion;
  if (typeof baseVersion !== "string" || baseVersion.length === 0 || baseVersion.length > 31) fail("delta.baseVersion must be a string of 1..31 characters");
  const size = d.size;
  if (typeof size !== "number" || !Number.isInteger(size) || size <= 0 || size > MAX_SIZE) fail(`delta.size must be an integer in 1..${MAX_SIZE}`);
  const delta: DeltaOffer = { baseVersion, size };
  if (d.baseSha256 !== undefined) {
    const h = d.baseSha256;
    if (typeof h !== "string" || h.length !== 64 || !isHex(h)) fail("delta.baseSha256 must be 64 hex digits");
    delta.baseSha256 = h.toLowerCase();
  }
  return delta;
}
