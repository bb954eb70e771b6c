import test from "ava";
import { simUpdate, type SimUpdateOptions } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import { Rng } from "../host-sim/rng.ts";
import { ENGINES } from "./helpers/engines.ts";

const SIZE = 256 * 1024;
const SECTOR = 4096;

function board() {
  return SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
}

/** Erases per sector of ota_1, counted from the flash simulator. */
function slotErases(b: SimBoard): number[] {
  const slot = findPartition(b.entries, "ota_1")!;
  const out: number[] = [];
  for (let at = slot.address; at < slot.address + SIZE; at += SECTOR) out.push(b.flash.sectorErases.get(at) ?? 0);
  return out;
}

function assertUpdated(t: import("ava").ExecutionContext, r: Awaited<ReturnType<typeof simUpdate>>) {
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.imageState, "valid");
  t.is(r.slotSha256, r.imageSha256, "slot digest equals image digest");
}

for (const engine of ENGINES) {
  const run = (o: SimUpdateOptions) => simUpdate({ engine, size: SIZE, ...o });

  test(`${engine}: --drop-at resumes with Range and refetches less than a sector per drop`, async (t) => {
    const b = board();
    const r = await run({ existing: b, dropAt: [10_000, 100_001, 200_003] });
    assertUpdated(t, r);
    t.is(r.interruptions, 3);
    t.true(r.bytesFetchedAgain <= SECTOR * r.interruptions, `fetched again ${r.bytesFetchedAgain}`);
    const erases = slotErases(b);
    t.true(erases.every((n) => n <= 2) && erases.filter((n) => n === 2).length <= r.interruptions);
  });

  test(`${engine}: --reboot-at resumes from the journal after power loss`, async (t) => {
    const b = board();
    const r = await run({ existing: b, rebootAt: [50_000, 150_000, 150_001] });
    assertUpdated(t, r);
    t.is(r.interruptions, 3);
    t.true(r.boots >= 5);
    t.true(r.bytesFetchedAgain <= SECTOR * r.interruptions, `fetched again ${r.bytesFetchedAgain}`);
    const erases = slotErases(b);
    t.true(erases.filter((n) => n > 1).length <= r.interruptions, `re-erased sectors ${erases.filter((n) => n > 1).length}`);
  });

  test(`${engine}: --ignore-range restarts from 0 and never writes a 200 body at an offset`, async (t) => {
    const b = board();
    const slot = findPartition(b.entries, "ota_1")!;
    const writes: number[] = [];
    b.flash.onOp = (op) => {
      if (op.kind === "write" && op.address >= slot.address && op.address < slot.address + slot.size) writes.push(op.address - slot.address);
    };
    const r = await run({ existing: b, ignoreRange: true, dropAt: [70_000] });
    assertUpdated(t, r);
    // Two passes over the slot, each starting at byte 0: the second 200 body went to offset 0.
    const runs: number[] = [writes[0]];
    for (let i = 1; i < writes.length; i++) if (writes[i] <= writes[i - 1]) runs.push(writes[i]);
    t.deepEqual(runs, [0, 0]);
    t.is(r.bytesFetchedAgain, 70_001);
  });

  test(`${engine}: --change-etag-at never mixes builds: -3 and 1.0.0 keeps running`, async (t) => {
    const r = await run({ existing: board(), changeEtagAt: 80_000 });
    t.is(r.errorCode, -3);
    t.is(r.bootedVersion, "1.0.0");
    t.not(r.slotSha256, r.imageSha256);
  });

  test(`${engine}: --stall-at times out and resumes`, async (t) => {
    const r = await run({ existing: board(), stallAt: 120_000, stallMs: 1500 });
    assertUpdated(t, r);
    t.is(r.interruptions, 1);
    t.is(r.bytesFetchedAgain, 0);
  });

  test(`${engine}: --http-error 5xx retries with backoff; a 404 fails with -2`, async (t) => {
    const ok = await run({ existing: board(), httpErrors: new Map([[1, 503], [2, 500], [3, 502]]) });
    assertUpdated(t, ok);
    t.is(ok.interruptions, 3);
    const bad = await run({ existing: board(), httpErrors: new Map([[1, 404]]) });
    t.is(bad.errorCode, -2);
    t.is(bad.bootedVersion, "1.0.0");
  });

  test(`${engine}: after the retry budget the update fails with -2 and keeps the journal`, async (t) => {
    const b = board();
    const errors = new Map<number, number>();
    for (let i = 2; i < 40; i++) errors.set(i, 503);
    const r = await run({ existing: b, httpErrors: errors, dropAt: [60_000] });
    t.is(r.errorCode, -2);
    t.regex(r.reason, /attempts without progress/);
    // A later attempt resumes from the journal: only the bytes past the last checkpoint again.
    const again = await run({ existing: b });
    assertUpdated(t, again);
    t.true(again.bytesDownloaded <= SIZE - 57_344 + SECTOR, `resumed, downloaded ${again.bytesDownloaded}`);
  });

  test(`${engine}: an If-Range mismatch after a reboot restarts from 0 and still ends on 2.0.0`, async (t) => {
    const b = board();
    // A power loss leaves 1.0.0 running with a journal 100 kB into the image.
    const first = await run({ existing: b, rebootAt: [100_000], maxBoots: 1 });
    t.is(first.bootedVersion, "1.0.0");
    // The server was redeployed: same bytes, new ETag. If-Range fails, a 200 comes, the agent
    // starts again at 0.
    const r = await run({ existing: b, etagSuffix: "-redeployed" });
    assertUpdated(t, r);
    t.is(r.bytesDownloaded, SIZE);
  });

  test(`${engine}: the same image at a new build restarts from 0 instead of mixing`, async (t) => {
    const b = board();
    await run({ existing: b, rebootAt: [100_000], maxBoots: 1 });
    const r = await run({ existing: b, build: 2 });
    assertUpdated(t, r);
    t.is(r.bytesDownloaded, SIZE);
  });
}

test("seeded random drops and reboots: 200 runs all end on 2.0.0 with the right digest", async (t) => {
  const size = 96 * 1024;
  const master = Number(process.env.RESUME_SEED ?? 20261123);
  const rng = new Rng(master);
  for (let i = 0; i < 200; i++) {
    const seed = rng.int(2 ** 31);
    const r2 = new Rng(seed);
    const n = 1 + r2.int(5);
    const dropAt: number[] = [];
    const rebootAt: number[] = [];
    for (let k = 0; k < n; k++) (r2.int(2) ? dropAt : rebootAt).push(1 + r2.int(size - 1));
    dropAt.sort((a, b) => a - b);
    rebootAt.sort((a, b) => a - b);
    const r = await simUpdate({ existing: board(), size, dropAt, rebootAt, seed });
    const good = r.ok && r.bootedVersion === "2.0.0" && r.slotSha256 === r.imageSha256;
    if (!good) {
      t.fail(`seed ${seed}: dropAt=${dropAt} rebootAt=${rebootAt}: ${JSON.stringify(r)}`);
      return;
    }
  }
  t.pass();
});
