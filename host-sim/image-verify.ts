// `xs-ota image verify`: checks an image file with the src/ code the device runs. ESP app images:
// checkEspImage (segments, checksum, appended SHA-256) then the Secure Boot V2 sector
// (src/targets/esp-idf/sbv2-signature.ts); MCUboot images: verifyMcubootImage
// (src/targets/mcuboot/verify-image.ts). The format is detected by magic (ESP 0xE9 in byte 0,
// MCUboot 0x96f3b83d little-endian in bytes 0..3) unless --format names it.
//
// Verdict: valid = the structure and the hash are good and
// - with no key given: every signature present verifies over the image (ESP: with the public key
//   its block carries; MCUboot signatures cannot be checked without the key and are reported with
//   ok=false, not counted against the image);
// - with keys (--key, ESP also --key-digest): at least one signature by a trusted key verifies,
//   as the device decides (ESP: the first trusted block that verifies, as esp_ota_end with
//   secure boot; MCUboot: bootutil's KEYHASH-selected key).
// --min-security-counter N also needs the image's counter >= N (ESP: esp_app_desc secure_version;
// MCUboot: the protected SEC_CNT TLV).

import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseSpki, type PublicKey } from "../src/crypto/public-key.ts";
import { OtaError } from "../src/errors.ts";
import { ESP_IMAGE_MAGIC, checkEspImage, type EspImageInfo } from "../src/targets/esp-idf/esp-app-image.ts";
import {
  SBV2_MAGIC,
  SBV2_SECTOR_SIZE,
  parseSignatureSector,
  sbv2KeyDigest,
  sbv2SignedLength,
  verifySbv2Image,
} from "../src/targets/esp-idf/sbv2-signature.ts";
import { IMAGE_MAGIC } from "../src/targets/mcuboot/image-header.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { fromHex, isHex, readU32LE, toHex } from "../src/util/bytes.ts";
import { nodeDigests } from "./node-digests.ts";
import { nodeSignatures } from "./node-signatures.ts";

export type ImageFormatChoice = "auto" | "esp" | "mcuboot";
export const IMAGE_FORMATS: readonly ImageFormatChoice[] = Object.freeze(["auto", "esp", "mcuboot"]);

/** A problem with the command line (exit 2), not with the image (exit 1). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ImageVerifyOptions {
  format?: ImageFormatChoice;
  /** Trusted public keys. */
  keys?: readonly { name: string; key: PublicKey }[];
  /** Trusted SBv2 key digests (the eFuse values); ESP only. */
  keyDigests?: readonly Uint8Array[];
  minSecurityCounter?: number;
}

export interface SignatureReport {
  /** ESP: the block's index in the sector; MCUboot: the signature TLV's rank. */
  index: number;
  algorithm: string | null;
  /** ESP: SHA-256 of the block's key fields (eFuse digest); MCUboot: the KEYHASH TLV. */
  keyDigest: string | null;
  /** Verifies over this image (ESP: with the key in its block; MCUboot: with the trusted key its KEYHASH selects). */
  ok: boolean;
  /** Its key is one given with --key or --key-digest. */
  trusted: boolean;
  reason?: string;
}

export interface ImageVerifyReport {
  valid: boolean;
  format: "esp" | "mcuboot" | "unknown";
  version: string | null;
  securityCounter: number | null;
  signatures: SignatureReport[];
  errors: string[];
}

/** A public key from a file: PEM public or private key (the public part is derived), or DER
 * SubjectPublicKeyInfo. Throws UsageError naming the file. */
export function readKeyFile(file: string): PublicKey {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new UsageError(`--key ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const pem = data.subarray(0, 64).toString("latin1").includes("-----BEGIN");
    const key = createPublicKey(pem ? data.toString("utf8") : { key: data, format: "der", type: "spki" });
    return parseSpki(new Uint8Array(key.export({ type: "spki", format: "der" })));
  } catch (e) {
    throw new UsageError(`--key ${file}: not a public or private key (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** A --key-digest value: 64 hex digits (a 32-byte eFuse key digest). */
export function parseKeyDigest(text: string): Uint8Array {
  if (text.length !== 64 || !isHex(text)) throw new UsageError(`--key-digest wants 64 hex digits (32 bytes), got ${JSON.stringify(text)}`);
  return fromHex(text);
}

function detect(bytes: Uint8Array): "esp" | "mcuboot" | undefined {
  if (bytes.length >= 4 && readU32LE(bytes, 0) === IMAGE_MAGIC) return "mcuboot";
  if (bytes.length >= 1 && bytes[0] === ESP_IMAGE_MAGIC) return "esp";
  return undefined;
}

/** Verifies an image held in memory (a file's bytes, stored from offset 0). */
export function verifyImage(bytes: Uint8Array, options: ImageVerifyOptions = {}): ImageVerifyReport {
  const choice = options.format ?? "auto";
  const format = choice === "auto" ? detect(bytes) : choice;
  if (!format) {
    const first = toHex(bytes.subarray(0, 4)) || "(empty file)";
    return {
      valid: false, format: "unknown", version: null, securityCounter: null, signatures: [],
      errors: [`unknown image format: starts with ${first}, neither an ESP app image (0xe9) nor an MCUboot image (magic 0x96f3b83d)`],
    };
  }
  return format === "esp" ? verifyEsp(bytes, options) : verifyMcuboot(bytes, options);
}

function verifyEsp(bytes: Uint8Array, o: ImageVerifyOptions): ImageVerifyReport {
  const report: ImageVerifyReport = { valid: false, format: "esp", version: null, securityCounter: null, signatures: [], errors: [] };
  const trusted = [...(o.keyDigests ?? [])];
  for (const { name, key } of o.keys ?? []) {
    try {
      trusted.push(sbv2KeyDigest(key, nodeDigests));
    } catch (e) {
      if (!(e instanceof OtaError)) throw e;
      throw new UsageError(`--key ${name}: ${e.reason}`);
    }
  }
  const trustedHex = new Set(trusted.map(toHex));
  const read = (offset: number, length: number) => bytes.subarray(offset, offset + length);
  let info: EspImageInfo;
  try {
    info = checkEspImage(read, bytes.length, nodeDigests);
  } catch (e) {
    if (!(e instanceof OtaError)) throw e;
    report.errors.push(e.reason);
    return report;
  }
  report.version = info.appDesc.version;
  report.securityCounter = info.appDesc.secureVersion;

  // The blocks present (magic 0xE7), each checked with its own key: checkAll reports every one.
  const signedLength = sbv2SignedLength(info.length);
  const hasSector = bytes.length >= signedLength + SBV2_SECTOR_SIZE && bytes[signedLength] === SBV2_MAGIC;
  if (hasSector) {
    const blocks = parseSignatureSector(read(signedLength, SBV2_SECTOR_SIZE), nodeDigests).filter((b) => b.bytes[0] === SBV2_MAGIC);
    const own = blocks.flatMap((b) => (b.keyDigest ? [b.keyDigest] : []));
    const each = verifySbv2Image(read, bytes.length, info.length, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: own, checkAll: true });
    for (const b of blocks) {
      const s = each.signatures[b.index];
      const sig: SignatureReport = {
        index: b.index, algorithm: s.algorithm ?? null, keyDigest: s.keyDigest ?? null, ok: s.ok,
        trusted: s.keyDigest !== undefined && trustedHex.has(s.keyDigest),
      };
      if (!s.ok) sig.reason = s.reason ?? "not checked";
      report.signatures.push(sig);
    }
  }
  if (trusted.length > 0) {
    // The device's decision, with the given keys as the eFuse digests.
    const device = verifySbv2Image(read, bytes.length, info.length, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: trusted });
    if (!device.valid) report.errors.push(...device.errors.map((e) => `Secure Boot V2: ${e}`));
  } else {
    for (const s of report.signatures) if (!s.ok) report.errors.push(`Secure Boot V2 block ${s.index}: ${s.reason}`);
  }
  if (o.minSecurityCounter !== undefined && info.appDesc.secureVersion < o.minSecurityCounter) {
    report.errors.push(`secure_version ${info.appDesc.secureVersion} is below ${o.minSecurityCounter}`);
  }
  report.valid = report.errors.length === 0;
  return report;
}

function verifyMcuboot(bytes: Uint8Array, o: ImageVerifyOptions): ImageVerifyReport {
  if (o.keyDigests?.length) {
    throw new UsageError("--key-digest is the ESP eFuse key digest; an MCUboot image does not carry its key: give the public key with --key");
  }
  const keys = o.keys ?? [];
  const read = (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const r = verifyMcubootImage(read, bytes.length, {
    digests: nodeDigests, signatures: nodeSignatures, keys: keys.map((k) => k.key), minSecurityCounter: o.minSecurityCounter,
  });
  return {
    valid: r.valid,
    format: "mcuboot",
    version: r.version ?? null,
    securityCounter: r.securityCounter ?? null,
    signatures: r.signatures.map((s, index) => {
      const sig: SignatureReport = { index, algorithm: s.algorithm, keyDigest: s.keyDigest ?? null, ok: s.ok, trusted: s.keyIndex >= 0 };
      if (!s.ok) sig.reason = keys.length === 0 ? "not checked: no --key given" : s.reason ?? "not checked";
      return sig;
    }),
    errors: r.errors,
  };
}

/** The report as text lines, for the terminal. */
export function formatImageVerify(file: string, r: ImageVerifyReport): string {
  const lines = [`${file}: ${r.valid ? "valid" : "INVALID"} ${r.format === "esp" ? "ESP app image" : r.format === "mcuboot" ? "MCUboot image" : "file (unknown format)"}`];
  if (r.version !== null) lines.push(`  version ${r.version}`);
  if (r.securityCounter !== null) lines.push(`  security counter ${r.securityCounter}${r.format === "esp" ? " (secure_version)" : " (SEC_CNT)"}`);
  if (r.format !== "unknown" && r.signatures.length === 0) lines.push("  no signature");
  for (const s of r.signatures) {
    const status = s.ok ? "verifies" : s.reason?.startsWith("not checked") ? s.reason : `does not verify: ${s.reason}`;
    const what = `${status}${s.trusted ? ", trusted key" : ""}`;
    lines.push(`  signature ${s.index}: ${s.algorithm ?? "unknown algorithm"}, key digest ${s.keyDigest ?? "none"}: ${what}`);
  }
  for (const e of r.errors) lines.push(`  error: ${e}`);
  return lines.join("\n");
}
