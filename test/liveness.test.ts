// Issue 9 §1: every journal state the agent can leave behind resumes or is discarded with a log
// line, never a permanent error; offers of any byte size work end to end, on both engines.
import test from "ava";
import { simUpdate } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildImageOfSize, buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import { checkEspImage } from "../src/targets/esp-idf/esp-app-image.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { journalOps } from "./helpers/journal-ops.ts";
import { ENGINES, type Engine } from "./helpers/engines.ts";
import { CUT_MODES } from "../host-sim/flash/nor-flash.ts";
import { Journal, type JournalState } from "../src/agent/journal.ts";
import { Agent } from "../src/agent/agent.ts";
import type { UpdateResult } from "../src/agent/types.ts";
import type { FlashPartition, Platform } from "../src/ports.ts";
import { UpdateServer, digestsOf, type OfferJson } from "../host-sim/server.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { NodeClock } from "../host-sim/node-clock.ts";

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
  // is not on a sector boundary". In every cut mode.
  for (const mode of CUT_MODES) {
    test(`${engine}: 65537-byte offer, cut (${mode}) at the journal's staging record: the update converges`, async (t) => {
      const size = 64 * KiB + 1;
      const ops = await journalOps(board, size);
      const staging = ops.find((o) => o.phase === "staging");
      if (!staging) return t.fail("no staging record in an uncut run");
      const lines: string[] = [];
      const r = await simUpdate({ engine, existing: board(), size, cutAt: [staging.index], cutMode: mode, seed: staging.index, log: (l) => lines.push(l) });
      t.true(r.ok, r.reason);
      t.is(r.bootedVersion, "2.0.0");
      t.is(r.imageState, "valid");
      t.is(r.slotSha256, r.imageSha256);
      t.true(r.bytesFetchedAgain <= 4096, `fetched again ${r.bytesFetchedAgain}`);
      t.true(lines.some((l) => l.includes("0x10001") && l.includes("0x10000")), lines.join("\n"));
    });
  }
}

test("xs: a 65555-byte update does the very flash operations Node does (the Node sweep's cut points hold for XS)", async (t) => {
  const ops = async (engine: Engine) => {
    const b = board();
    const seen: string[] = [];
    b.flash.onOp = (op, index) => seen.push(`${index} ${op.kind} 0x${op.address.toString(16)} +${op.length}`);
    const r = await simUpdate({ engine, existing: b, size: 64 * KiB + 19 });
    t.true(r.ok, r.reason);
    return seen;
  };
  const node = await ops("node");
  t.true(node.length > 50);
  t.deepEqual(await ops("xs"), node);
});

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

/** Power-ons of a seeded board driven by hand (Node engine): the bootloader, a fresh Agent on a
 * platform `wrap` may alter, boot(), then `run` with the server's offer. */
async function powerOns(
  b: SimBoard,
  count: number,
  wrap: (p: Platform, n: number) => Platform,
  run: (agent: Agent, offer: OfferJson, n: number) => Promise<UpdateResult | undefined>,
) {
  const image = buildImageOfSize({ version: "2.0.0", size: ODD, build: 1 });
  const server = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: image } });
  await server.listen();
  const results: (UpdateResult | undefined)[] = [];
  const lines: string[] = [];
  try {
    for (let n = 0; n < count; n++) {
      b.boot();
      const clock = new NodeClock(n + 1);
      try {
        const platform = wrap(b.platform(nodeHttp, clock, { log: (_level, m) => lines.push(m) }), n);
        const agent = new Agent({ platform, download: { stallMs: 5000, backoffMs: 1, backoffMaxMs: 2, maxFailures: 2 } });
        await agent.boot();
        results.push(await run(agent, server.offer(), n));
      } finally {
        clock.stopAll();
      }
      if (n < count - 1) b.powerCycle();
    }
  } finally {
    await server.close();
  }
  return { results, lines, stats: server.stats };
}

/** The slot's reads fail until the first write or erase of this power-on: exactly the prefix
 * re-hash of a resume fails, every time (a flash fault that a fresh start does not touch). */
function failPrefixReads(p: Platform): Platform {
  const open = p.partitions.open;
  let touched = false;
  const partitions = {
    ...p.partitions,
    open: (label: string): FlashPartition => {
      const part = open(label);
      if (label !== "ota_1") return part;
      return {
        ...part,
        read: (at, n) => {
          if (!touched) throw new Error("uncorrectable ECC error");
          return part.read(at, n);
        },
        write: (at, data) => ((touched = true), part.write(at, data)),
        erase: (at, n) => ((touched = true), part.erase(at, n)),
      };
    },
  };
  return { ...p, partitions };
}

test("node: a resume that fails the same way twice (a flash error) starts again from byte 0", async (t) => {
  const b = seeded(0x8000);
  const { results, lines } = await powerOns(b, 3, failPrefixReads, (agent, offer) => agent.update(offer));
  t.deepEqual(results.map((r) => r?.errorCode), [-4, -4, 0], JSON.stringify(results));
  t.true(lines.some((l) => l.includes("2 resumes at 0x8000 made no progress; starting again from byte 0")), lines.join("\n"));
  t.true(b.restartRequested, "staged and restarting");
});

test("node: a resume that fails to download (-2) is not a failed resume: the next one continues from its offset", async (t) => {
  const b = seeded(0x8000);
  const { results, lines } = await powerOns(b, 4, (p) => p, (agent, offer, n) =>
    agent.update(n < 3 ? { ...offer, url: "http://127.0.0.1:1/app.bin" } : offer));
  t.deepEqual(results.map((r) => r?.errorCode), [-2, -2, -2, 0], JSON.stringify(results));
  t.false(lines.some((l) => l.includes("made no progress")), lines.join("\n"));
  t.true(lines.filter((l) => l.includes("resuming the download at 0x8000")).length === 4, lines.join("\n"));
  t.true(b.restartRequested, "staged and restarting");
});

test("node: resume() discards a journaled offer it cannot parse, with a log line, and forgets it", async (t) => {
  const b = seeded(0x8000);
  const j = new Journal(b.partition("otajournal"));
  const bad = { ...j.load(), offer: { ...j.state.offer!, sha256: "not hex" } };
  j.save(bad);
  const { results, lines } = await powerOns(b, 2, (p) => p, async (agent) => agent.resume());
  t.is(results[0]?.errorCode, -1);
  t.is(results[1], undefined, "nothing pending after the discard");
  t.true(lines.some((l) => l.includes("journal: discarding the interrupted update to 2.0.0")), lines.join("\n"));
});

test("node: boot() discards a journaled download that can never continue (not newer than the running image)", async (t) => {
  const b = seeded(0x8000);
  const j = new Journal(b.partition("otajournal"));
  const state = j.load();
  j.save({ ...state, offer: { ...state.offer!, version: "0.9.0" } });
  const { results, lines } = await powerOns(b, 1, (p) => p, async (agent) => {
    t.is(agent.pending(), undefined);
    return agent.resume();
  });
  t.is(results[0], undefined);
  t.true(lines.some((l) => l.includes("discarding the interrupted download of 0.9.0: 0.9.0 is not newer than the running 1.0.0")), lines.join("\n"));
});

// Offers of any byte size, end to end, with a dropped connection and a power loss on the way.
for (const engine of ENGINES) {
  for (const size of [5003, 64 * KiB + 1, 64 * KiB + 6, 64 * KiB + 19]) {
    test(`${engine}: a ${size}-byte offer (${size % 4} mod 4, ${size % 16} mod 16) with a drop and a reboot: 2.0.0 confirmed`, async (t) => {
      const r = await simUpdate({ engine, existing: board(), size, dropAt: [Math.floor(size / 3)], rebootAt: [Math.floor((2 * size) / 3)] });
      t.true(r.ok, r.reason);
      t.is(r.bootedVersion, "2.0.0");
      t.is(r.imageState, "valid");
      t.is(r.interruptions, 2);
      t.is(r.slotSha256, r.imageSha256);
    });
  }
}
