// The detools vectors in ../shared/vectors/detools*/ (manifest.json next to each folder) and a
// small driver of src/delta's applier over in-memory images, for the test/delta*.test.ts files.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyPatch } from "../../host-sim/delta/apply-patch.ts";
import type { PatchApplyOptions, PatchIo } from "../../src/delta/patch-applier.ts";

export const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/vectors");

export interface DeltaVector {
  id: string;
  dir: string;
  from: string;
  to?: string;
  patch: string;
  compression?: string;
  heatshrink?: { window_sz2: number; lookahead_sz2: number };
  expect?: string;
  outputSha256?: string;
  sha256: { from: string; to: string; patch: string };
}

function load(dir: string): { vectors: DeltaVector[]; negative: DeltaVector[] } {
  const m = JSON.parse(readFileSync(path.join(VECTORS, dir, "manifest.json"), "utf8")) as { vectors: DeltaVector[]; negative: DeltaVector[] };
  const tag = (v: DeltaVector): DeltaVector => ({ ...v, dir });
  return { vectors: m.vectors.map(tag), negative: m.negative.map(tag) };
}

const all = [load("detools"), load("detools-more")];
export const positiveVectors: DeltaVector[] = all.flatMap((m) => m.vectors);
export const negativeVectors: DeltaVector[] = all.flatMap((m) => m.negative);

export const vectorFile = (v: DeltaVector, f: string): Uint8Array => new Uint8Array(readFileSync(path.join(VECTORS, v.dir, f)));
export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
export const byId = (id: string): DeltaVector => {
  const v = [...positiveVectors, ...negativeVectors].find((x) => x.id === id);
  if (!v) throw new Error(`no vector ${id}`);
  return v;
};

/** A growable output for the applier's write callback. */
export class Sink {
  private buf = new Uint8Array(1024);
  length = 0;
  writes = 0;
  write(b: Uint8Array): void {
    if (this.length + b.length > this.buf.length) {
      const n = new Uint8Array(Math.max(this.buf.length * 2, this.length + b.length));
      n.set(this.buf.subarray(0, this.length));
      this.buf = n;
    }
    this.buf.set(b, this.length);
    this.length += b.length;
    this.writes++;
  }
  truncate(n: number): void {
    this.length = n;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export function memoryIo(old: Uint8Array, sink: Sink, checkpoint?: (t: number) => void): PatchIo {
  return {
    readOld: (o, l) => old.slice(o, o + l),
    write: (b) => sink.write(b),
    checkpoint,
  };
}

/** Applies `patch` fed in pieces of `piece` bytes (host-sim/delta/apply-patch.ts); returns the output. */
export function applyInPieces(old: Uint8Array, patch: Uint8Array, piece: number, options: Partial<PatchApplyOptions> = {}): Uint8Array {
  return applyPatch(old, patch, { ...options, piece });
}
