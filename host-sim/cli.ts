// The xs-ota CLI: partition tables, test firmware, simulated updates and the power-cut sweep.

import * as fs from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { buildPartitionsCommand, showPartitionsCommand } from "./partitions-csv.ts";
import { imageBuildCommand, parseSize } from "./image-builder.ts";
import { simUpdate, DEFAULT_SIZE, type SimUpdateOptions, type SimUpdateReport } from "./sim-update.ts";
import { CUT_MODES, type CutMode } from "./flash/nor-flash.ts";
import { progressBar } from "./progress.ts";
import { torture, tortureProgressLines, type Cycle } from "./torture.ts";
import { simProtocolUpdate, PROTOCOLS, type Protocol } from "./cloud/sim-protocol.ts";
import { runCounter, tortureSummary, updateSummary } from "./cli-text.ts";
import { prepareOutputFile, requireFile } from "./output-path.ts";
import { inspectBoard, formatBoard } from "./board-show.ts";
import { SimBoard } from "./board.ts";
import { BOARD_PROFILES, boardProfile, profile } from "./boards/profiles.ts";
import { LayoutBoard, type LayoutProfile } from "./layout-board.ts";
import { formatLayoutBoard, inspectLayoutBoard } from "./layout-board-show.ts";
import { mcubootImageBuildCommand } from "./stm32-images.ts";
import { deltaApplyCommand, deltaCreateCommand } from "./delta/delta-commands.ts";
import { OtaError } from "../src/errors.ts";
import { IMAGE_FORMATS, formatImageVerify, parseKeyDigest, readKeyFile, verifyImage, type ImageFormatChoice } from "./image-verify.ts";
import { registerServerCommands } from "./server/cli.ts";

/** The package's version, from the package.json above this file (host-sim/ or dist/host-sim/). */
export function packageVersion(): string {
  for (let dir = new URL(".", import.meta.url); ; dir = new URL("..", dir)) {
    const file = new URL("package.json", dir);
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "xs-ota" && pkg.version) return pkg.version;
    }
    if (dir.pathname === "/") return "unknown";
  }
}

/** Flags of `sim update` that only a cloud dialect acts on, and the dialects that do. */
const POLICY_FLAGS: [key: string, flag: string, protocols: string[]][] = [
  ["battery", "--battery", ["mqtt", "plan", "http"]],
  ["rssi", "--rssi", ["mqtt", "plan", "http"]],
  ["minBattery", "--min-battery", ["mqtt", "plan", "http"]],
  ["minSignal", "--min-signal", ["mqtt", "plan", "http"]],
  ["requiredSpace", "--required-space", ["mqtt", "plan", "http"]],
  ["manual", "--manual", ["plan"]],
  ["broker", "--broker", ["mqtt", "plan"]],
];

/** A warning for each given flag that the chosen protocol ignores. */
export function ignoredFlagWarnings(opts: Record<string, unknown>, protocol: string, given: (key: string) => boolean): string[] {
  const out: string[] = [];
  for (const [key, flag, protocols] of POLICY_FLAGS) {
    if (!given(key) || protocols.includes(protocol)) continue;
    const wants = protocols.length === 1 ? `--protocol ${protocols[0]}` : `--protocol ${protocols.join("|")}`;
    out.push(`${flag} does nothing with --protocol ${protocol}: only ${wants} checks it`);
  }
  return out;
}

const warn = (line: string) => console.error(`xs-ota: warning: ${line}`);

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a non-negative integer`);
  return n;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
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

export function program(): Command {
  const cli = new Command("xs-ota").description("Over-the-air updates for Moddable XS devices: host tools and simulator");
  cli.exitOverride();
  // Subcommands inherit these settings: every error reads "xs-ota: error: ...".
  cli.configureOutput({ outputError: (text, write) => write(`xs-ota: ${text}`) });
  // `image build --version V` is that command's own option; the program's --version comes first.
  cli.enablePositionalOptions();
  cli.version(packageVersion(), "-V, --version", "print the package version");

  const parts = cli.command("partitions").description("ESP-IDF partition tables (gen_esp32part.py compatible)");
  parts.command("build <in_csv> <out_bin>").description("partitions.csv -> binary table (creates missing folders)").action((i: string, out: string) => {
    prepareOutputFile(out, "output");
    const entries = buildPartitionsCommand(i, out);
    console.log(`wrote ${out}: ${entries.length} partitions`);
  });
  parts.command("show <in_bin>").description("binary table (or a flash dump) -> CSV").action((i: string) => {
    requireFile(i, "input");
    process.stdout.write(showPartitionsCommand(i));
  });

  const image = cli.command("image").description("test firmware: build and verify images");
  image.command("build")
    .description("build a valid ESP32 app image with deterministic content, or an MCUboot image in imgtool's layout (--format mcuboot; bank: the STM32 dual-bank layout)")
    .requiredOption("--version <v>", "version in esp_app_desc (MCUboot: major.minor.revision[+build], imgtool -v)")
    .addOption(new Option("--format <format>", "image format").choices(["esp", "mcuboot", "bank"]).default("esp"))
    .option("--size <size>", "total size (e.g. 1MiB, 64KiB); MCUboot: the payload's size", "1MiB")
    .option("--key <key.pem>", "MCUboot: sign with this private key (Ed25519 or ECDSA P-256), as imgtool sign -k")
    .option("--input <file>", "MCUboot: sign this binary instead of the test payload")
    .option("--pad", "MCUboot: pad to --slot-size with the trailer magic (imgtool --pad)")
    .option("--confirm", "MCUboot: also image_ok (imgtool --confirm; implies --pad)")
    .option("--slot-size <n>", "MCUboot: slot size (imgtool -S)", size)
    .option("--security-counter <n>", "MCUboot: a protected SEC_CNT TLV", int)
    .option("--header-size <n>", "MCUboot: ih_hdr_size (imgtool -H, default 32)", size)
    .option("--align <n>", "MCUboot: flash write alignment (imgtool --align: 1, 2, 4, 8, 16, 32)", int)
    .option("--build <n>", "variant of the same version", int, 1)
    .option("--secure-version <n>", "esp_app_desc secure_version", int, 0)
    .option("--trailing <n>", "bytes appended after the image (an offer of any byte size)", int, 0)
    .option("--sign <key.pem>", "append a Secure Boot V2 signature sector signed with this private key (RSA-3072, ECDSA P-256/P-384), as espsecure sign-data --version 2; repeatable, up to 3", collect)
    .requiredOption("-o, --out <file>", "output file (missing folders are created)")
    .action((opts: {
      version: string; size: string; build: number; secureVersion: number; trailing: number; sign?: string[]; out: string;
      format: "esp" | "mcuboot" | "bank"; key?: string; input?: string; pad?: boolean; confirm?: boolean; slotSize?: number; securityCounter?: number; headerSize?: number; align?: number;
    }, cmd: Command) => {
      prepareOutputFile(opts.out, "--out");
      const mcubootOnly = ["key", "input", "pad", "confirm", "slotSize", "securityCounter", "headerSize", "align"].filter((k) => cmd.getOptionValueSource(k) === "cli");
      if (opts.format === "esp" && mcubootOnly.length) throw new Error(`--${mcubootOnly[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --format mcuboot or bank`);
      if (opts.format !== "esp") {
        if (opts.sign?.length) throw new Error("--sign appends an ESP Secure Boot V2 sector; MCUboot images take --key");
        const r = mcubootImageBuildCommand({
          format: opts.format, version: opts.version, size: parseSize(opts.size), variant: opts.build, input: opts.input, key: opts.key,
          securityCounter: opts.securityCounter, headerSize: opts.headerSize, pad: opts.pad, confirm: opts.confirm, slotSize: opts.slotSize, align: opts.align, out: opts.out,
        });
        console.log(`wrote ${r.out}: ${r.size} bytes (${opts.format}${opts.key ? ", signed" : ", unsigned"}), sha256 ${r.sha256}`);
        return;
      }
      const r = imageBuildCommand({ version: opts.version, size: opts.size, out: opts.out, build: opts.build, secureVersion: opts.secureVersion, trailing: opts.trailing, sign: opts.sign });
      const keys = opts.sign ?? [];
      const signed = keys.length ? ` (signed: ${keys.length} Secure Boot V2 block${keys.length > 1 ? "s" : ""})` : "";
      console.log(`wrote ${r.out}: ${r.size} bytes${signed}, sha256 ${r.sha256}`);
    });
  image.command("verify <file>")
    .description("check an ESP app image (structure, appended SHA-256, Secure Boot V2 signatures) or an MCUboot image (hash, KEYHASH, signatures, SEC_CNT) with the code the device runs; exit 0 valid, 1 not, 2 bad usage")
    .option("--key <file>", "a trusted key: PEM public or private key, or DER SubjectPublicKeyInfo; repeatable", collect)
    .option("--key-digest <hex>", "a trusted Secure Boot V2 key digest (the eFuse value, 64 hex digits; ESP only); repeatable", collect)
    .addOption(new Option("--format <format>", "image format (auto: by magic)").choices(IMAGE_FORMATS as string[]).default("auto"))
    .option("--min-security-counter <n>", "refuse a security counter below N (ESP secure_version, MCUboot SEC_CNT)", int)
    .option("--json", "print one JSON object")
    .action((file: string, opts: { key?: string[]; keyDigest?: string[]; format: ImageFormatChoice; minSecurityCounter?: number; json?: boolean }) => {
      requireFile(file, "image");
      const report = verifyImage(new Uint8Array(fs.readFileSync(file)), {
        format: opts.format,
        keys: (opts.key ?? []).map((name) => ({ name, key: readKeyFile(name) })),
        keyDigests: (opts.keyDigest ?? []).map(parseKeyDigest),
        minSecurityCounter: opts.minSecurityCounter,
      });
      console.log(opts.json ? JSON.stringify(report) : formatImageVerify(file, report));
      process.exitCode = report.valid ? 0 : 1;
    });

  const sim = cli.command("sim").description("simulated boards");
  const boards = Object.keys(BOARD_PROFILES);
  sim.command("update").description("a full update on a simulated board with the local server")
    .addOption(new Option("--board <name>", "board profile (STM32 boards: engine node or xs, protocol direct)").choices(boards).default("esp32-4mb"))
    .option("--flash <file>", "flash image file (created with 1.0.0 when missing, with its folders)")
    .option("--size <size>", "size of the offered image", size, DEFAULT_SIZE)
    .option("--to-version <v>", "version the server offers (default 2.0.0, or one minor above the running version when that is 2.0.0 or newer)")
    .addOption(new Option("--engine <engine>", "where the runtime runs").choices(["node", "xs", "qemu"]).default("node"))
    .option("--json", "print one JSON object")
    .option("--verbose", "log the bootloader and the agent (boot, resume from the journal, staging) on stderr")
    .option("--corrupt-byte <n>", "the server flips the byte at offset N", int)
    .option("--fail-self-test", "the new image's self-test fails")
    .option("--oversize", "the offer is larger than the slot")
    .option("--drop-at <list>", "the server closes the connection right after image byte Bk; each entry fires once, on the first response that carries its byte", intList)
    .option("--reboot-at <list>", "the board loses power once it has received Tk body bytes in all (every request and power-on counted, bytes fetched again included); one power loss per entry", intList)
    .option("--ignore-range", "the server answers 200 to Range requests")
    .option("--change-etag-at <b>", "swap in another build of the same version at byte B", int)
    .option("--stall-at <b>", "stop sending at byte B without closing", int)
    .option("--http-error <n:code>", "the Nth request gets that status (repeatable)", httpErrors)
    .option("--cut-at <k>", "cut power at flash write/erase operation K, counted from the first of the run (list allowed)", intList)
    .addOption(new Option("--cut-mode <mode>", "how the cut lands").choices(CUT_MODES as string[]).default("before"))
    .option("--seed <n>", "seed for cuts and jitter", int, 1)
    .addOption(new Option("--protocol <dialect>", "how the offer reaches the device").choices(["direct", ...PROTOCOLS]).default("direct"))
    .addOption(new Option("--broker <broker>", "MQTT broker: aedes (embedded), mosquitto, or an mqtt:// URL").default("aedes"))
    .option("--battery <percent>", "the board's battery reading (--protocol mqtt|plan|http)", int)
    .option("--rssi <dBm>", "the board's signal reading (--protocol mqtt|plan|http)", Number)
    .option("--min-battery <percent>", "the job's minimum battery (--protocol mqtt|plan|http)", int)
    .option("--min-signal <dBm>", "the job's minimum signal (--protocol mqtt|plan|http)", Number)
    .option("--required-space <bytes>", "the job's required space (--protocol mqtt|plan|http)", size)
    .option("--manual", "the application accepts the plan explicitly (--protocol plan)")
    .option("--delta", "the server makes a detools patch from the running image to the target and offers it as a delta package")
    .option("--esp-header", "with --delta: the patch carries esp_delta_ota's 64-byte header")
    .action(async (opts, cmd: Command) => {
      if (opts.flash !== undefined) prepareOutputFile(opts.flash, "--flash");
      const warnings = ignoredFlagWarnings(opts, opts.protocol, (key) => cmd.getOptionValueSource(key) === "cli");
      const o: SimUpdateOptions = {
        board: opts.board, flash: opts.flash, size: opts.size, toVersion: opts.toVersion, corruptByte: opts.corruptByte,
        failSelfTest: opts.failSelfTest, oversize: opts.oversize, dropAt: opts.dropAt, rebootAt: opts.rebootAt,
        ignoreRange: opts.ignoreRange, changeEtagAt: opts.changeEtagAt, stallAt: opts.stallAt,
        httpErrors: opts.httpError, cutAt: opts.cutAt, cutMode: opts.cutMode as CutMode, seed: opts.seed,
        engine: opts.engine,
      };
      if (opts.delta) o.delta = { espHeader: opts.espHeader === true };
      if (opts.verbose) o.log = (line) => console.error(line);
      const bar = !opts.json && process.stderr.isTTY ? progressBar() : undefined;
      if (bar) o.onProgress = (p) => bar.update(p);
      const report = opts.protocol === "direct"
        ? await simUpdate(o)
        : await simProtocolUpdate({
          ...o, protocol: opts.protocol as Protocol, broker: opts.broker, battery: opts.battery, rssi: opts.rssi,
          minBattery: opts.minBattery, minSignal: opts.minSignal, requiredSpace: opts.requiredSpace, manual: opts.manual,
        });
      bar?.stop();
      report.warnings = [...warnings, ...report.warnings];
      for (const line of report.warnings) warn(line);
      if (opts.json) console.log(JSON.stringify(report));
      else console.log(updateSummary(report));
      process.exitCode = report.ok ? 0 : 1;
    });
  sim.command("torture").description("a power cut at every flash operation of an update and a rollback")
    .option("--size <size>", "size of the 2.0.0 image", size, 64 * 1024)
    .option("--modes <list>", "cut modes", (v: string) => v.split(",").map((m) => {
      if (!(CUT_MODES as string[]).includes(m)) throw new InvalidArgumentError(`unknown mode ${m}; modes: ${CUT_MODES.join(",")}`);
      return m as CutMode;
    }), [...CUT_MODES])
    .addOption(new Option("--cycle <cycle>", "which cycle").choices(["update", "rollback", "both"]).default("both"))
    .addOption(new Option("--engine <engine>", "where the runtime runs").choices(["node", "xs", "qemu"]).default("node"))
    .addOption(new Option("--board <name>", "board profile").choices(boards).default("esp32-4mb"))
    .option("--cut-points <n>", "a sample of N cut points per cycle and mode instead of every operation", int)
    .option("--seed <n>", "seed", int, 1)
    .option("--jobs <n>", "runs at a time (default: engine xs one per CPU core, node 1)", int)
    .option("--delta", "every update is a delta update (sim update --delta)")
    .option("--json", "print one JSON object")
    .action(async (opts) => {
      const cycles: Cycle[] = opts.cycle === "both" ? ["update", "rollback"] : [opts.cycle];
      const counter = !opts.json && process.stderr.isTTY ? runCounter(process.stderr) : undefined;
      const report = await torture({
        size: opts.size, modes: opts.modes, cycles, seed: opts.seed, engine: opts.engine, cutPoints: opts.cutPoints, board: opts.board, jobs: opts.jobs || undefined, delta: opts.delta === true,
        onRun: counter?.onRun,
        // without a live counter (CI logs, --json): a progress line on stderr now and then
        onProgress: counter ? undefined : tortureProgressLines((line) => process.stderr.write(`${line}\n`)),
      });
      counter?.end();
      if (opts.json) console.log(JSON.stringify(report));
      else console.log(tortureSummary(report, opts.cutPoints));
      if (report.firstFailure) console.error(`first failure: ${report.firstFailure.problem}\nreproduce: ${report.firstFailure.command}`);
      process.exitCode = report.failures === 0 ? 0 : 1;
    });

  const delta = cli.command("delta").description("detools sequential patches (bsdiff; heatshrink 8/7 or none)");
  delta.command("create").description("a patch that turns OLD into NEW")
    .argument("<old>").argument("<new>")
    .requiredOption("-o, --output <patch>", "the patch file")
    .addOption(new Option("--compression <c>", "payload compression").choices(["heatshrink", "none"]).default("heatshrink"))
    .option("--esp-header", "put esp_delta_ota's 64-byte header (magic, base SHA-256) in front")
    .action((oldPath: string, newPath: string, opts: { output: string; compression: "heatshrink" | "none"; espHeader?: boolean }) => {
      console.log(deltaCreateCommand(oldPath, newPath, opts));
    });
  delta.command("apply").description("applies PATCH to OLD with the device's code (src/delta/); exit 1 when the patch or base does not fit")
    .argument("<old>").argument("<patch>")
    .requiredOption("-o, --output <new>", "the produced image")
    .action((oldPath: string, patchPath: string, opts: { output: string }) => {
      try {
        console.log(deltaApplyCommand(oldPath, patchPath, opts.output));
      } catch (e) {
        if (!(e instanceof OtaError)) throw e;
        console.error(`xs-ota: delta apply: ${e.reason} (${e.code})`);
        process.exitCode = 1;
      }
    });

  cli.command("board").description("simulated board files").command("show")
    .description("what a board file holds: partitions, otadata, journal, slots, and what boots next")
    .requiredOption("--flash <file>", "flash image file (from sim update --flash)")
    .addOption(new Option("--board <name>", "board profile").choices(boards).default("esp32-4mb"))
    .option("--json", "print one JSON object")
    .action((opts: { flash: string; board: string; json?: boolean }) => {
      requireFile(opts.flash, "--flash");
      const p = boardProfile(opts.board);
      if (p.target === "mcuboot" || p.target === "stm32-dualbank") {
        const board = LayoutBoard.open(p as LayoutProfile, opts.flash);
        try {
          const view = inspectLayoutBoard(board);
          console.log(opts.json ? JSON.stringify(view) : formatLayoutBoard(view));
        } finally {
          board.flash.close();
        }
        return;
      }
      const board = SimBoard.open(profile(opts.board), opts.flash);
      try {
        const view = inspectBoard(board);
        console.log(opts.json ? JSON.stringify(view) : formatBoard(view));
      } finally {
        board.flash.close();
      }
    });
  registerServerCommands(cli);
  return cli;
}

/** Runs the CLI. `help CMD...` shows that command's help. Every error is printed once, as
 * "xs-ota: error: ...", with exit code 2. */
export async function main(argv: string[]): Promise<void> {
  let args = argv.slice(2);
  const cli = program();
  if (args[0] === "help") {
    // `help sim update`: that command's help; an unknown name is an error, not the top help.
    let cmd = cli;
    for (const name of args.slice(1)) {
      const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (!sub) {
        console.error(`xs-ota: error: unknown command '${args.slice(1).join(" ")}'`);
        process.exitCode = 2;
        return;
      }
      cmd = sub;
    }
    args = [...args.slice(1), "--help"];
  }
  try {
    await cli.parseAsync(args, { from: "user" });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") return;
    process.exitCode = 2;
    // Commander printed its own errors already.
    if (typeof code === "string" && code.startsWith("commander.")) return;
    console.error(`xs-ota: error: ${e instanceof Error ? e.message : String(e)}`);
  }
}
