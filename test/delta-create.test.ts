// Patch creation in host-sim/delta (suffix-array bsdiff writing the detools sequential format,
// heatshrink 8/7 encoder), checked against detools' own patches and through src/delta's applier:
// - compression none: byte for byte the patch detools wrote for every bsdiff vector pair;
// - heatshrink: applies to the to-file, and about the size of detools' (reference encoder);
// - synthetic firmware builds with inserted, deleted, edited, moved functions and strings.

import test from "ava";
import { createHash } from "node:crypto";
import { createPatch } from "../host-sim/delta/create-patch.ts";
import { heatshrinkEncode } from "../host-sim/delta/heatshrink-encoder.ts";
import { suffixArray } from "../host-sim/delta/suffix-array.ts";
import { changed, link, syntheticProgram, type Change } from "../host-sim/delta/synthetic-firmware.ts";
import { Rng } from "../host-sim/rng.ts";
import { HeatshrinkDecoder } from "../src/delta/heatshrink-decoder.ts";
import { applyInPieces, positiveVectors, sha256, vectorFile } from "./helpers/delta-vectors.ts";

const bsdiffPairs = positiveVectors.filter((v) => (v as { algorithm?: string }).algorithm !== "match-blocks");

test("suffix array: the suffixes in lexicographic order, for random, repetitive and empty inputs", (t) => {
  const r = new Rng(5);
  const inputs = [new Uint8Array(0), Uint8Array.of(7), new Uint8Array(300), new Uint8Array(200).map((_, i) => i % 3)];
  for (let k = 0; k < 20; k++) inputs.push(new Uint8Array(1 + r.int(400)).map(() => r.int(k % 2 ? 3 : 256)));
  for (const data of inputs) {
    const naive = Array.from({ length: data.length + 1 }, (_, i) => i).sort((a, b) => Buffer.compare(data.subarray(a), data.subarray(b)));
    t.deepEqual([...suffixArray(data)], naive);
  }
});

test("heatshrink encoder: its streams decode to the input (random, runs, periods longer than the window, empty)", (t) => {
  const r = new Rng(9);
  const inputs = [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(5000), new Uint8Array(70000).map(() => r.int(256)), new Uint8Array(9000).map((_, i) => (i % 300) & 0xff), new Uint8Array(4000).map(() => r.int(4))];
  for (const data of inputs) {
    const enc = heatshrinkEncode(data);
    const src = { bytes: enc, pos: 0 };
    const out = new Uint8Array(data.length + 1);
    const n = new HeatshrinkDecoder(src).read(out, 0, out.length);
    t.is(n, data.length);
    t.deepEqual(out.subarray(0, n), data);
  }
});

for (const v of bsdiffPairs.filter((x) => x.compression === "none")) {
  test(`${v.id}: createPatch(none) writes exactly detools' patch`, (t) => {
    const patch = createPatch(vectorFile(v, v.from), vectorFile(v, v.to!), { compression: "none" });
    t.is(sha256(patch), v.sha256.patch);
  });
}

for (const v of bsdiffPairs.filter((x) => x.compression === "heatshrink" && x.heatshrink?.window_sz2 === 8)) {
  test(`${v.id}: createPatch(heatshrink) applies to the to-file and is within 3% of detools' size`, (t) => {
    const old = vectorFile(v, v.from);
    const patch = createPatch(old, vectorFile(v, v.to!));
    t.deepEqual([...patch.subarray(0, 1)], [0x04]);
    t.is(sha256(applyInPieces(old, patch, 777)), v.sha256.to);
    const ref = vectorFile(v, v.patch).length;
    t.true(Math.abs(patch.length - ref) <= Math.max(4, ref * 0.03), `${patch.length} vs ${ref}`);
  });
}

test("an esp_delta_ota patch made here names the base's SHA-256 and applies only on that base", (t) => {
  const p = syntheticProgram(64 * 1024, 3);
  const old = link(p);
  const nw = link(changed(p, "edit", 4));
  const base = new Uint8Array(createHash("sha256").update(old).digest());
  const patch = createPatch(old, nw, { espBaseSha256: base });
  t.deepEqual([...patch.subarray(0, 4)], [0x10, 0xde, 0xcd, 0xfc]);
  t.deepEqual(patch.subarray(4, 36), base);
  t.is(sha256(applyInPieces(old, patch, 100, { espHeader: true, baseSha256: base })), sha256(nw));
  const other = base.slice();
  other[3] ^= 8;
  t.throws(() => applyInPieces(old, patch, 100, { espHeader: true, baseSha256: other }), { message: /another base image/ });
});

const CHANGES: Change[] = ["insert", "delete", "edit", "move", "strings"];

test("synthetic firmware builds (inserted, deleted, edited, moved functions; longer strings) round-trip with both compressions", (t) => {
  const p = syntheticProgram(192 * 1024, 11);
  const old = link(p);
  const shares: string[] = [];
  for (const change of CHANGES) {
    let next = changed(p, change, 21);
    if (change === "insert") next = changed(changed(next, "insert", 22), "delete", 23);
    const nw = link(next);
    t.notDeepEqual(nw, old);
    for (const compression of ["heatshrink", "none"] as const) {
      const patch = createPatch(old, nw, { compression });
      t.is(sha256(applyInPieces(old, patch, 1 + (nw.length % 1000))), sha256(nw), `${change} ${compression}`);
      if (compression === "heatshrink") {
        // A build with a local change needs a small fraction of the image, well below the
        // detools anchor of ~16% for two real releases.
        t.true(patch.length < nw.length * 0.1, `${change}: ${patch.length} of ${nw.length}`);
        shares.push(`${change} ${((100 * patch.length) / nw.length).toFixed(1)}%`);
      }
    }
  }
  t.log(`heatshrink patch as a share of the target: ${shares.join(", ")}`);
});

test("unrelated images still round-trip (the patch is then mostly extra data)", (t) => {
  const r = new Rng(77);
  const a = new Uint8Array(20000).map(() => r.int(256));
  const b = new Uint8Array(23000).map(() => r.int(256));
  for (const compression of ["heatshrink", "none"] as const) {
    t.is(sha256(applyInPieces(a, createPatch(a, b, { compression }), 4096)), sha256(b));
    t.is(sha256(applyInPieces(a, createPatch(a, new Uint8Array(0), { compression }), 4096)), sha256(new Uint8Array(0)));
    t.is(sha256(applyInPieces(new Uint8Array(0), createPatch(new Uint8Array(0), b, { compression }), 4096)), sha256(b));
  }
});
