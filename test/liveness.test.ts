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
