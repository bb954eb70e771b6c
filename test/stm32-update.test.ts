// Whole updates on the STM32 boards (host-sim/layout-board.ts): stm32f4-1mb with the simulated
// MCUboot (swap-move) and stm32l4-dualbank-1mb with the ROM's bank swap and ECC write-once flash,
// on both engines: an update, a rollback after a failed self-test, the resume flags, and the
// refusals of a keyed board (unsigned, wrong key, tampered, lower security counter): -3 before
// anything is staged, the running image untouched.

import test from "ava";
import { generateKeyPairSync } from "node:crypto";
import { simUpdate, type SimUpdateOptions } from "../host-sim/sim-update.ts";
import { LayoutBoard, type LayoutProfile } from "../host-sim/layout-board.ts";
import { boardProfile, layoutEntry } from "../host-sim/boards/profiles.ts";
import { buildStm32Image, ed25519KeyFromName } from "../host-sim/stm32-images.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";
import { readCurrentFlag } from "../src/targets/stm32-dualbank/boot-flags.ts";
import { bootBankOf, decodeOptionBytes, OB_RECORD_SIZE } from "../src/targets/stm32-dualbank/option-bytes.ts";
import { ENGINES, type Engine } from "./helpers/engines.ts";

const BOARDS = ["stm32f4-1mb", "stm32l4-dualbank-1mb"] as const;
const SIZE = 200 * 1024;
const BASE = 64 * 1024;

function fresh(name: string, securityCounter?: number) {
  const profile = boardProfile(name) as LayoutProfile;
  const format = profile.target === "mcuboot" ? "mcuboot" : "bank";
  const factory = buildStm32Image({ format, version: "1.0.0", size: BASE, securityCounter });
  return { board: LayoutBoard.create(profile, factory), factory, profile };
}

/** Nothing selects another image: the MCUboot secondary trailer is erased, the dual-bank flag
 * region holds no record and BFB2 still selects bank 1. */
function nothingStaged(board: LayoutBoard): string | undefined {
  const p = board.profile;
  if (p.target === "mcuboot") {
    const c = new McubootBootControl(board.partition(p.mcuboot.primary), board.partition(p.mcuboot.secondary), { strategy: p.mcuboot.strategy });
    const magic = c.secondaryState().magic;
    return magic === "unset" ? undefined : `secondary magic ${magic}`;
  }
  const flag = readCurrentFlag(board.partition(p.dualBank.flags));
  if (flag) return `flag record ${JSON.stringify(flag)}`;
  const bank = bootBankOf(decodeOptionBytes(board.partition(p.dualBank.optionBytes).read(0, OB_RECORD_SIZE)).optr);
  return bank === 1 ? undefined : `BFB2 selects bank ${bank}`;
}

function runningBytes(board: LayoutBoard, n: number): Uint8Array {
  const p = board.profile;
  const label = p.target === "mcuboot" ? p.mcuboot.primary : p.dualBank.banks[0];
  return board.partition(label).read(0, n);
}

// Both boards on both engines (engine xs: the Moddable platform layer opens the MCUboot primary
// read-only and its trailer sector as a writable partition of its own, and takes the F4's mixed
// sectors from its sectorMap option).
const RUNS: [string, Engine][] = ["stm32f4-1mb", "stm32l4-dualbank-1mb"].flatMap((b) => ENGINES.map((e): [string, Engine] => [b, e]));

for (const [name, engine] of RUNS) {
  const at = `${engine}: ${name}`;
  test(`${at}: an update ends on 2.0.0, confirmed, with the served bytes in the booted slot`, async (t) => {
    const { board } = fresh(name);
    const r = await simUpdate({ engine, existing: board, size: SIZE });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.imageState, "confirmed");
    t.is(r.slotSha256, r.imageSha256);
    t.is(r.bootedSlot, name === "stm32f4-1mb" ? "primary" : "bank2");
    t.is(board.peek().version, "2.0.0", "the next power-on boots 2.0.0 again");
  });

  test(`${at}: a failed self-test rolls back to 1.0.0, which stays confirmed`, async (t) => {
    const { board, factory } = fresh(name);
    const r = await simUpdate({ engine, existing: board, size: SIZE, failSelfTest: true });
    t.is(r.errorCode, -1);
    t.regex(r.reason, /failed its self-test/);
    t.is(r.bootedVersion, "1.0.0");
    t.is(r.imageState, "confirmed");
    t.deepEqual(runningBytes(board, factory.length), factory);
    t.is(board.peek().version, "1.0.0");
  });

  test(`${at}: --drop-at and --reboot-at resume from the journal and end on 2.0.0`, async (t) => {
    const { board } = fresh(name);
    const r = await simUpdate({ engine, existing: board, size: SIZE, dropAt: [40_000, 170_000], rebootAt: [150_000] });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.deepEqual(r.warnings, []);
    t.true(r.interruptions >= 3, `${r.interruptions} interruptions`);
    // Resumed, not started again: less than one image fetched twice.
    t.true(r.bytesFetchedAgain < SIZE, `${r.bytesFetchedAgain} bytes fetched again`);
  });

  const refusals: [string, Partial<SimUpdateOptions>, RegExp][] = [
    ["an unsigned image", { signKey: null }, /not signed/],
    ["an image signed with another key", { signKey: ed25519KeyFromName("someone else") }, /KEYHASH|signature/],
    ["an ECDSA P-256 image by a key the board does not know", { signKey: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey }, /KEYHASH|signature/],
    ["a tampered image (the offer's digests match the tampered bytes)", { tamperByte: 5000 }, /sha256 does not match|hash/i],
    ["an image whose security counter is below the running one", { securityCounter: 2, fromSecurityCounter: 3 }, /security counter|SEC_CNT/i],
  ];
  for (const [what, extra, why] of refusals) {
    test(`${at}: ${what} is refused with -3 before anything is staged`, async (t) => {
      const { board, factory } = fresh(name, extra.fromSecurityCounter);
      const r = await simUpdate({ engine, existing: board, size: SIZE, ...extra });
      t.is(r.errorCode, -3, r.reason);
      t.regex(r.reason, why);
      t.is(r.bootedVersion, "1.0.0");
      t.is(nothingStaged(board), undefined);
      t.deepEqual(runningBytes(board, factory.length), factory, "the running image is untouched");
      t.is(board.peek().version, "1.0.0");
    });
  }

  test(`${at}: a higher security counter is accepted, and the journal sits in its own region`, async (t) => {
    const { board, profile } = fresh(name, 3);
    const r = await simUpdate({ engine, existing: board, size: SIZE, securityCounter: 4 });
    t.true(r.ok, r.reason);
    t.truthy(layoutEntry(profile, board.journalLabel));
  });
}

// A cut tearing boot_set_pending's magic in a secondary whose last sector also holds the image
// (a 300 KiB image in 3 x 128 KiB): the torn trailer cannot be erased without the image's tail,
// so the download resumes from that sector and the update still ends on 2.0.0.
test("stm32f4-1mb: a torn boot_set_pending in the sector the image shares: that sector is written again", async (t) => {
  const size = 300 * 1024;
  const probe = fresh("stm32f4-1mb").board;
  const secondary = layoutEntry(probe.profile, "secondary");
  const magicAt = secondary.offset + secondary.size - 16;
  let magicOp = 0;
  probe.flash.onOp = (op, index) => {
    if (op.kind === "write" && magicOp === 0 && op.address <= magicAt && magicAt < op.address + op.length) magicOp = index;
  };
  t.true((await simUpdate({ existing: probe, size })).ok);
  t.true(magicOp > 0);
  const { board } = fresh("stm32f4-1mb");
  const lines: string[] = [];
  const r = await simUpdate({ existing: board, size, cutAt: [magicOp], cutMode: "torn-write", seed: 1002678, log: (l) => lines.push(l) });
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.slotSha256, r.imageSha256);
  t.true(lines.some((l) => /torn trailer shares the sector/.test(l)), "the torn magic was seen");
  t.true(r.bytesFetchedAgain <= 128 * 1024, `${r.bytesFetchedAgain} bytes fetched again`);
});

// Engine xs runs the MCUboot board's update as node does: the same report but for the timings.
test("stm32f4-1mb: engine xs gives node's report (timings aside), with a failed self-test too", async (t) => {
  const strip = (r: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!/ms$|Ms$|seconds|elapsed|time/i.test(k)) out[k] = v;
    return out;
  };
  for (const extra of [{}, { failSelfTest: true }, { rebootAt: [120_000] }]) {
    const node = await simUpdate({ board: "stm32f4-1mb", engine: "node", size: SIZE, ...extra });
    const xs = await simUpdate({ board: "stm32f4-1mb", engine: "xs", size: SIZE, ...extra });
    t.deepEqual(strip(xs as unknown as Record<string, unknown>), strip(node as unknown as Record<string, unknown>), JSON.stringify(extra));
  }
});
