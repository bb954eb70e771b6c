// `xs-ota delta create` and `xs-ota delta apply`: patches between two files on the host, with the
// same code the device runs for applying (src/delta/ through apply-patch.ts). The esp_delta_ota
// header names the base's SHA-256 as esp_partition_get_sha256 gives it on the device: for an
// ESP-IDF app image with an appended hash, that hash (SHA-256 of every image byte but the last
// 32, shared/vectors/detools/README.md (b)); for anything else, SHA-256 of the whole file.

import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { checkEspImage } from "../../src/targets/esp-idf/esp-app-image.ts";
import { ESP_DELTA_MAGIC } from "../../src/delta/esp-delta-header.ts";
import { nodeDigests } from "../node-digests.ts";
import { createPatch, type PatchCompression } from "./create-patch.ts";
import { applyPatch } from "./apply-patch.ts";
import { prepareOutputFile, requireFile } from "../output-path.ts";

/** The base digest an esp_delta_ota header names for this image. */
export function espBaseSha256(image: Uint8Array): Uint8Array {
  try {
    const info = checkEspImage((at, n) => image.subarray(at, at + n), image.length, nodeDigests);
    if (info.hashAppended) return image.slice(info.length - 32, info.length);
    return new Uint8Array(createHash("sha256").update(image.subarray(0, info.length)).digest());
  } catch {
    return new Uint8Array(createHash("sha256").update(image).digest());
  }
}

export interface DeltaCreateOptions {
  output: string;
  compression?: PatchCompression;
  espHeader?: boolean;
}

/** Writes the patch; returns one line for the user. */
export function deltaCreateCommand(oldPath: string, newPath: string, o: DeltaCreateOptions): string {
  requireFile(oldPath, "OLD");
  requireFile(newPath, "NEW");
  const from = new Uint8Array(fs.readFileSync(oldPath));
  const to = new Uint8Array(fs.readFileSync(newPath));
  const patch = createPatch(from, to, { compression: o.compression ?? "heatshrink", espBaseSha256: o.espHeader ? espBaseSha256(from) : undefined });
  prepareOutputFile(o.output, "-o");
  fs.writeFileSync(o.output, patch);
  const share = to.length ? ((100 * patch.length) / to.length).toFixed(1) : "0";
  return `${o.output}: ${patch.length} bytes (${share}% of the ${to.length}-byte target), ${o.compression ?? "heatshrink"}${o.espHeader ? ", esp_delta_ota header" : ""}`;
}

/** Applies the patch and writes the target; throws OtaError (-3) with the reason when the patch
 * or the base does not fit. */
export function deltaApplyCommand(oldPath: string, patchPath: string, output: string): string {
  requireFile(oldPath, "OLD");
  requireFile(patchPath, "PATCH");
  const from = new Uint8Array(fs.readFileSync(oldPath));
  const patch = new Uint8Array(fs.readFileSync(patchPath));
  const espHeader = patch.length >= 4 && (patch[0] | (patch[1] << 8) | (patch[2] << 16) | (patch[3] << 24)) >>> 0 === ESP_DELTA_MAGIC;
  const to = applyPatch(from, patch, espHeader ? { espHeader, baseSha256: espBaseSha256(from) } : {});
  prepareOutputFile(output, "-o");
  fs.writeFileSync(output, to);
  return `${output}: ${to.length} bytes from a ${patch.length}-byte patch${espHeader ? " (esp_delta_ota header, base SHA-256 checked)" : ""}`;
}

