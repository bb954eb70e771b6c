// Resuming a delta apply from its snapshot (src/delta/patch-applier.ts): the whole state fits in
// APPLY_STATE_BYTES (<= 1 KiB), a snapshot taken between any two patch bytes resumes to the
// identical target, and a power cut at any patch byte resumes from the last checkpoint (the
// target at a multiple of checkpointEvery, what a slot writer made durable), re-fetching only
// the patch bytes after that checkpoint.

import test from "ava";
import { createHash } from "node:crypto";
import { buildEspDeltaHeader } from "../src/delta/esp-delta-header.ts";
import { APPLY_STATE_BYTES, PatchApplier, applyStateInfo, type PatchApplyOptions } from "../src/delta/patch-applier.ts";
import { ErrorCode, OtaError } from "../src/errors.ts";
import { Sink, byId, memoryIo, sha256, vectorFile } from "./helpers/delta-vectors.ts";

interface Case {
  id: string;
  old: Uint8Array;
  patch: Uint8Array;
  to: string;
  options: PatchApplyOptions;
}

function vectorCase(id: string, espHeader = false): Case {
  const v = byId(id);
  const old = vectorFile(v, v.from);
  let patch = vectorFile(v, v.patch);
  const options: PatchApplyOptions = { oldSize: old.length };
  if (espHeader) {
    const base = new Uint8Array(createHash("sha256").update(old).digest());
    const p = new Uint8Array(64 + patch.length);
    p.set(buildEspDeltaHeader(base));
    p.set(patch, 64);
    patch = p;
    Object.assign(options, { espHeader: true, baseSha256: base });
  }
  return { id: espHeader ? `${id}+esp-header` : id, old, patch, to: v.sha256.to!, options };
}

/** Resumes `state` with the target's first `targetOffset` bytes in place; returns the target. */
function resumeToEnd(c: Case, state: Uint8Array, prefix: Uint8Array, piece = 97): Uint8Array {
  const info = applyStateInfo(state);
  const sink = new Sink();
  sink.write(prefix.subarray(0, info.targetOffset));
  const a = PatchApplier.resume(state, memoryIo(c.old, sink), c.options);
  for (let i = info.patchOffset; i < c.patch.length; i += piece) a.feed(c.patch.subarray(i, i + piece));
  a.finish();
  return sink.bytes();
}

test("the apply state is at most 1 KiB", (t) => {
  t.true(APPLY_STATE_BYTES <= 1024);
  const c = vectorCase("foo-heatshrink");
  const a = new PatchApplier(memoryIo(c.old, new Sink()), c.options);
  a.feed(c.patch.subarray(0, 50));
  t.is(a.snapshot().length, APPLY_STATE_BYTES);
  t.log(`APPLY_STATE_BYTES = ${APPLY_STATE_BYTES}`);
});

const EVERY_BYTE: [string, boolean, number][] = [
  ["foo-none", false, 1],
  ["foo-heatshrink", false, 1],
  ["foo-crle", false, 1],
  ["readme-heatshrink", false, 1],
  ["empty-heatshrink", false, 1],
  ["esp-delta-ota-assets-heatshrink", true, 1],
  ["programmer-heatshrink", false, 1],
  ["shell-pi-3-heatshrink", false, 7],
  ["pybv11-heatshrink", false, 211],
];

for (const [id, esp, stride] of EVERY_BYTE) {
  test(`${id}${esp ? " (esp header)" : ""}: a snapshot after ${stride === 1 ? "every patch byte" : `one patch byte in ${stride}`} resumes to the identical target`, (t) => {
    const c = vectorCase(id, esp);
    const sink = new Sink();
    const a = new PatchApplier(memoryIo(c.old, sink), c.options);
    const states: Uint8Array[] = [a.snapshot()];
    for (let i = 0; i < c.patch.length; i++) {
      a.feed(c.patch.subarray(i, i + 1));
      if ((i + 1) % stride === 0 || i + 1 === c.patch.length) states.push(a.snapshot());
    }
    a.finish();
    const full = sink.bytes();
    t.is(sha256(full), c.to);
    for (const s of states) {
      t.true(applyStateInfo(s).patchOffset <= c.patch.length);
      const out = resumeToEnd(c, s, full);
      if (sha256(out) !== c.to) return t.fail(`resume at patch byte ${applyStateInfo(s).patchOffset} gave another target`);
    }
    t.pass();
  });
}

/** Deterministic piece sizes (1..max), as a network delivers them. */
function* pieces(seed: number, max: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield 1 + ((x >>> 0) % max);
  }
}

/** Runs the apply until exactly `cut` patch bytes were delivered (a power cut), keeping the
 * snapshot of the last checkpoint as a journal would; returns it (undefined: none yet). */
function runUntilCut(c: Case, cut: number, every: number, seed: number): Uint8Array | undefined {
  let journal: Uint8Array | undefined;
  const sink = new Sink();
  const a: PatchApplier = new PatchApplier(memoryIo(c.old, sink, () => (journal = a.snapshot())), { ...c.options, checkpointEvery: every });
  const gen = pieces(seed, 700);
  for (let at = 0; at < cut; ) {
    const n = Math.min(gen.next().value as number, cut - at);
    a.feed(c.patch.subarray(at, at + n));
    at += n;
  }
  return journal;
}

const CUTS: [string, number, number][] = [
  ["foo-heatshrink", 1, 64],
  ["foo-none", 1, 64],
  ["programmer-heatshrink", 1, 512],
  ["shell-pi-3-heatshrink", 3, 4096],
  ["synthesizer-none", 401, 4096],
  ["micropython-esp8266-heatshrink", 997, 4096],
];

for (const [id, stride, every] of CUTS) {
  test(`${id}: a cut at ${stride === 1 ? "every patch byte" : `one patch byte in ${stride}`} resumes from the last checkpoint (every ${every} target bytes) to the identical target`, (t) => {
    const c = vectorCase(id);
    // One uninterrupted run gives the target and the checkpoints in order.
    const sink = new Sink();
    const checkpoints: Uint8Array[] = [];
    const a: PatchApplier = new PatchApplier(memoryIo(c.old, sink, (target) => {
      t.is(target % every, 0);
      t.is(sink.length, target, "every byte before the checkpoint was written, none after");
      checkpoints.push(a.snapshot());
    }), { ...c.options, checkpointEvery: every });
    for (let i = 0; i < c.patch.length; i += 333) a.feed(c.patch.subarray(i, i + 333));
    a.finish();
    const full = sink.bytes();
    t.is(sha256(full), c.to);
    t.true(checkpoints.length >= Math.floor(full.length / every) - 1);

    let k = -1;
    let refetched = 0;
    let worst = 0;
    let cuts = 0;
    for (let cut = 0; cut <= c.patch.length; cut += stride) {
      while (k + 1 < checkpoints.length && applyStateInfo(checkpoints[k + 1]).patchOffset <= cut) k++;
      const state = k >= 0 ? checkpoints[k] : undefined;
      const from = state ? applyStateInfo(state).patchOffset : 0;
      refetched += cut - from;
      worst = Math.max(worst, cut - from);
      cuts++;
      const out = state ? resumeToEnd(c, state, full) : (() => {
        const s = new Sink();
        const b = new PatchApplier(memoryIo(c.old, s), c.options);
        b.feed(c.patch);
        b.finish();
        return s.bytes();
      })();
      if (sha256(out) !== c.to) return t.fail(`cut at patch byte ${cut}: resumed target differs`);
    }
    // A sample of real runs cut at the same place, fed in random pieces, journal the same state.
    for (let cut = 1; cut < c.patch.length; cut += Math.max(1, Math.floor(c.patch.length / 40))) {
      const journal = runUntilCut(c, cut, every, cut);
      const expected = checkpoints.filter((s) => applyStateInfo(s).patchOffset <= cut).pop();
      if (!journal || !expected) {
        t.is(journal, expected, `cut ${cut}`);
        continue;
      }
      t.deepEqual(journal, expected, `cut ${cut}: the journaled state does not depend on how the patch arrived`);
      t.is(sha256(resumeToEnd(c, journal, full, 1 + (cut % 500))), c.to);
    }
    t.log(`${id}: ${cuts} cuts, patch ${c.patch.length} B, target ${full.length} B, checkpoint every ${every} B: re-fetched patch bytes mean ${(refetched / cuts).toFixed(0)}, max ${worst}`);
  });
}

test("a damaged snapshot is refused, and so is one resumed for another base image", (t) => {
  const c = vectorCase("esp-delta-ota-assets-heatshrink", true);
  const a = new PatchApplier(memoryIo(c.old, new Sink()), c.options);
  a.feed(c.patch.subarray(0, 300));
  const s = a.snapshot();
  for (const at of [0, 8, 100, 300, s.length - 1]) {
    const bad = s.slice();
    bad[at] ^= 0x10;
    const e = t.throws(() => PatchApplier.resume(bad, memoryIo(c.old, new Sink()), c.options));
    t.true(e instanceof OtaError);
    t.regex((e as OtaError).reason, /damaged/);
  }
  const other = c.options.baseSha256!.slice();
  other[0] ^= 1;
  const e = t.throws(() => PatchApplier.resume(s, memoryIo(c.old, new Sink()), { ...c.options, baseSha256: other }));
  t.is((e as OtaError).code, ErrorCode.UpdateFailed);
  t.regex((e as OtaError).reason, /another base image/);
  t.throws(() => PatchApplier.resume(s, memoryIo(c.old, new Sink()), { oldSize: c.old.length + 1, espHeader: true, baseSha256: c.options.baseSha256 }), { message: /another base image/ });
});
