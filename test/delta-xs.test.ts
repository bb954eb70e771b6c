// src/delta runs on XS: the streaming applier inside the real XS engine (xsnap, bundled by
// esbuild: host-sim/delta/delta-xs.ts) rebuilds the vectors' to-files exactly as on node, also
// across a snapshot and resume, and refuses a patch for another base image.

import test from "ava";
import { createHash } from "node:crypto";
import { XsDelta } from "../host-sim/delta/delta-xs.ts";
import { buildEspDeltaHeader } from "../src/delta/esp-delta-header.ts";
import { applyInPieces, byId, sha256, vectorFile } from "./helpers/delta-vectors.ts";

test.serial("XS applies shell-pi-3 (heatshrink) and foo (crle) byte for byte as node does, also resumed from a snapshot", async (t) => {
  for (const [id, resumeAt] of [["shell-pi-3-heatshrink", 1234], ["foo-crle", 77]] as const) {
    const v = byId(id);
    const old = vectorFile(v, v.from);
    const patch = vectorFile(v, v.patch);
    const xs = await XsDelta.start(old, patch);
    try {
      const r = await xs.apply({ piece: 4096, checkpointEvery: 4096 });
      t.is(sha256(r.target), v.sha256.to, id);
      t.deepEqual(r.target, applyInPieces(old, patch, 4096), `${id}: same bytes as the node engine`);
      t.log(`${id}: ${r.target.length} B target, XS compute ${r.compute} (${Math.round(r.compute / (r.target.length / 2 ** 20))} per MiB)`);
      const resumed = await xs.apply({ piece: 100, resumeAt });
      t.is(sha256(resumed.target), v.sha256.to, `${id}: resumed at patch byte ${resumeAt}`);
    } finally {
      await xs.close();
    }
  }
});

test.serial("XS checks esp_delta_ota's base digest: the right base applies, another is refused", async (t) => {
  const v = byId("esp-delta-ota-assets-heatshrink");
  const old = vectorFile(v, v.from);
  const base = new Uint8Array(createHash("sha256").update(old).digest());
  const raw = vectorFile(v, v.patch);
  const patch = new Uint8Array(64 + raw.length);
  patch.set(buildEspDeltaHeader(base));
  patch.set(raw, 64);
  const xs = await XsDelta.start(old, patch);
  try {
    t.is(sha256((await xs.apply({ piece: 50, baseSha256: base, resumeAt: 70 })).target), v.sha256.to);
    const other = base.slice();
    other[9] ^= 0x40;
    await t.throwsAsync(() => xs.apply({ piece: 50, baseSha256: other }), { message: /-3: delta patch: the patch is for another base image/ });
  } finally {
    await xs.close();
  }
});
