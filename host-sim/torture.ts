// `xs-ota sim torture`: a power cut at every flash operation of an update (and of a rollback),
// in every mode (before / torn-write / torn-erase), with a second cut during the recovery for a
// sample of runs. After every boot and at the end it checks that:
//  1. the bootloader booted an image that passes full verification and is exactly one of the
//     two known images (never a partial or mixed one);
//  2. the cycle completes: update -> 2.0.0 confirmed, rollback -> 1.0.0 running and valid;
//  3. a staged slot always holds the offered image (the journal never staged a bad one);
//  4. the old slot's bytes are untouched.

import { createHash } from "node:crypto";
import { simUpdate, type BootInfo, type SimUpdateReport } from "./sim-update.ts";
import { SimBoard } from "./board.ts";
import { profile } from "./boards/profiles.ts";
import { buildImageOfSize, buildTestImage } from "./image-builder.ts";
import { CUT_MODES, type CutMode } from "./flash/nor-flash.ts";
import { Rng } from "./rng.ts";
import { findPartition } from "../src/flash/partition-table.ts";

export type Cycle = "update" | "rollback";

export interface TortureOptions {
  size?: number;
  modes?: CutMode[];
  cycles?: Cycle[];
  seed?: number;
  /** One run in this many gets a second cut during its recovery (0: none). */
  secondCutEvery?: number;
  /** Where the runtime runs (simUpdate's engine). Default "node". */
  engine?: "node" | "xs" | "qemu";
  /** Which cut points to run per cycle and mode: every flash operation of the uncut cycle
   * (default), or a sample of this many, spread evenly over the cycle (first and last included;
   * each mode shifted so that the modes cut at different operations). */
  cutPoints?: number;
  /** With cutPoints: also cut at every write and erase of the journal partition (each journal
   * record, the staging one included, whatever the sample). */
  cutJournal?: boolean;
  onRun?: (done: number, total: number) => void;
}

export interface TortureFailure {
  cycle: Cycle;
  cutAt: number[];
  mode: CutMode;
  seed: number;
  problem: string;
  command: string;
}

export interface TortureReport {
  cycles: Cycle[];
  modes: CutMode[];
  /** Flash operations of the uncut cycle, per cycle: the cut points swept. */
  cutPoints: Record<string, number>;
  runs: number;
  failures: number;
  firstFailure: TortureFailure | null;
  seconds: number;
}

const BASE_SIZE = 64 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export async function torture(o: TortureOptions = {}): Promise<TortureReport> {
  const t0 = performance.now();
  const size = o.size ?? 64 * 1024;
  const modes = o.modes ?? [...CUT_MODES];
  const cycles = o.cycles ?? ["update", "rollback"];
  const seed = o.seed ?? 1;
  const every = o.secondCutEvery ?? 5;
  const engine = o.engine ?? "node";
  const oldImage = buildTestImage({ version: "1.0.0", size: BASE_SIZE });
  const newImage = buildImageOfSize({ version: "2.0.0", size, build: 1 });
  const known = new Map([[sha(oldImage), "1.0.0"], [sha(newImage), "2.0.0"]]);
  const report: TortureReport = { cycles, modes, cutPoints: {}, runs: 0, failures: 0, firstFailure: null, seconds: 0 };
  const rng = new Rng(seed);

  for (const cycle of cycles) {
    const base = await runOnce(cycle, [], "before", seed);
    if (base.problem) throw new Error(`uncut ${cycle} cycle fails: ${base.problem}`);
    const n = base.ops;
    report.cutPoints[cycle] = n;
    const points = (mode: CutMode): number[] =>
      o.cutPoints === undefined
        ? Array.from({ length: n }, (_, i) => i + 1)
        : [...new Set([...samplePoints(n, o.cutPoints, modes.indexOf(mode), modes.length), ...(o.cutJournal ? base.journalOps : [])])].sort((a, b) => a - b);
    const total = modes.reduce((sum, mode) => sum + points(mode).length, 0);
    for (const mode of modes) {
      for (const k of points(mode)) {
        const runSeed = seed * 1000003 + k * 7 + modes.indexOf(mode);
        const cuts = [k];
        if (every > 0 && (k + modes.indexOf(mode)) % every === 0) cuts.push(k + 1 + rng.int(Math.max(1, n)));
        const r = await runOnce(cycle, cuts, mode, runSeed);
        report.runs++;
        o.onRun?.(report.runs, total * cycles.length);
        if (r.problem) {
          report.failures++;
          report.firstFailure ??= {
            cycle, cutAt: cuts, mode, seed: runSeed, problem: r.problem,
            command: `xs-ota sim update --size ${size} --cut-at ${cuts.join(",")} --cut-mode ${mode} --seed ${runSeed}${cycle === "rollback" ? " --fail-self-test" : ""}${engine === "node" ? "" : ` --engine ${engine}`}`,
          };
        }
      }
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;

  async function runOnce(cycle: Cycle, cutAt: number[], mode: CutMode, runSeed: number): Promise<{ ops: number; journalOps: number[]; problem?: string }> {
    const board = SimBoard.create(profile("esp32-4mb"), oldImage);
    const journal = findPartition(board.entries, "otajournal");
    const journalOps: number[] = [];
    if (journal && cutAt.length === 0) {
      board.flash.onOp = (op, index) => {
        if (op.address >= journal.address && op.address < journal.address + journal.size) journalOps.push(index);
      };
    }
    const oldSlot = () => sha(board.partition("ota_0").read(0, oldImage.length));
    const problems: string[] = [];
    const onBoot = (b: BootInfo) => {
      const slot = b.board.partition(b.slot);
      const bytes = slot.read(0, b.version === "2.0.0" ? newImage.length : oldImage.length);
      const v = known.get(sha(bytes));
      if (v !== b.version) problems.push(`booted ${b.slot} reporting ${b.version}, its bytes are ${v ?? "unknown"}`);
      if (oldSlot() !== sha(oldImage)) problems.push("old slot modified");
    };
    let r: SimUpdateReport;
    try {
      r = await simUpdate({
        existing: board, size, cutAt, cutMode: mode, seed: runSeed, onBoot,
        failSelfTest: cycle === "rollback", maxBoots: 20, engine,
      });
    } catch (e) {
      return { ops: board.flash.ops, journalOps, problem: `threw: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (cycle === "update" && !(r.ok && r.bootedVersion === "2.0.0" && r.imageState === "valid" && r.slotSha256 === r.imageSha256)) {
      problems.push(`update cycle ended ${r.bootedVersion || "bricked"} (${r.imageState}): ${r.errorCode} ${r.reason}`);
    }
    if (cycle === "rollback" && !(r.bootedVersion === "1.0.0" && r.imageState === "valid" && r.errorCode === -1)) {
      problems.push(`rollback cycle ended ${r.bootedVersion || "bricked"} (${r.imageState}): ${r.errorCode} ${r.reason}`);
    }
    if (oldSlot() !== sha(oldImage)) problems.push("old slot modified");
    return { ops: board.flash.ops, journalOps, problem: problems[0] };
  }
}

/** `count` of the operations 1..n, evenly spread (1 and n included), shifted by part
 * `shift / parts` of the step so that each mode samples different operations. */
export function samplePoints(n: number, count: number, shift = 0, parts = 1): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i + 1);
  if (count <= 1) return [1];
  const step = (n - 1) / (count - 1);
  const offset = Math.floor((step * shift) / Math.max(1, parts));
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.min(n, Math.max(1, Math.round(1 + i * step) + (i > 0 && i < count - 1 ? offset : 0))));
  return [...out].sort((a, b) => a - b);
}
