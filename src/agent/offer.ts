// An update offer: what the cloud (or a local caller) asks the device to install. Every
// protocol dialect turns its payload into this shape, through parseOffer, so that validation
// happens in one place.

import { OtaError, ErrorCode } from "../errors.ts";

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
  /** Optional detached signature (base64), checked when the board has a key. */
  signature?: string;
  /** Minimum battery percent, minimum RSSI (dBm), required free bytes. */
  minBattery?: number;
  minSignal?: number;
  requiredSpace?: number;
}

const MAX_SIZE = 0x4000000; // 64 MiB: larger than any flash these parts address
const HEX = /^[0-9a-f]*$/;

function fail(reason: string): never {
  throw new OtaError(ErrorCode.UpdateFailed, `bad offer: ${reason}`);
}

function str(o: Record<string, unknown>, key: string, max = 512): string {
  const v = o[key];
  if (typeof v !== "string") fail(`${key} must be a string`);
  if (v.length === 0 || v.length > max) fail(`${key} must have 1..${max} characters`);
  return v;
}

function hex(o: Record<string, unknown>, key: string, length: number): string {
  const v = o[key];
  if (typeof v !== "string") fail(`missing digest ${key}`);
  const s = v.toLowerCase();
  if (s.length !== length || !HEX.test(s)) fail(`${key} must be ${length} hex digits`);
  return s;
}

function optNumber(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(`${key} must be a number`);
  return v;
}

/** URL marker of an image the application pushes itself (local upgrade over UART/BLE). */
export const LOCAL_URL = "local:";
const LOCAL_URL_RE = /^local:[A-Za-z0-9._-]{0,64}$/;

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

/** Validates an untrusted object and returns a clean Offer, or throws OtaError(-1). */
export function parseOffer(input: unknown, options: ParseOfferOptions = {}): Offer {
  if (typeof input !== "object" || input === null || Array.isArray(input)) fail("not an object");
  const o = input as Record<string, unknown>;
  const component = o.component === undefined ? "app" : str(o, "component", 32);
  const version = str(o, "version", 31);
  let url: string;
  if (options.local) {
    url = o.url === undefined ? LOCAL_URL : str(o, "url", 70);
    if (!LOCAL_URL_RE.test(url)) fail(`a local offer's url must be local: plus an optional name, got ${JSON.stringify(url.slice(0, 40))}`);
  } else {
    url = str(o, "url", 400);
    if (!/^https?:\/\/[^\s]+$/.test(url)) fail(`url must be http:// or https://, got ${JSON.stringify(url.slice(0, 40))}`);
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
  if (o.signature !== undefined) offer.signature = str(o, "signature", 1024);
  const minBattery = optNumber(o, "minBattery");
  const minSignal = optNumber(o, "minSignal");
  const requiredSpace = optNumber(o, "requiredSpace");
  if (minBattery !== undefined) offer.minBattery = minBattery;
  if (minSignal !== undefined) offer.minSignal = minSignal;
  if (requiredSpace !== undefined) offer.requiredSpace = requiredSpace;
  return offer;
}
