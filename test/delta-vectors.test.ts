// Every detools vector in ../shared/vectors/detools*/ through src/delta's streaming applier: the
// none, heatshrink (8/7) and crle patches rebuild their to-file byte for byte at any feed size;
// the heatshrink 10/5 patch and every must-fail patch are refused with OtaError -3 and a reason
// (the verdicts of the manifests: shared/vectors/detools/README.md "Negative cases").

import test from "ava";
import { createHash } from "node:crypto";
import { buildEspDeltaHeader } from "../src/delta/esp-delta-header.ts";
import { PatchApplier } from "../src/delta/patch-applier.ts";
import { ErrorCode, OtaError } from "../src/errors.ts";
import { Sink, applyInPieces, byId, memoryIo, negativeVectors, positiveVectors, sha256, vectorFile, type DeltaVector } from "./helpers/delta-vectors.ts";

const is8x7 = (v: DeltaVector) => v.compression !== "heatshrink" || (v.heatshrink?.window_sz2 === 8 && v.heatshrink.lookahead_sz2 === 7);
const applicable = positiveVectors.filter(is8x7);

test("the manifests list the vectors this test expects", (t) => {
  t.true(positiveVectors.length >= 28);
  t.true(negativeVectors.length >= 14);
  for (const c of ["none", "heatshrink", "crle"]) t.true(applicable.some((v) => v.compression === c), c);
});

for (const v of applicable) {
  test(`${v.id}: applies to its from-file giving exactly its to-file, at every feed size`, (t) => {
    const old = vectorFile(v, v.from);
    const patch = vectorFile(v, v.patch);
    t.is(sha256(old), v.sha256.from);
    t.is(sha256(patch), v.sha256.patch);
    const pieces = patch.length > 200_000 ? [4096, patch.length] : [1, 3, 7, 512, Math.max(1, patch.length)];
    for (const piece of pieces) t.is(sha256(applyInPieces(old, patch, piece)), v.sha256.to, `pieces of ${piece}`);
  });
}

function refusal(v: DeltaVector, piece: number): { error: unknown; sink: Sink } {
  const old = vectorFile(v, v.from);
  const patch = vectorFile(v, v.patch);
  const sink = new Sink();
  const a = new PatchApplier(memoryIo(old, sink), { oldSize: old.length });
  try {
    for (let i = 0; i < patch.length; i += piece) a.feed(patch.subarray(i, i + piece));
    a.finish();
  } catch (error) {
    return { error, sink };
  }
  return { error: undefined, sink };
}

test("heatshrink 10/5 is refused as detools' static C configuration and esp_delta_ota refuse it, before any write", (t) => {
  const v = positiveVectors.find((x) => x.compression === "heatshrink" && !is8x7(x));
  if (!v) return t.fail("no 10/5 vector");
  const { error, sink } = refusal(v, 64);
  t.true(error instanceof OtaError);
  t.is((error as OtaError).code, ErrorCode.VerifyFailed);
  t.regex((error as OtaError).reason, /heatshrink window 2\^10, lookahead 2\^5 is not supported/);
  t.is(sink.length, 0);
});

const REASONS: Record<string, RegExp> = {
  "foo-neg-short-none": /ended inside its last chunk/,
  "foo-neg-bad-patch-type": /patch type 7 is not supported/,
  "foo-neg-bad-compression": /compression #15 is not supported/,
  "foo-neg-one-byte": /compression lzma is not supported/,
  "foo-neg-short-to-size": /compression lzma is not supported/,
  "foo-neg-empty": /ended inside its header \(0 bytes\)/,
  "foo-neg-diff-data-too-long-none": /diff size 1642 at target offset 0 runs past the target size 43/,
  "foo-neg-diff-data-too-long-heatshrink": /diff size 1642 at target offset 0 runs past the target size 43/,
  "foo-neg-extra-data-too-long-none": /extra size 8 at target offset 2772 runs past the target size 2779/,
  "foo-neg-extra-data-too-long-heatshrink": /extra size 8 at target offset 2772 runs past the target size 2779/,
  "foo-neg-trailing-byte-none": /1 byte\(s\) after the patch's end at offset 2792/,
  "shell-pi-3-neg-truncated-heatshrink": /ended early: \d+ of 112576 target bytes/,
  "shell-pi-3-neg-truncated-none": /ended early: \d+ of 112576 target bytes/,
};

for (const v of negativeVectors.filter((x) => x.expect === "error")) {
  test(`${v.id}: refused with -3 and its reason, at every feed size`, (t) => {
    const reason = REASONS[v.id];
    t.truthy(reason, "a reason is expected for every must-fail vector");
    for (const piece of [1, 7, 4096]) {
      const { error } = refusal(v, piece);
      t.true(error instanceof OtaError, `pieces of ${piece}`);
      t.is((error as OtaError).code, ErrorCode.VerifyFailed);
      t.regex((error as OtaError).reason, reason);
    }
  });
}

test("esp_delta_ota's bad_patch.bin applies (the format cannot tell) and gives the recorded output, not new.bin", (t) => {
  const v = byId("esp-delta-ota-bad-patch");
  const out = applyInPieces(vectorFile(v, v.from), vectorFile(v, v.patch), 100);
  t.is(sha256(out), v.outputSha256 ?? "");
  t.not(sha256(out), byId("esp-delta-ota-assets-heatshrink").sha256.to);
});

const espVector = byId("esp-delta-ota-assets-heatshrink");
const espOld = vectorFile(espVector, espVector.from);
const espBase = new Uint8Array(createHash("sha256").update(espOld).digest());
const espPatch = (digest: Uint8Array): Uint8Array => {
  const raw = vectorFile(espVector, espVector.patch);
  const p = new Uint8Array(64 + raw.length);
  p.set(buildEspDeltaHeader(digest));
  p.set(raw, 64);
  return p;
};

test("behind esp_delta_ota's 64-byte header, the patch applies when the header names the running image", (t) => {
  const patch = espPatch(espBase);
  t.deepEqual([...patch.subarray(0, 4)], [0x10, 0xde, 0xcd, 0xfc]);
  for (const piece of [1, 5, 63, 64, 65, patch.length]) {
    t.is(sha256(applyInPieces(espOld, patch, piece, { espHeader: true, baseSha256: espBase })), espVector.sha256.to);
  }
});

test("a patch for another base image is refused with -3 before the first write", (t) => {
  const other = espBase.slice();
  other[31] ^= 1;
  for (const piece of [1, 64, 4096]) {
    const sink = new Sink();
    const a = new PatchApplier(memoryIo(espOld, sink), { oldSize: espOld.length, espHeader: true, baseSha256: espBase });
    const patch = espPatch(other);
    const e = t.throws(() => {
      for (let i = 0; i < patch.length; i += piece) a.feed(patch.subarray(i, i + piece));
    });
    t.true(e instanceof OtaError);
    t.is((e as OtaError).code, ErrorCode.VerifyFailed);
    t.regex((e as OtaError).reason, /for another base image/);
    t.is(sink.length, 0, "nothing written");
    t.throws(() => a.feed(new Uint8Array(1)), { message: /earlier error/ }, "and it stays refused");
  }
});

test("a raw patch where an esp_delta_ota header is expected is refused for its magic", (t) => {
  const v = byId("esp-delta-ota-assets-heatshrink");
  const e = t.throws(() => applyInPieces(espOld, vectorFile(v, v.patch), 100, { espHeader: true, baseSha256: espBase }));
  t.regex((e as OtaError).reason, /not an esp_delta_ota patch \(magic/);
});

test("a target larger than the slot is refused before the first write", (t) => {
  const v = byId("shell-pi-3-heatshrink");
  const sink = new Sink();
  const old = vectorFile(v, v.from);
  const a = new PatchApplier(memoryIo(old, sink), { oldSize: old.length, maxTargetSize: 100_000 });
  const e = t.throws(() => a.feed(vectorFile(v, v.patch)));
  t.regex((e as OtaError).reason, /target \(112576 bytes\) does not fit the slot \(100000 bytes\)/);
  t.is(sink.length, 0);
});

test("a diff that reads outside the old image is refused (a shorter old image than the patch's)", (t) => {
  const v = byId("shell-heatshrink");
  const old = vectorFile(v, v.from).subarray(0, 1000);
  const e = t.throws(() => applyInPieces(old, vectorFile(v, v.patch), 512));
  t.is((e as OtaError).code, ErrorCode.VerifyFailed);
  t.regex((e as OtaError).reason, /outside the old image \(1000 bytes\)/);
});

test("trailing bytes after a heatshrink or crle patch are refused too (detools' C library ignores them there)", (t) => {
  for (const id of ["foo-heatshrink", "foo-crle", "empty-heatshrink"]) {
    const v = byId(id);
    const raw = vectorFile(v, v.patch);
    const patch = new Uint8Array(raw.length + 1);
    patch.set(raw);
    patch[raw.length] = 0x80;
    const e = t.throws(() => applyInPieces(vectorFile(v, v.from), patch, 16), undefined, id);
    t.regex((e as OtaError).reason, /after the patch's end|decodes to more/, id);
  }
});

test("damaged patches (random bytes changed, cut or duplicated) end in the target or in OtaError -3, never past the to-size or outside the old image", (t) => {
  let refused = 0;
  let applied = 0;
  for (const id of ["foo-heatshrink", "foo-none", "foo-crle", "programmer-heatshrink", "readme-heatshrink"]) {
    const v = byId(id);
    const old = vectorFile(v, v.from);
    const good = vectorFile(v, v.patch);
    let x = 12345;
    const rand = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let k = 0; k < 300; k++) {
      let patch = good.slice();
      const mode = k % 3;
      if (mode === 0) for (let m = 0; m <= rand(3); m++) patch[rand(patch.length)] ^= 1 << rand(8);
      else if (mode === 1) patch = patch.subarray(0, rand(patch.length));
      else {
        const at = rand(patch.length);
        const n = 1 + rand(8);
        const p = new Uint8Array(patch.length + n);
        p.set(patch.subarray(0, at + n > patch.length ? patch.length - n : at + n));
        p.set(patch.subarray(at), at + n);
        patch = p;
      }
      const sink = new Sink();
      const io = memoryIo(old, sink);
      const readOld = io.readOld;
      io.readOld = (o, l) => {
        if (o < 0 || l < 0 || o + l > old.length) throw new Error(`read outside the old image: ${o}+${l}`);
        return readOld(o, l);
      };
      const a = new PatchApplier(io, { oldSize: old.length });
      try {
        for (let i = 0; i < patch.length; i += 13) a.feed(patch.subarray(i, i + 13));
        a.finish();
        applied++;
        t.is(sink.length, a.toSize);
      } catch (e) {
        if (!(e instanceof OtaError) || e.code !== ErrorCode.VerifyFailed) return t.fail(`${id} #${k}: ${String(e)}`);
        refused++;
        t.true(a.toSize === 0 || sink.length <= a.toSize, `${id} #${k}: wrote past the to-size`);
      }
    }
  }
  t.true(refused > applied, `${refused} refused, ${applied} applied (a changed diff or extra byte only changes the output)`);
});
