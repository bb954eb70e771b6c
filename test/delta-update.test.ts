// Delta updates through the agent (issue 13): a delta offer is refused before any byte is fetched
// when the running image is not the patch's base; the patch streams through the downloader into
// the PatchApplier and the slot writer; the apply state is journaled per sector, so drops,
// reboots, a server that ignores Range, a stall and power cuts all end on the target image.
import test from "ava";
import { simUpdate } from "../host-sim/sim-update.ts";
import { torture } from "../host-sim/torture.ts";
import { NorFlash } from "../host-sim/flash/nor-flash.ts";
import { Journal, type JournalState } from "../src/agent/journal.ts";
import { RECORD_SLOT } from "../src/agent/journal-record.ts";
import { APPLY_STATE_BYTES } from "../src/delta/apply-state.ts";
import { ENGINES } from "./helpers/engines.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { createPatch } from "../host-sim/delta/create-patch.ts";
import { UpdateServer } from "../host-sim/server.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { Agent } from "../src/agent/agent.ts";

const SIZE = 64 * 1024;

for (const engine of ENGINES) {
  for (const espHeader of [false, true]) {
    test(`${engine}: a delta update (heatshrink${espHeader ? ", esp_delta_ota header" : ""}) installs the target; only the patch is downloaded`, async (t) => {
      const r = await simUpdate({ engine, size: SIZE, delta: { espHeader } });
      t.true(r.ok, r.reason);
      t.is(r.bootedVersion, "2.0.0");
      t.is(r.slotSha256, r.imageSha256);
      t.true(r.patchBytes !== undefined && r.patchBytes > 0);
      t.is(r.bytesDownloaded, r.patchBytes ?? -1);
    });
  }

  test(`${engine}: drops and reboots mid-patch resume from the journaled apply state`, async (t) => {
    const r = await simUpdate({ engine, size: SIZE, delta: {}, dropAt: [9000, 40000], rebootAt: [25000, 52000] });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.slotSha256, r.imageSha256);
    t.deepEqual(r.warnings, []);
    t.true(r.interruptions >= 4, `${r.interruptions} interruptions`);
    // Resumed, not restarted: each of the four interruptions re-fetches at most the patch bytes
    // since the last checkpoint (one sector of output, plus the piece in flight).
    t.true(r.bytesFetchedAgain < 4 * 16 * 1024, `${r.bytesFetchedAgain} bytes fetched again`);
    t.true(r.bytesDownloaded < 2 * (r.patchBytes ?? 0), `${r.bytesDownloaded} of a ${r.patchBytes}-byte patch`);
  });

  test(`${engine}: a server that ignores Range, and a stall, still end on the target`, async (t) => {
    const a = await simUpdate({ engine, size: SIZE, delta: {}, ignoreRange: true, rebootAt: [30000] });
    t.true(a.ok, a.reason);
    t.is(a.slotSha256, a.imageSha256);
    const b = await simUpdate({ engine, size: SIZE, delta: {}, stallAt: 20000, stallMs: 1500 });
    t.true(b.ok, b.reason);
    t.is(b.slotSha256, b.imageSha256);
  });

  test(`${engine}: a patch for another running version is refused with -1 before any byte is fetched`, async (t) => {
    const r = await simUpdate({
      engine, size: SIZE, delta: {},
      mutateOffer: (o) => ({ ...o, delta: { ...o.delta!, baseVersion: "0.9.0" } }),
    });
    t.is(r.errorCode, -1);
    t.regex(r.reason, /no patch for the running version/);
    t.is(r.bytesDownloaded, 0);
    t.is(r.bootedVersion, "1.0.0");
  });

  test(`${engine}: another base SHA-256 in the offer is refused with -3 before the first write`, async (t) => {
    const offerSha = await simUpdate({
      engine, size: SIZE, delta: {},
      mutateOffer: (o) => ({ ...o, delta: { ...o.delta!, baseSha256: "ab".repeat(32) } }),
    });
    t.is(offerSha.errorCode, -3);
    t.regex(offerSha.reason, /another base image/);
    t.is(offerSha.bytesDownloaded, 0);
    t.is(offerSha.bootedVersion, "1.0.0");
  });
}

test("node: an esp_delta_ota header naming another base is refused with -3 before the first write to the slot", async (t) => {
  // The board runs another build of 1.0.0 than the one the patch was made from; the offer names
  // no base digest, so the header inside the patch is what must stop it.
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE, build: 7 }));
  const other = buildTestImage({ version: "1.0.0", size: SIZE });
  const target = buildTestImage({ version: "2.0.0", size: SIZE });
  const patch = createPatch(other, target, { espBaseSha256: other.slice(other.length - 32) });
  const server = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: patch, image: target }, delta: { baseVersion: "1.0.0", baseSha256: "00".repeat(32) } });
  await server.listen();
  const clock = new NodeClock(1);
  try {
    const ota1 = board.entries.find((e) => e.label === "ota_1")!;
    let slotWrites = 0;
    board.flash.onOp = (op) => {
      if (op.kind === "write" && op.address >= ota1.address && op.address < ota1.address + ota1.size) slotWrites++;
    };
    board.boot();
    const agent = new Agent({ platform: board.platform(nodeHttp, clock) });
    await agent.boot();
    const { baseSha256: _, ...delta } = server.offer().delta!;
    const r = await agent.update({ ...server.offer(), delta });
    t.is(r.errorCode, -3);
    t.regex(r.reason, /another base image/);
    t.is(slotWrites, 0);
    t.is(agent.journalState().phase, "idle");
  } finally {
    clock.stopAll();
    await server.close();
  }
});

test("journal: a delta checkpoint is one record that a torn write cannot half-apply, and it survives sector wraps", (t) => {
  const geometry = { size: 0x2000, sectors: [{ offset: 0, size: 0x1000 }, { offset: 0x1000, size: 0x1000 }], writeAlign: 4, erasedValue: 0xff };
  const flash = new NorFlash(geometry);
  const part = flash.partition("otajournal", 0, 0x2000);
  const offer = { component: "app", version: "2.0.0", url: "http://127.0.0.1:1/p.bin", size: 1 << 20, md5: "0".repeat(32), crc32: "0".repeat(8), sha256: "0".repeat(64), delta: { baseVersion: "1.0.0", size: 5000 } };
  const state: JournalState = { phase: "download", offer, fromVersion: "1.0.0", slot: "ota_1", validator: '"p1"', progress: 0 };
  const j = new Journal(part);
  j.load();
  j.save(state);
  const apply = (n: number) => new Uint8Array(APPLY_STATE_BYTES).fill(n);
  // Enough checkpoints to wrap the two 4 KiB sectors several times.
  for (let i = 1; i <= 40; i++) {
    j.deltaCheckpoint(i * 4096, apply(i));
    const got = new Journal(part).load();
    t.is(got.progress, i * 4096);
    t.deepEqual(got.applyState, apply(i));
    t.deepEqual(got.offer, offer);
  }
  // A torn checkpoint (its first half programmed) leaves the previous one standing.
  const before = flash.bytes.slice();
  j.deltaCheckpoint(41 * 4096, apply(41));
  const changed: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i] !== flash.bytes[i]) changed.push(i);
  t.true(changed.length > 0 && changed.length <= 448 + RECORD_SLOT);
  const start = changed[0];
  for (let i = start + 200; i <= changed[changed.length - 1]; i++) flash.bytes[i] = before[i];
  const got = new Journal(part).load();
  t.is(got.progress, 40 * 4096);
  t.deepEqual(got.applyState, apply(40));
});

test("power-cut sweep over a delta update, sampled, all modes, update and rollback (node and xs): no failure", async (t) => {
  for (const engine of ENGINES) {
    const r = await torture({ size: SIZE, delta: true, cutPoints: 12, cutJournal: engine === "node", engine, jobs: 1 });
    t.log(engine, JSON.stringify(r));
    t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
  }
});
