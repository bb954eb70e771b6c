// The reduced power-cut set on the XS engine (the full sweep, every operation in every mode, runs
// on Node in torture.test.ts and takes minutes on XS: `xs-ota sim torture --engine xs`):
// - XS performs exactly the flash operations Node performs, in the same order, for an update and
//   for a rollback (so the cut points of both sweeps are the same operations), with either
//   Moddable flash module;
// - a sample of cut points spread over both cycles, in every mode, with second cuts during the
//   recovery, checked by the same invariants as the full sweep (host-sim/torture.ts);
// - the same report as on Node for a set of faults, and the same progress events;
// - seeded random drops and reboots, as the 200-run Node test in resume.test.ts, fewer runs;
// - runs side by side (--jobs) give the same report, progress counts up to a total known from the
//   start, and the command prints progress lines when stderr is not a terminal.
// The named regressions of torture.test.ts run on both engines there.

import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { torture, type TortureProgress } from "../host-sim/torture.ts";
import { simUpdate, type SimUpdateOptions } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import type { FlashOp } from "../host-sim/flash/nor-flash.ts";
import { Rng } from "../host-sim/rng.ts";

const SIZE = 64 * 1024;
const board = () => SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));

async function opsOf(engine: "node" | "xs", failSelfTest: boolean, flashModule?: "flash"): Promise<string[]> {
  const b = board();
  const ops: string[] = [];
  b.flash.onOp = (op: FlashOp, index) => ops.push(`${index} ${op.kind} 0x${op.address.toString(16)} +${op.length}`);
  const r = await simUpdate({ existing: b, size: SIZE, failSelfTest, engine, flashModule });
  if (failSelfTest ? r.errorCode !== -1 : !r.ok) throw new Error(`${engine}: clean run failed: ${r.reason}`);
  return ops;
}

for (const cycle of ["update", "rollback"] as const) {
  test(`xs: the ${cycle} cycle does the same flash operations as on Node`, async (t) => {
    const [node, xs] = [await opsOf("node", cycle === "rollback"), await opsOf("xs", cycle === "rollback")];
    t.true(node.length > 50);
    t.deepEqual(xs, node);
  });
}

// The whole report (bytes received and fetched again included: the XS engine hands the network's
// chunks on at the pace XS reads them) is the one Node gives, fault by fault.
const PARITY: [string, Partial<SimUpdateOptions>][] = [
  ["cut at 30 torn-write", { cutAt: [30], cutMode: "torn-write", seed: 30 }],
  ["cut at 57 before, then at 90", { cutAt: [57, 90], cutMode: "before", seed: 57 }],
  ["cut at 12 torn-erase, rollback", { cutAt: [12], cutMode: "torn-erase", seed: 12, failSelfTest: true }],
  ["reboot-at and drop-at", { rebootAt: [20_000, 41_000], dropAt: [9_000] }],
  ["ignore-range with a drop", { ignoreRange: true, dropAt: [30_000] }],
  ["http errors", { httpErrors: new Map([[1, 503], [2, 404]]) }],
  ["change-etag-at", { changeEtagAt: 40_000 }],
  ["corrupt byte", { corruptByte: 5_000 }],
];
for (const [name, flags] of PARITY) {
  test(`xs: the same report as Node: ${name}`, async (t) => {
    const report = async (engine: "node" | "xs") => {
      const { seconds, ...r } = await simUpdate({ engine, existing: board(), size: SIZE, ...flags });
      t.true(seconds >= 0);
      return { ...r, reason: r.reason.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT") };
    };
    t.deepEqual(await report("xs"), await report("node"));
  });
}

test("xs: with the legacy flash module too (a build without embedded:storage/flash)", async (t) => {
  t.deepEqual(await opsOf("xs", false, "flash"), await opsOf("node", false));
});

test("xs: progress events are the ones Node reports, across a power loss", async (t) => {
  const progress = async (engine: "node" | "xs") => {
    const seen: string[] = [];
    const r = await simUpdate({ engine, existing: board(), size: SIZE, rebootAt: [30_000], onProgress: (p) => seen.push(`${p.phase} ${p.bytes}/${p.total} ${p.percent}%`) });
    t.true(r.ok, r.reason);
    return seen;
  };
  const node = await progress("node");
  t.true(node.length > 20);
  t.deepEqual(await progress("xs"), node);
});

test("xs: sampled power-cut sweep, update and rollback, every mode: no failure", async (t) => {
  const r = await torture({ engine: "xs", size: SIZE, cutPoints: Number(process.env.XS_CUT_POINTS ?? 12), secondCutEvery: 3 });
  t.log(JSON.stringify(r));
  t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
  t.true(r.runs >= 2 * 3 * 8, `${r.runs} runs`);
});

test("xs: seeded random drops and reboots all end on 2.0.0 with the right digest", async (t) => {
  const size = 96 * 1024;
  const rng = new Rng(Number(process.env.RESUME_SEED ?? 20261123) ^ 0x5a5a);
  for (let i = 0; i < 12; i++) {
    const seed = rng.int(2 ** 31);
    const r2 = new Rng(seed);
    const n = 1 + r2.int(4);
    const dropAt: number[] = [];
    const rebootAt: number[] = [];
    for (let k = 0; k < n; k++) (r2.int(2) ? dropAt : rebootAt).push(1 + r2.int(size - 1));
    dropAt.sort((a, b) => a - b);
    rebootAt.sort((a, b) => a - b);
    const r = await simUpdate({ engine: "xs", existing: board(), size, dropAt, rebootAt, seed });
    if (!(r.ok && r.bootedVersion === "2.0.0" && r.slotSha256 === r.imageSha256)) {
      return t.fail(`seed ${seed}: dropAt=${dropAt} rebootAt=${rebootAt}: ${JSON.stringify(r)}`);
    }
  }
  t.pass();
});

test("xs: runs side by side give the same report as one at a time; progress counts to a fixed total", async (t) => {
  const seen: TortureProgress[] = [];
  const o = { engine: "xs" as const, size: SIZE, cutPoints: 4, cycles: ["update" as const, "rollback" as const], modes: ["torn-write" as const], secondCutEvery: 2 };
  const { seconds: s1, ...one } = await torture({ ...o, jobs: 1 });
  const { seconds: s2, ...two } = await torture({ ...o, jobs: 2, onProgress: (p) => seen.push(p) });
  t.true(s1 > 0 && s2 > 0);
  t.deepEqual(two, one);
  t.is(one.runs, 8);
  t.deepEqual(seen.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.true(seen.every((p) => p.total === 8 && p.failures === 0));
});

test("xs: without a terminal the torture command prints progress lines on stderr, and --json stays one object", async (t) => {
  const cli = fileURLToPath(new URL("../host-sim/cli.ts", import.meta.url));
  const script = `const { main } = await import(${JSON.stringify(cli)}); await main(["node", "xs-ota", ...process.argv.slice(1)]);`;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ["--import=tsx", "--input-type=module", "-e", script, "--", "sim", "torture", "--engine", "xs", "--cycle", "update", "--cut-points", "2", "--json"],
    { env: { ...process.env, FORCE_COLOR: "0" } },
  );
  const report = JSON.parse(stdout);
  t.is(report.runs, 6);
  t.is(stdout.trim().split("\n").length, 1);
  const lines = stderr.split("\n").filter((l) => l.startsWith("torture: "));
  t.true(lines.length >= 2, stderr);
  t.regex(lines[0]!, /^torture: 1\/6 runs, 0 failures, \d+ s(, about .+ left)?$/);
  t.regex(lines.at(-1)!, /^torture: 6\/6 runs, 0 failures, \d+ s$/);
});
