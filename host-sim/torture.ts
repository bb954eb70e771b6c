// `xs-ota sim torture`: a power cut at every flash operation of an update (and of a rollback),
// in every mode (before / torn-write / torn-erase), with a second cut during the recovery for a
// sample of runs. After every boot and at the end it checks that:
//  1. the bootloader booted an image that passes full verification and is exactly one of the
//     two known images (never a partial or mixed one);
//  2. the cycle completes: update -> 2.0.0 confirmed, rollback -> 1.0.0 running and valid;
//  3. a staged slot always holds the offered image (the journal never staged a bad one);
//  4. the old slot's bytes are untouched.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { simUpdate, type BootInfo, type SimUpdateReport } from "./sim-update.ts";
import { SimBoard } from "./board.ts";
import { boardProfile, layoutEntry, profile } from "./boards/profiles.ts";
import { LayoutBoard } from "./layout-board.ts";
import { buildStm32Image } from "./stm32-images.ts";
import { buildImageOfSize, buildTestImage } from "./image-builder.ts";
import { CUT_MODES, type CutMode } from "./flash/nor-flash.ts";
import { Rng } from "./rng.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";

export type Cycle = "update" | "rollback";
/** Where the runtime runs (simUpdate's engine). */
export type Engine = "node" | "xs" | "qemu";

export interface TortureOptions {
  size?: number;
  modes?: CutMode[];
  cycles?: Cycle[];
  seed?: number;
  /** One run in this many gets a second cut during its recovery (0: none). */
  secondCutEvery?: number;
  /** Where the runtime runs (simUpdate's engine). Default "node". */
  engine?: Engine;
  /** The simulated board (default esp32-4mb; also stm32f4-1mb, stm32l4-dualbank-1mb). */
  board?: string;
  /** Which cut points to run per cycle and mode: every flash operation of the uncut cycle
   * (default), or a sample of this many, spread evenly over the cycle (first and last included;
   * each mode shifted so that the modes cut at different operations). */
  cutPoints?: number;
  /** Runs at a time, each more than 1 in its own worker thread (with its own simulated board,
   * server and, on engine "xs", XS workers). Default: engine "xs" one per CPU core; engine
   * "node" 1. The report is the same for any value. */
  jobs?: number;
  /** With cutPoints: also cut at every write and erase of the journal partition (each journal
   * record, the staging one included, whatever the sample). */
  cutJournal?: boolean;
  /** Every update is a delta update (sim update's `delta`: the server patches the running 1.0.0
   * into the target). */
  delta?: boolean;
  /** After every run: runs done and the total (known from the start). */
  onRun?: (done: number, total: number) => void;
  /** After every run, with the failures so far (see tortureProgressLines). */
  onProgress?: (p: TortureProgress) => void;
}

export interface TortureProgress {
  done: number;
  total: number;
  failures: number;
  /** Seconds since the sweep started. */
  seconds: number;
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
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

export async function torture(o: TortureOptions = {}): Promise<TortureReport> {
  const t0 = performance.now();
  const size = o.size ?? 64 * 1024;
  const modes = o.modes ?? [...CUT_MODES];
  const cycles = o.cycles ?? ["update", "rollback"];
  const seed = o.seed ?? 1;
  const every = o.secondCutEvery ?? 5;
  const engine = o.engine ?? "node";
  const setup = runSetup({ size, engine, delta: o.delta === true, board: o.board ?? "esp32-4mb" });
  const runOnce = (cycle: Cycle, cutAt: number[], mode: CutMode, runSeed: number) => tortureRun(setup, { cycle, cuts: cutAt, mode, seed: runSeed });
  const report: TortureReport = { cycles, modes, cutPoints: {}, runs: 0, failures: 0, firstFailure: null, seconds: 0 };
  const rng = new Rng(seed);

  // The uncut cycles first: their flash operations are the cut points, so the total is known.
  const journalOps: Partial<Record<Cycle, number[]>> = {};
  for (const cycle of cycles) {
    const base = await runOnce(cycle, [], "before", seed);
    if (base.problem) throw new Error(`uncut ${cycle} cycle fails: ${base.problem}`);
    report.cutPoints[cycle] = base.ops;
    journalOps[cycle] = base.journalOps;
  }
  const plan: PlannedRun[] = [];
  for (const cycle of cycles) {
    const n = report.cutPoints[cycle]!;
    for (const mode of modes) {
      const m = modes.indexOf(mode);
      const points = o.cutPoints === undefined
        ? Array.from({ length: n }, (_, i) => i + 1)
        : [...new Set([...samplePoints(n, o.cutPoints, m, modes.length), ...(o.cutJournal ? journalOps[cycle] ?? [] : [])])].sort((a, b) => a - b);
      for (const k of points) {
        const cuts = [k];
        if (every > 0 && (k + m) % every === 0) cuts.push(k + 1 + rng.int(Math.max(1, n)));
        plan.push({ cycle, mode, cuts, seed: seed * 1000003 + k * 7 + m });
      }
    }
  }
  const problems = await runPlan(plan, o.jobs ?? (engine === "xs" ? availableParallelism() : 1), setup, (done, failures) => {
    o.onRun?.(done, plan.length);
    o.onProgress?.({ done, total: plan.length, failures, seconds: (performance.now() - t0) / 1000 });
  });
  plan.forEach((run, i) => {
    report.runs++;
    const problem = problems[i];
    if (!problem) return;
    report.failures++;
    report.firstFailure ??= {
      cycle: run.cycle, cutAt: run.cuts, mode: run.mode, seed: run.seed, problem,
      command: `xs-ota sim update${setup.board === "esp32-4mb" ? "" : ` --board ${setup.board}`} --size ${size} --cut-at ${run.cuts.join(",")} --cut-mode ${run.mode} --seed ${run.seed}${run.cycle === "rollback" ? " --fail-self-test" : ""}${engine === "node" ? "" : ` --engine ${engine}`}${o.delta ? " --delta" : ""}`,
    };
  });
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/** What every run of a sweep shares: the two images and how to tell them apart. */
export interface RunSetup {
  size: number;
  engine: Engine;
  delta?: boolean;
  board: string;
  oldImage: Uint8Array;
  newImage: Uint8Array;
}

export function runSetup(o: LaneSetup): RunSetup {
  const board = o.board ?? "esp32-4mb";
  const p = boardProfile(board);
  if (p.target === "mcuboot" || p.target === "stm32-dualbank") {
    const format = p.target === "mcuboot" ? "mcuboot" : "bank";
    return {
      ...o, board,
      oldImage: buildStm32Image({ format, version: "1.0.0", size: BASE_SIZE }),
      newImage: buildStm32Image({ format, version: "2.0.0", size: o.size, build: 1 }),
    };
  }
  return {
    ...o, board,
    oldImage: buildTestImage({ version: "1.0.0", size: BASE_SIZE }),
    newImage: buildImageOfSize({ version: "2.0.0", size: o.size, build: 1 }),
  };
}

/** A fresh board of the sweep, its journal region and the slot the old image must stay intact
 * in (none on MCUboot: its swap moves the old image into the secondary slot, and every boot's
 * check covers what runs). */
function sweepBoard(setup: RunSetup): { board: SimBoard | LayoutBoard; journal?: { address: number; size: number }; oldSlot?: string } {
  const p = boardProfile(setup.board);
  if (p.target === "mcuboot" || p.target === "stm32-dualbank") {
    const board = LayoutBoard.create(p, setup.oldImage);
    const j = layoutEntry(p, board.journalLabel);
    return { board, journal: { address: j.offset, size: j.size }, oldSlot: p.target === "stm32-dualbank" ? p.dualBank.banks[0] : undefined };
  }
  const board = SimBoard.create(profile(setup.board), setup.oldImage);
  return { board, journal: findPartition(board.entries, "otajournal"), oldSlot: "ota_0" };
}

/** One run of the sweep on a fresh board: the cycle with its cuts, checked after every boot and
 * at the end. Returns the flash operations done and the first problem seen. */
export async function tortureRun(setup: RunSetup, run: PlannedRun): Promise<{ ops: number; journalOps: number[]; problem?: string }> {
  const { size, engine, oldImage, newImage } = setup;
  const { cycle, cuts: cutAt, mode, seed: runSeed } = run;
  const versionOf = (bytes: Uint8Array): string | undefined =>
    same(bytes, oldImage) ? "1.0.0" : bytes.length === newImage.length && same(bytes, newImage) ? "2.0.0" : undefined;
  const { board, journal, oldSlot } = sweepBoard(setup);
  // The uncut run records which operations touch the journal (TortureOptions.cutJournal).
  const journalOps: number[] = [];
  if (journal && cutAt.length === 0) {
    board.flash.onOp = (op, index) => {
      if (op.address >= journal.address && op.address < journal.address + journal.size) journalOps.push(index);
    };
  }
  const oldSlotIntact = () => !oldSlot || same(board.partition(oldSlot).read(0, oldImage.length), oldImage);
  const problems: string[] = [];
  const onBoot = (b: BootInfo) => {
    const slot = b.board.partition(b.slot);
    const bytes = slot.read(0, b.version === "2.0.0" ? newImage.length : oldImage.length);
    const v = versionOf(bytes);
    if (v !== b.version) problems.push(`booted ${b.slot} reporting ${b.version}, its bytes are ${v ?? "unknown"}`);
    if (!oldSlotIntact()) problems.push("old slot modified");
  };
  let r: SimUpdateReport;
  try {
    r = await simUpdate({
      existing: board, size, cutAt, cutMode: mode, seed: runSeed, onBoot,
      failSelfTest: cycle === "rollback", maxBoots: 20, engine, delta: setup.delta ? {} : undefined,
    });
  } catch (e) {
    return { ops: board.flash.ops, journalOps, problem: `threw: ${e instanceof Error ? e.message : String(e)}` };
  }
  const settled = r.imageState === "valid" || r.imageState === "confirmed";
  if (cycle === "update" && !(r.ok && r.bootedVersion === "2.0.0" && settled && r.slotSha256 === r.imageSha256)) {
    problems.push(`update cycle ended ${r.bootedVersion || "bricked"} (${r.imageState}): ${r.errorCode} ${r.reason}`);
  }
  if (cycle === "rollback" && !(r.bootedVersion === "1.0.0" && settled && r.errorCode === -1)) {
    problems.push(`rollback cycle ended ${r.bootedVersion || "bricked"} (${r.imageState}): ${r.errorCode} ${r.reason}`);
  }
  if (!oldSlotIntact()) problems.push("old slot modified");
  return { ops: board.flash.ops, journalOps, problem: problems[0] };
}

export interface PlannedRun {
  cycle: Cycle;
  mode: CutMode;
  cuts: number[];
  seed: number;
}

/** Runs the plan: in this thread when `jobs` is 1, else in `jobs` worker threads (torture-lane.ts)
 * that each take the next run when done, so the host side of the runs (simulated board, server,
 * XS bridge) is spread over the cores too. The problems come back in plan order. */
async function runPlan(
  plan: PlannedRun[],
  jobs: number,
  setup: RunSetup,
  onDone: (done: number, failures: number) => void,
): Promise<(string | undefined)[]> {
  const problems: (string | undefined)[] = new Array(plan.length);
  let done = 0;
  let failures = 0;
  const finished = (i: number, problem: string | undefined): void => {
    problems[i] = problem;
    done++;
    if (problem) failures++;
    onDone(done, failures);
  };
  const lanes = Math.max(1, Math.min(Math.floor(jobs) || 1, plan.length));
  if (lanes === 1) {
    for (let i = 0; i < plan.length; i++) finished(i, (await tortureRun(setup, plan[i]!)).problem);
    return problems;
  }
  const workers: Worker[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: lanes }, () => new Promise<void>((resolve, reject) => {
        const worker = laneWorker({ size: setup.size, engine: setup.engine, delta: setup.delta, board: setup.board });
        workers.push(worker);
        const feed = (): void => {
          if (next < plan.length) {
            const i = next++;
            worker.postMessage({ i, run: plan[i] });
          } else worker.postMessage(null);
        };
        worker.on("message", (m: LaneResult) => {
          finished(m.i, m.problem);
          feed();
        });
        worker.once("error", reject);
        worker.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`torture lane stopped with exit code ${code}`))));
        feed();
      })),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return problems;
}

/** A worker thread running torture-lane. From the sources (tests, tsx) the thread registers tsx
 * itself first: Node 20 does not apply the main thread's --import loader to worker threads. */
/** What a lane needs to rebuild the sweep's RunSetup. */
export interface LaneSetup {
  size: number;
  engine: Engine;
  delta?: boolean;
  board?: string;
}

function laneWorker(setup: LaneSetup): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./torture-lane.js", import.meta.url), { workerData: setup });
  const entry = new URL("./torture-lane.ts", import.meta.url).href;
  const code = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: setup });
}

/** A lane's answer for run `i` of the plan. */
export interface LaneResult {
  i: number;
  ops: number;
  problem?: string;
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

/** An onProgress callback for logs, where a redrawn counter cannot work (stderr not a terminal,
 * CI): a line after the first run, then at most one every `everyMs` of the sweep, and one at the
 * end, e.g. "torture: 120/4698 runs, 0 failures, 30 s, about 19 min left" (no estimate in the
 * first 10 s, unless 1 % is done). */
export function tortureProgressLines(write: (line: string) => void, everyMs = 10_000): (p: TortureProgress) => void {
  let printed = -Infinity;
  return (p) => {
    const end = p.done === p.total;
    if (!(p.done === 1 || end || (p.seconds - printed) * 1000 >= everyMs)) return;
    printed = p.seconds;
    // an estimate once the sample says something (the first run also ran the uncut cycles)
    const left = end || (p.seconds < 10 && p.done * 100 < p.total) ? "" : `, about ${duration((p.seconds / p.done) * (p.total - p.done))} left`;
    write(`torture: ${p.done}/${p.total} runs, ${p.failures} ${p.failures === 1 ? "failure" : "failures"}, ${duration(p.seconds)}${left}`);
  };
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
