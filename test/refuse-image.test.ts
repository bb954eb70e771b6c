// On both engines: an image the board cannot run (another chip, a chip revision out of range,
// entry address 0) is refused with -3 before staging; a version that is not SemVer 2.0 is refused
// with -1 before any flash write; untrusted text in reasons is escaped.
import test from "ava";
import { simUpdate, type SimUpdateOptions } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { Journal } from "../src/agent/journal.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import { ENGINES } from "./helpers/engines.ts";
import { createHash } from "node:crypto";

const SIZE = 64 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function freshBoard() {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const slotSha = (label: string) => sha(board.partition(label).read(0, board.partition(label).geometry.size));
  return { board, ota0: slotSha("ota_0"), ota1: slotSha("ota_1"), slotSha };
}

const FOREIGN: [string, SimUpdateOptions["image"], RegExp][] = [
  ["chip id 0x0009 (ESP32-S3)", { chipId: 0x0009 }, /chip id 0x0009 \(ESP32S3\), this board is 0x0000 \(esp32\)/],
  ["chip id 0xFFFF", { chipId: 0xffff }, /chip id 0xffff/],
  ["entry address 0", { entryAddr: 0 }, /entry address 0x0 is outside every segment/],
  ["min chip revision v3.1 on a v3.0 chip", { minChipRevFull: 301 }, /revision >= v3\.1, this chip is v3\.0/],
  ["max chip revision v1.99 on a v3.0 chip", { maxChipRevFull: 199 }, /revision <= v1\.99, this chip is v3\.0/],
];

for (const engine of ENGINES) {
  const run = (o: SimUpdateOptions) => simUpdate({ engine, size: SIZE, ...o });

  for (const [what, image, reason] of FOREIGN) {
    test(`${engine}: an image with ${what} is refused with -3 and never staged`, async (t) => {
      const b = freshBoard();
      const r = await run({ existing: b.board, image });
      t.false(r.ok);
      t.is(r.errorCode, -3);
      t.regex(r.reason, reason);
      t.is(r.bootedSlot, "ota_0");
      t.is(r.bootedVersion, "1.0.0");
      t.is(r.imageState, "valid");
      // Only the bootloader's initial record for ota_0: the boot flag of ota_1 was never written.
      const otadata = b.board.partition("otadata").read(0, 0x2000);
      t.is(otadata[0], 1);
      t.true(otadata.subarray(0x1000).every((x) => x === 0xff), "second otadata sector never written");
      const journal = new Journal(b.board.partition("otajournal"));
      t.is(journal.load().phase, "idle", "the journal ends clean");
      t.is(b.slotSha("ota_0"), b.ota0, "running image untouched");
    });
  }

  for (const version of ["02.0.0", "2.0", " 2.0.0", "v2.0.0", "2.0.0-01"]) {
    test(`${engine}: version ${JSON.stringify(version)} is refused with -1 before any flash write`, async (t) => {
      const b = freshBoard();
      let afterBoot = -1;
      const r = await run({
        existing: b.board,
        image: { version },
        mutateOffer: (o) => ({ ...o, version }),
        onBoot: ({ board }) => void (afterBoot = board.flash.counters.writes + board.flash.counters.erases),
      });
      t.is(r.errorCode, -1);
      t.regex(r.reason, /is not SemVer 2\.0/);
      t.is(b.board.flash.counters.writes + b.board.flash.counters.erases, afterBoot, "no flash operation after boot");
      t.is(r.bytesDownloaded, 0);
      t.is(b.slotSha("ota_1"), b.ota1);
      t.is(r.bootedVersion, "1.0.0");
    });
  }

  for (const [what, o, reason] of [
    ["an image that says 2.0.0 offered as 2.0.0-rc1", { toVersion: "2.0.0-rc1", image: { version: "2.0.0" } }, /image says version "2\.0\.0", the offer 2\.0\.0-rc1/],
    ["an ESP32-S3 image", { image: { chipId: 0x0009 } }, /chip id 0x0009/],
  ] as [string, SimUpdateOptions, RegExp][]) {
    test(`${engine}: ${what} is refused with -3 after its first bytes, before the slot is rewritten`, async (t) => {
      const b = freshBoard();
      const slot = findPartition(b.board.entries, "ota_1")!;
      const slotOps: number[] = [];
      b.board.flash.onOp = (op) => {
        if (op.address >= slot.address && op.address < slot.address + slot.size) slotOps.push(op.address - slot.address);
      };
      const size = 1024 * 1024;
      const r = await run({ existing: b.board, size, ...o });
      t.is(r.errorCode, -3);
      t.regex(r.reason, reason);
      t.deepEqual(slotOps.filter((at) => at >= 4096), [], "nothing beyond the first sector of the slot is erased or written");
      t.true(r.bytesDownloaded < size / 2, `downloaded ${r.bytesDownloaded} of ${size}`);
      t.is(new Journal(b.board.partition("otajournal")).load().phase, "idle");
      t.is(r.bootedVersion, "1.0.0");
    });
  }

  test(`${engine}: a pre-release above the running release installs (2.0.0-rc.1 over 1.0.0)`, async (t) => {
    const r = await run({ existing: freshBoard().board, toVersion: "2.0.0-rc.1" });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0-rc.1");
    t.is(r.imageState, "valid");
  });

  test(`${engine}: pre-releases order by SemVer (2.0.0-rc.10 is newer than the running 2.0.0-rc.9)`, async (t) => {
    const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "2.0.0-rc.9", size: 64 * 1024 }));
    const r = await run({ existing: board, fromVersion: "2.0.0-rc.9", toVersion: "2.0.0-rc.10" });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0-rc.10");
  });

  test(`${engine}: control characters of an image's version are escaped in the reason`, async (t) => {
    const r = await run({
      existing: freshBoard().board,
      image: { version: "2.0.0\u001b[2J\u0007" },
    });
    t.is(r.errorCode, -3);
    t.is(r.reason, 'image says version "2.0.0\\x1b[2J\\x07", the offer 2.0.0');
    t.false(/[\u0000-\u001f\u007f]/.test(r.reason));
  });
}
