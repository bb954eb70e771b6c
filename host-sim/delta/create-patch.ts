// Makes a detools sequential patch (bsdiff algorithm) from an old and a new image, as
// `detools create_patch --compression none|heatshrink` writes it (detools/create.py
// create_patch_sequential_data): the fixed header byte, the to-size, for heatshrink the
// parameter byte 0x44, then one compressed stream of the data-format size 0 and the chunks.
// Optionally behind esp_delta_ota's 64-byte header naming the base image's SHA-256.
// Formats: src/delta/detools-sequential.ts, src/delta/esp-delta-header.ts.

import { Compression, HEATSHRINK_PARAMS_8_7, headerByte, packSize } from "../../src/delta/detools-sequential.ts";
import { buildEspDeltaHeader } from "../../src/delta/esp-delta-header.ts";
import { ByteSink, bsdiffChunks } from "./bsdiff.ts";
import { heatshrinkEncode } from "./heatshrink-encoder.ts";

export type PatchCompression = "heatshrink" | "none";

export interface CreatePatchOptions {
  /** Default heatshrink (8/7), what esp_delta_ota accepts. */
  compression?: PatchCompression;
  /** Put esp_delta_ota's header in front, naming this SHA-256 of the old image. */
  espBaseSha256?: Uint8Array;
}

export function createPatch(from: Uint8Array, to: Uint8Array, options: CreatePatchOptions = {}): Uint8Array {
  const compression = options.compression ?? "heatshrink";
  if (compression !== "heatshrink" && compression !== "none") throw new RangeError(`compression ${String(compression)}: use heatshrink or none`);
  const out = new ByteSink();
  if (options.espBaseSha256) out.append(buildEspDeltaHeader(options.espBaseSha256));
  out.push(headerByte(compression === "heatshrink" ? Compression.heatshrink : Compression.none));
  const sizes: number[] = [];
  packSize(to.length, sizes);
  out.append(sizes);
  if (to.length === 0) return out.bytes();

  const chunks = bsdiffChunks(from, to);
  const payload = new Uint8Array(1 + chunks.length);
  payload[0] = 0; // data-format size 0: a plain patch
  payload.set(chunks, 1);
  if (compression === "heatshrink") {
    out.push(HEATSHRINK_PARAMS_8_7);
    out.append(heatshrinkEncode(payload));
  } else {
    out.append(payload);
  }
  return out.bytes();
}
