// npm run bench:torture — one JSON line: the power-cut sweep's speed per engine, from a sample of
// cut points on the 512 KiB image of `npm run torture`, and the full sweep's time extrapolated.
// {sizeBytes, fullSweepRuns, cpus, loadAverage, node: {...}, xs: {...}} where each engine has
// {jobs, runs, seconds, runsPerSecond, cpuSeconds, fullSweepSeconds}. cpuSeconds counts this
// process and its XS workers; on a shared machine runsPerSecond follows the load (loadAverage is
// the 1-minute figure at the start), cpuSeconds much less.
// Options (environment): BENCH_CUT_POINTS (default 20 per cycle and mode), BENCH_ENGINES
// ("node,xs"), BENCH_JOBS (default: torture's).
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { torture } from "../host-sim/torture.ts";

const size = 512 * 1024;
const cutPoints = Number(process.env.BENCH_CUT_POINTS ?? 20);
const engines = (process.env.BENCH_ENGINES ?? "node,xs").split(",") as ("node" | "xs")[];
const jobs = process.env.BENCH_JOBS ? Number(process.env.BENCH_JOBS) : undefined;

const cpuSeconds = (): number => {
  const self = process.cpuUsage();
  return (self.user + self.system) / 1e6;
};

const result: Record<string, unknown> = { sizeBytes: size, cpus: availableParallelism(), loadAverage: Number(loadavg()[0]!.toFixed(2)) };
for (const engine of engines) {
  const before = cpuSeconds() + childCpuSeconds();
  const r = await torture({ engine, size, cutPoints, jobs });
  if (r.failures) throw new Error(`bench sweep failed: ${r.firstFailure?.problem}`);
  const fullSweepRuns = 3 * Object.values(r.cutPoints).reduce((a, b) => a + b, 0);
  result.fullSweepRuns = fullSweepRuns;
  result[engine] = {
    jobs: jobs ?? (engine === "xs" ? availableParallelism() : 1),
    runs: r.runs,
    seconds: Number(r.seconds.toFixed(2)),
    runsPerSecond: Number((r.runs / r.seconds).toFixed(2)),
    cpuSeconds: Number((cpuSeconds() + childCpuSeconds() - before).toFixed(2)),
    fullSweepSeconds: Math.round((fullSweepRuns * r.seconds) / r.runs),
  };
}
console.log(JSON.stringify(result));

/** CPU time of the XS workers that have exited and been waited for (proc(5): cutime and cstime,
 * fields 16 and 17 of /proc/self/stat, in clock ticks of 1/100 s on Linux); 0 elsewhere. */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}
