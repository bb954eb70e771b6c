// Issue 9 §1: every journal state the agent can leave behind resumes or is discarded with a log
// line, never a permanent error; offers of any byte size work end to end, on both engines.
import test from "ava";
import { simUpdate } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildImageOfSize, buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/flash/partition-table.ts";
import { checkEspImage } from "../src/image/esp-app-image.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { journalOps } from "./helpers/journal-ops.ts";
import { ENGINES } from "./helpers/engines.ts";
import { digestsOf } from "../host-sim/server.ts";
import { Journal, type JournalState } from "../src/agent/journal.ts";

const KiB = 1024;
const board = () => SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * KiB }));

test("image builder: trailing bytes follow a valid image, digests cover them, none is 0xFF", (t) => {
  const plain = buildTestImage({ version: "2.0.0", size: 64 * KiB, build: 1 });
  const odd = buildTestImage({ version: "2.0.0", size: 64 * KiB, build: 1, trailing: 6 });
  t.is(odd.length, 64 * KiB + 6);
  t.deepEqual(odd.subarray(0, 64 * KiB), plain);
  t.true(odd.subarray(64 * KiB).every((b) => b !== 0xff));
  const info = checkEspImage((at, n) => odd.slice(at, at + n), odd.length, nodeDigests);
  t.is(info.length, 64 * KiB);
  for (const size of [64 * KiB + 1, 64 * KiB + 6, 64 * KiB + 19, 100_003]) t.is(buildImageOfSize({ version: "2.0.0", size }).length, size);
  t.throws(() => buildTestImage({ version: "2.0.0", size: 64 * KiB, trailing: -1 }), { instanceOf: RangeError });
  t.throws(() => buildTestImage({ version: "2.0.0", size: 64 * KiB, trailing: 1.5 }), { instanceOf: RangeError });
});

for (const engine of ENGINES) {
  // The defect of issue 9 §1: the end-of-image checkpoint (0x10001) was left in the journal by a
  // cut before the "staging" record, and every later boot failed with -4 "resume offset 0x10001
  // is not on a sector boundary".
  test(`${engine}: 65537-byte offer, cut just before the journal's staging record: the update converges`, async (t) => {
    const size = 64 * KiB + 1;
    const ops = await journalOps(board, size);
    const staging = ops.find((o) => o.phase === "staging");
    if (!staging) return t.fail("no staging record in an uncut run");
    const lines: string[] = [];
    const r = await simUpdate({ engine, existing: board(), size, cutAt: [staging.index], cutMode: "before", log: (l) => lines.push(l) });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.imageState, "valid");
    t.is(r.slotSha256, r.imageSha256);
    t.true(r.bytesFetchedAgain <= 4096, `fetched again ${r.bytesFetchedAgain}`);
    t.true(lines.some((l) => l.includes("0x10001") && l.includes("0x10000")), lines.join("\n"));
  });
}

// Journal states written straight into the board's journal, as a cut, a crash or an older
// firmware may leave them: each resumes or is discarded with a log line, and the update ends on
// 2.0.0 confirmed.
const ODD = 64 * KiB + 19;
const SECTOR = 4096;

/** A board whose journal says a download of the ODD-byte offer into ota_1 got `progress` bytes
 * far (extra fields merged into the state), with the image's first min(progress, size) bytes in
 * the slot. */
function seeded(progress: number, extra: Partial<JournalState> = {}): SimBoard {
  const b = board();
  const image = buildImageOfSize({ version: "2.0.0", size: ODD, build: 1 });
  const slot = findPartition(b.entries, "ota_1")!;
  b.flash.bytes.set(image.subarray(0, Math.min(progress, image.length)), slot.address);
  const offer = { component: "app", version: "2.0.0", url: "http://127.0.0.1:1/app.bin", size: image.length, ...digestsOf(image) };
  const j = new Journal(b.partition("otajournal"));
  j.load();
  j.save({ phase: "download", offer, fromVersion: "1.0.0", slot: "ota_1", validator: '"2.0.0-b1"', progress, ...extra });
  return b;
}

const STATES: { name: string; progress: number; extra?: Partial<JournalState>; fetched: number; log: string }[] = [
  // Mid-sector and off the write alignment: the sector is fetched again.
  { name: "progress 0x8123 (mid-sector, odd)", progress: 0x8123, fetched: ODD - 0x8000, log: "0x8123 is not on a sector boundary; resuming at 0x8000" },
  // The end-of-image checkpoint of an odd size.
  { name: "progress = the odd offer size", progress: ODD, fetched: ODD - 0x10000, log: "resuming at 0x10000" },
  { name: "progress past the offer size", progress: ODD + SECTOR, fetched: ODD, log: "outside the" },
  { name: "progress past the slot size", progress: 0x7fff_0000, fetched: ODD, log: "outside the" },
  // Two resumes from 0x8000 began and made no progress (cut, crash or error each time).
  { name: "two resumes from the same offset without progress", progress: 0x8000, extra: { resumeAt: 0x8000, resumeTries: 2 }, fetched: ODD, log: "2 resumes at 0x8000 made no progress; starting again from byte 0" },
  // One did: one more try from there.
  { name: "one resume without progress", progress: 0x8000, extra: { resumeAt: 0x8000, resumeTries: 1 }, fetched: ODD - 0x8000, log: "resuming the download at 0x8000" },
  // Tries counted at another offset do not count here.
  { name: "resumes counted at an earlier offset", progress: 0xc000, extra: { resumeAt: 0x8000, resumeTries: 2 }, fetched: ODD - 0xc000, log: "resuming the download at 0xc000" },
];

for (const engine of ENGINES) {
  for (const s of STATES) {
    test(`${engine}: journal with ${s.name}: resumes or starts again, with a log line, and converges`, async (t) => {
      const lines: string[] = [];
      const r = await simUpdate({ engine, existing: seeded(s.progress, s.extra), size: ODD, log: (l) => lines.push(l) });
      t.true(r.ok, r.reason);
      t.is(r.bootedVersion, "2.0.0");
      t.is(r.imageState, "valid");
      t.is(r.slotSha256, r.imageSha256);
      t.is(r.bytesDownloaded, s.fetched);
      t.true(lines.some((l) => l.includes(s.log)), lines.join("\n"));
    });
  }

  // The attempt is recorded before the resume starts, so power lost during two resumes from the
  // same offset (each before its first new checkpoint) counts: the third boot starts from 0.
  test(`${engine}: power lost twice during the resume from one offset: the next boot starts again from byte 0`, async (t) => {
    const lines: string[] = [];
    const r = await simUpdate({ engine, existing: seeded(0x8000), size: ODD, rebootAt: [100, 200], log: (l) => lines.push(l) });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.slotSha256, r.imageSha256);
    t.is(r.interruptions, 2);
    t.is(r.bytesDownloaded, 200 + ODD);
    t.true(lines.some((l) => l.includes("2 resumes at 0x8000 made no progress")), lines.join("\n"));
  });
}
