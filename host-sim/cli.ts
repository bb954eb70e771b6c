// The xs-ota CLI: partition tables, test firmware, simulated updates and the power-cut sweep.

import { Command, InvalidArgumentError, Option } from "commander";
import { buildPartitionsCommand, showPartitionsCommand } from "./partitions-csv.ts";
import { imageBuildCommand, parseSize } from "./image-builder.ts";
import { simUpdate, DEFAULT_SIZE, type SimUpdateOptions, type SimUpdateReport } from "./sim-update.ts";
import { CUT_MODES, type CutMode } from "./flash/nor-flash.ts";
import { progressBar } from "./progress.ts";
import { torture, tortureProgressLines, type Cycle } from "./torture.ts";
import { simProtocolUpdate, PROTOCOLS, type Protocol } from "./cloud/sim-protocol.ts";

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a non-negative integer`);
  return n;
}

function intList(v: string): number[] {
  return v.split(",").filter((x) => x !== "").map(int);
}

function size(v: string): number {
  try {
    return parseSize(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

function httpErrors(v: string, prev: Map<number, number> = new Map()): Map<number, number> {
  for (const item of v.split(",")) {
    const m = /^(\d+):(\d{3})$/.exec(item.trim());
    if (!m) throw new InvalidArgumentError(`--http-error wants N:CODE, got ${JSON.stringify(item)}`);
    prev.set(Number(m[1]), Number(m[2]));
  }
  return prev;
}

export function summary(r: SimUpdateReport): string {
  const lines = [
    r.ok ? `Update ${r.fromVersion} -> ${r.toVersion}: OK` : `Update ${r.fromVersion} -> ${r.toVersion}: FAILED (${r.errorCode}) ${r.reason}`,
    `  booted      ${r.bootedSlot || "-"} running ${r.bootedVersion || "-"} (${r.imageState})`,
    `  downloaded  ${r.bytesDownloaded} bytes, ${r.bytesFetchedAgain} fetched again, ${r.interruptions} interruptions`,
    `  flash       ${r.flashErases} sector erases, ${r.flashWrites} writes`,
    `  time        ${r.seconds.toFixed(2)} s over ${r.boots} boots`,
  ];
  if (r.ok) lines.splice(1, 0, `  ${r.reason}`);
  return lines.join("\n");
}

export function program(): Command {
  const cli = new Command("xs-ota").description("Over-the-air updates for Moddable XS devices: host tools and simulator");
  cli.exitOverride();

  const parts = cli.command("partitions").description("ESP-IDF partition tables (gen_esp32part.py compatible)");
  parts.command("build <in_csv> <out_bin>").description("partitions.csv -> binary table").action((i: string, out: string) => {
    const entries = buildPartitionsCommand(i, out);
    console.log(`wrote ${out}: ${entries.length} partitions`);
  });
  parts.command("show <in_bin>").description("binary table (or a flash dump) -> CSV").action((i: string) => {
    process.stdout.write(showPartitionsCommand(i));
  });

  cli.command("image").description("test firmware").command("build")
    .description("build a valid ESP32 app image with deterministic content")
    .requiredOption("--version <v>", "version in esp_app_desc")
    .option("--size <size>", "total size (e.g. 1MiB, 64KiB)", "1MiB")
    .option("--build <n>", "variant of the same version", int, 1)
    .option("--secure-version <n>", "esp_app_desc secure_version", int, 0)
    .requiredOption("-o, --out <file>", "output file")
    .action((opts: { version: string; size: string; build: number; secureVersion: number; out: string }) => {
      const r = imageBuildCommand({ version: opts.version, size: opts.size, out: opts.out, build: opts.build, secureVersion: opts.secureVersion });
      console.log(`wrote ${r.out}: ${r.size} bytes, sha256 ${r.sha256}`);
    });

  const sim = cli.command("sim").description("simulated boards");
  sim.command("update").description("a full update on a simulated board with the local server")
    .option("--board <name>", "board profile", "esp32-4mb")
    .option("--flash <file>", "flash image file (created with 1.0.0 when missing)")
    .option("--size <size>", "size of the 2.0.0 image", size, DEFAULT_SIZE)
    .addOption(new Option("--engine <engine>", "where the runtime runs").choices(["node", "xs"]).default("node"))
    .option("--json", "print one JSON object")
    .option("--verbose", "log the bootloader and the agent")
    .option("--corrupt-byte <n>", "the server flips the byte at offset N", int)
    .option("--fail-self-test", "the new image's self-test fails")
    .option("--oversize", "the offer is larger than the slot")
    .option("--drop-at <list>", "close the connection after image byte Bk, one per request", intList)
    .option("--reboot-at <list>", "lose power once Bk bytes were received", intList)
    .option("--ignore-range", "the server answers 200 to Range requests")
    .option("--change-etag-at <b>", "swap in another build of the same version at byte B", int)
    .option("--stall-at <b>", "stop sending at byte B without closing", int)
    .option("--http-error <n:code>", "the Nth request gets that status (repeatable)", httpErrors)
    .option("--cut-at <k>", "cut power at flash operation K (list allowed)", intList)
    .addOption(new Option("--cut-mode <mode>", "how the cut lands").choices(CUT_MODES as string[]).default("before"))
    .option("--seed <n>", "seed for cuts and jitter", int, 1)
    .addOption(new Option("--protocol <dialect>", "how the offer reaches the device").choices(["direct", ...PROTOCOLS]).default("direct"))
    .addOption(new Option("--broker <broker>", "MQTT broker: aedes (embedded), mosquitto, or an mqtt:// URL").default("aedes"))
    .option("--battery <percent>", "the board's battery reading", int)
    .option("--rssi <dBm>", "the board's signal reading", Number)
    .option("--min-battery <percent>", "the plan's minimum battery", int)
    .option("--min-signal <dBm>", "the plan's minimum signal", Number)
    .option("--required-space <bytes>", "the plan's required space", size)
    .option("--manual", "plan: the application accepts the plan explicitly")
    .action(async (opts) => {
      const o: SimUpdateOptions = {
        board: opts.board, flash: opts.flash, size: opts.size, corruptByte: opts.corruptByte,
        failSelfTest: opts.failSelfTest, oversize: opts.oversize, dropAt: opts.dropAt, rebootAt: opts.rebootAt,
        ignoreRange: opts.ignoreRange, changeEtagAt: opts.changeEtagAt, stallAt: opts.stallAt,
        httpErrors: opts.httpError, cutAt: opts.cutAt, cutMode: opts.cutMode as CutMode, seed: opts.seed,
        engine: opts.engine,
      };
      if (opts.verbose) o.log = (line) => console.error(line);
      const bar = !opts.json && process.stdout.isTTY ? progressBar() : undefined;
      if (bar) o.onProgress = (p) => bar.update(p);
      const report = opts.protocol === "direct"
        ? await simUpdate(o)
        : await simProtocolUpdate({
          ...o, protocol: opts.protocol as Protocol, broker: opts.broker, battery: opts.battery, rssi: opts.rssi,
          minBattery: opts.minBattery, minSignal: opts.minSignal, requiredSpace: opts.requiredSpace, manual: opts.manual,
        });
      bar?.stop();
      if (opts.json) console.log(JSON.stringify(report));
      else console.log(summary(report));
      process.exitCode = report.ok ? 0 : 1;
    });
  sim.command("torture").description("a power cut at every flash operation of an update and a rollback")
    .option("--size <size>", "size of the 2.0.0 image", size, 64 * 1024)
    .option("--modes <list>", "cut modes", (v: string) => v.split(",").map((m) => {
      if (!(CUT_MODES as string[]).includes(m)) throw new InvalidArgumentError(`unknown mode ${m}; modes: ${CUT_MODES.join(",")}`);
      return m as CutMode;
    }), [...CUT_MODES])
    .addOption(new Option("--cycle <cycle>", "which cycle").choices(["update", "rollback", "both"]).default("both"))
    .addOption(new Option("--engine <engine>", "where the runtime runs").choices(["node", "xs"]).default("node"))
    .option("--cut-points <n>", "a sample of N cut points per cycle and mode instead of every operation", int)
    .option("--seed <n>", "seed", int, 1)
    .option("--jobs <n>", "runs at a time (default: engine xs one per CPU core, node 1)", int)
    .option("--json", "print one JSON object")
    .action(async (opts) => {
      const cycles: Cycle[] = opts.cycle === "both" ? ["update", "rollback"] : [opts.cycle];
      const live = !opts.json && process.stderr.isTTY;
      const report = await torture({
        size: opts.size, modes: opts.modes, cycles, seed: opts.seed, engine: opts.engine, cutPoints: opts.cutPoints, jobs: opts.jobs || undefined,
        onRun: live ? (d, n) => process.stderr.write(`\r${d}/${n} runs`) : undefined,
        // without a live counter (CI logs, --json): a progress line on stderr now and then
        onProgress: live ? undefined : tortureProgressLines((line) => process.stderr.write(`${line}\n`)),
      });
      if (opts.json) console.log(JSON.stringify(report));
      else {
        console.log(`${report.runs} runs over ${JSON.stringify(report.cutPoints)} cut points, modes ${report.modes.join(",")}: ${report.failures} failures (${report.seconds.toFixed(1)} s)`);
      }
      if (report.firstFailure) console.error(`first failure: ${report.firstFailure.problem}\nreproduce: ${report.firstFailure.command}`);
      process.exitCode = report.failures === 0 ? 0 : 1;
    });
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") return;
    if (typeof code === "string" && code.startsWith("commander.")) {
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
