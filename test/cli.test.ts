import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { ensureDistCli } from "./helpers/dist-cli.ts";
import { progressBar } from "../host-sim/progress.ts";
import { runCounter, updateSummary } from "../host-sim/cli-text.ts";
import type { SimUpdateReport } from "../host-sim/sim-update.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-cli-"));
const xsota = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: tmp });
/** Runs the CLI expecting a non-zero exit; returns what it printed and its code. */
const xsotaFails = (...args: string[]) =>
  xsota(...args).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

test.before(async () => {
  await ensureDistCli();
});

test("partitions build and show round-trip a CSV through gen_esp32part-compatible binary", async (t) => {
  const csv = path.join(root, "host-sim", "boards", "esp32-4mb.csv");
  const out = path.join(tmp, "p.bin");
  const built = await xsota("partitions", "build", csv, out);
  t.regex(built.stdout, /6 partitions/);
  t.is(fs.statSync(out).size, 0xc00);
  const shown = await xsota("partitions", "show", out);
  t.regex(shown.stdout, /^ota_1,app,ota_1,0x1f0000,1920K,$/m);
  fs.writeFileSync(path.join(tmp, "again.csv"), shown.stdout);
  await xsota("partitions", "build", path.join(tmp, "again.csv"), path.join(tmp, "again.bin"));
  t.deepEqual(fs.readFileSync(path.join(tmp, "again.bin")), fs.readFileSync(out));
});

test("image build writes a valid image of the asked size", async (t) => {
  const r = await xsota("image", "build", "--version", "2.0.0", "--size", "64KiB", "-o", "app.bin");
  t.regex(r.stdout, /65536 bytes/);
  t.is(fs.readFileSync(path.join(tmp, "app.bin"))[0], 0xe9);
});

test("sim update --json prints the documented object; --flash keeps the board between runs", async (t) => {
  const flash = path.join(tmp, "board.bin");
  const first = JSON.parse((await xsota("sim", "update", "--json", "--size", "128KiB", "--flash", flash, "--reboot-at", "50000")).stdout);
  for (const k of ["ok", "errorCode", "reason", "fromVersion", "toVersion", "bootedSlot", "bootedVersion", "imageState", "bytesDownloaded", "bytesFetchedAgain", "flashErases", "flashWrites", "seconds", "interruptions"]) {
    t.true(k in first, k);
  }
  t.is(first.bootedVersion, "2.0.0");
  t.is(first.interruptions, 1);
  t.true(fs.existsSync(flash));
  t.deepEqual(first.warnings, []);
  // The saved board runs 2.0.0: the next run offers one minor above it and reports from 2.0.0.
  const second = JSON.parse((await xsota("sim", "update", "--json", "--size", "128KiB", "--flash", flash)).stdout);
  t.true(second.ok, second.reason);
  t.is(second.fromVersion, "2.0.0");
  t.is(second.toVersion, "2.1.0");
  t.is(second.bootedVersion, "2.1.0");
  // --to-version names the offer: the running version offered again is refused, and said so.
  const again = await xsotaFails("sim", "update", "--json", "--size", "128KiB", "--flash", flash, "--to-version", "2.1.0");
  t.is(again.code, 1);
  const r = JSON.parse(again.stdout);
  t.is(r.errorCode, -1);
  t.regex(r.reason, /2\.1\.0 is not newer than the running 2\.1\.0/);
  t.is(r.fromVersion, "2.1.0");
  t.is(r.bootedVersion, "2.1.0");
  const third = JSON.parse((await xsota("sim", "update", "--json", "--size", "128KiB", "--flash", flash, "--to-version", "3.0.0")).stdout);
  t.is(third.fromVersion, "2.1.0");
  t.is(third.bootedVersion, "3.0.0");
});

test("bad arguments give a clear error and a non-zero exit", async (t) => {
  const e = await xsota("sim", "update", "--drop-at", "abc").catch((x) => x);
  t.is(e.code, 2);
  t.regex(e.stderr, /not a non-negative integer/);
  t.is(e.stderr.trim().split("\n").length, 1, "one line");
  t.regex(e.stderr, /^xs-ota: error: option '--drop-at <list>'/);
  const unknown = await xsotaFails("bogus");
  t.is(unknown.code, 2);
  t.is(unknown.stderr.trim(), "xs-ota: error: unknown command 'bogus'");
  // An error thrown by a command gets the same single prefix.
  const dir = await xsotaFails("sim", "update", "--flash", tmp);
  t.is(dir.code, 2);
  t.is(dir.stderr.trim(), `xs-ota: error: --flash ${tmp} is a directory, not a file`);
});

test("outputs: missing folders are created everywhere; a directory is refused by name", async (t) => {
  const csv = path.join(root, "host-sim", "boards", "esp32-4mb.csv");
  await xsota("partitions", "build", csv, path.join("out1", "deep", "p.bin"));
  t.true(fs.existsSync(path.join(tmp, "out1", "deep", "p.bin")));
  await xsota("image", "build", "--version", "2.0.0", "--size", "64KiB", "-o", path.join("out2", "deep", "app.bin"));
  t.is(fs.readFileSync(path.join(tmp, "out2", "deep", "app.bin"))[0], 0xe9);
  const r = JSON.parse((await xsota("sim", "update", "--json", "--size", "64KiB", "--flash", path.join("out3", "deep", "board.bin"))).stdout);
  t.true(r.ok, r.reason);
  t.true(fs.existsSync(path.join(tmp, "out3", "deep", "board.bin")));
  for (const args of [
    ["image", "build", "--version", "2.0.0", "-o", "out2"],
    ["partitions", "build", csv, "out1"],
    ["sim", "update", "--flash", "out3"],
    ["board", "show", "--flash", "out3"],
  ]) {
    const e = await xsotaFails(...args);
    t.is(e.code, 2, args.join(" "));
    t.regex(e.stderr, /^xs-ota: error: .* is a directory, not a file\n$/, args.join(" "));
    t.notRegex(e.stderr, /bytes/);
  }
  const missing = await xsotaFails("board", "show", "--flash", "nope.bin");
  t.regex(missing.stderr, /^xs-ota: error: --flash nope\.bin does not exist/);
});

test("--version prints the package version; help CMD shows that command's help", async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  t.is((await xsota("--version")).stdout.trim(), pkg.version);
  const help = await xsota("help", "sim", "update");
  t.regex(help.stdout, /^Usage: xs-ota sim update \[options\]/);
  t.regex(help.stdout, /--to-version/);
  t.regex(help.stdout, /--drop-at/);
  t.regex((await xsota("help", "board", "show")).stdout, /^Usage: xs-ota board show/);
  const unknown = await xsotaFails("help", "sim", "nope");
  t.is(unknown.code, 2);
  t.is(unknown.stderr.trim(), "xs-ota: error: unknown command 'sim nope'");
  // image build keeps its own --version option.
  const built = await xsota("image", "build", "--version", "4.5.6", "--size", "64KiB", "-o", "v.bin");
  t.regex(built.stdout, /65536 bytes/);
});

test("--verbose on the Node engine logs the agent: boot, the resume from the journal, staging", async (t) => {
  const r = await xsota("sim", "update", "--size", "128KiB", "--reboot-at", "70000", "--verbose");
  t.regex(r.stderr, /info: boot: running 1\.0\.0 from ota_0/);
  t.regex(r.stderr, /info: resuming 2\.0\.0 into ota_1 from the journal at byte \d+/);
  t.regex(r.stderr, /info: 2\.0\.0 verified and staged in ota_1/);
  const quiet = await xsota("sim", "update", "--size", "128KiB", "--reboot-at", "70000");
  t.notRegex(quiet.stderr, /info:/);
});

test("the README's fault example interrupts three times: each --drop-at entry fires once, after a reboot too", async (t) => {
  const r = JSON.parse((await xsota("sim", "update", "--json", "--drop-at", "100000,500000", "--reboot-at", "300000")).stdout);
  t.true(r.ok, r.reason);
  t.is(r.interruptions, 3);
  t.deepEqual(r.warnings, []);
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  t.true(readme.includes("--drop-at 100000,500000 --reboot-at 300000"), "the example is the README's");
});

test("flags that did nothing are reported: warning lines and the warnings array", async (t) => {
  const r = await xsota("sim", "update", "--json", "--size", "64KiB", "--battery", "5", "--min-battery", "50", "--manual",
    "--cut-at", "100000", "--drop-at", "1000,1000,99999999", "--reboot-at", "99999999");
  const report = JSON.parse(r.stdout);
  t.true(report.ok, report.reason);
  const w: string[] = report.warnings;
  t.true(w.some((x) => /^--battery does nothing with --protocol direct/.test(x)), w.join("\n"));
  t.true(w.some((x) => /^--min-battery does nothing/.test(x)));
  t.true(w.some((x) => /^--manual does nothing with --protocol direct: only --protocol plan/.test(x)));
  t.true(w.some((x) => /^--cut-at 100000: the cut never fired: the run had only \d+ flash operations/.test(x)));
  t.true(w.some((x) => /^--drop-at 1000: never fired/.test(x)), "the second drop at the same byte");
  t.true(w.some((x) => /^--drop-at 99999999: never fired: the image has 65536 bytes/.test(x)));
  t.true(w.some((x) => /^--reboot-at 99999999: never fired/.test(x)));
  t.is(report.interruptions, 1, "the first --drop-at 1000 fired");
  for (const line of w) t.true(r.stderr.includes(`xs-ota: warning: ${line}`), line);
  // A dialect that checks the policy takes the same flags without a warning.
  const plan = JSON.parse((await xsota("sim", "update", "--json", "--size", "64KiB", "--protocol", "plan", "--battery", "90", "--min-battery", "50", "--manual")).stdout);
  t.deepEqual(plan.warnings, []);
  // A cut that fires is no warning.
  const cut = JSON.parse((await xsotaFails("sim", "update", "--json", "--size", "64KiB", "--cut-at", "30")).stdout);
  t.deepEqual(cut.warnings, []);
});

test("board show: partitions, otadata, journal, slots and the next boot, without writing the file", async (t) => {
  const flash = path.join(tmp, "show.bin");
  // A download that fails (-2) after a drop, the server answering 503 from then on: the journal
  // keeps the download, ota_1 holds part of 2.0.0.
  const errors = Array.from({ length: 98 }, (_, i) => `${i + 2}:503`).join(",");
  const failed = await xsotaFails("sim", "update", "--json", "--size", "128KiB", "--flash", flash, "--drop-at", "60000", "--http-error", errors);
  t.is(JSON.parse(failed.stdout).errorCode, -2);
  const before = sha(flash);
  const mid = JSON.parse((await xsota("board", "show", "--flash", flash, "--json")).stdout);
  t.is(sha(flash), before, "board show writes nothing");
  t.deepEqual(mid.partitions.map((p: { label: string }) => p.label), ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "otajournal"]);
  t.is(mid.journal.phase, "download");
  t.is(mid.journal.version, "2.0.0");
  t.is(mid.journal.slot, "ota_1");
  t.is(mid.otadata.length, 2);
  t.like(mid.otadata[0], { index: 0, seq: 1, state: "valid", crcOk: true, selects: "ota_0" });
  t.like(mid.otadata[1], { index: 1, seq: null, crcOk: false });
  t.like(mid.slots[0], { label: "ota_0", image: "valid", version: "1.0.0" });
  t.is(mid.slots[1].label, "ota_1");
  t.not(mid.slots[1].image, "valid");
  t.like(mid.nextBoot, { slot: "ota_0", version: "1.0.0", fellBack: false });
  const human = (await xsota("board", "show", "--flash", flash)).stdout;
  t.regex(human, /^\s+\[0\] seq 1, valid, CRC ok -> ota_0 \(selected\)$/m);
  t.regex(human, /^journal\s+download 2\.0\.0 \(131072 bytes\) into ota_1 from 1\.0\.0, \d+ bytes durable$/m);
  t.regex(human, /^\s+ota_0\s+1\.0\.0 \(xs-ota-demo\), verifies$/m);
  t.regex(human, /^\s+next boot\s+ota_0 1\.0\.0$/m);
  // Finished: 2.0.0 confirmed in ota_1, the journal idle.
  await xsota("sim", "update", "--json", "--size", "128KiB", "--flash", flash);
  const done = JSON.parse((await xsota("board", "show", "--flash", flash, "--json")).stdout);
  t.is(done.journal.phase, "idle");
  t.like(done.slots[1], { label: "ota_1", image: "valid", version: "2.0.0" });
  t.like(done.nextBoot, { slot: "ota_1", version: "2.0.0" });
  t.is(done.otadata[done.activeEntry].selects, "ota_1");
  t.is(done.otadata[done.activeEntry].state, "valid");
});

test("the progress bar shows the percentage and the image's bytes, not cli-progress's tokens", (t) => {
  const stream = new PassThrough();
  let out = "";
  stream.on("data", (d) => (out += String(d)));
  const bar = progressBar({ stream, force: true });
  bar.update({ phase: "download", bytes: 0, total: 131072, percent: 0 });
  bar.update({ phase: "restart", bytes: 131072, total: 131072, percent: 100 });
  bar.stop();
  t.notRegex(out, /[{}]/);
  t.regex(out, /download .* 0% \| 0\/131072 bytes/);
  t.regex(out, /restart .* 100% \| 131072\/131072 bytes/);
});

test("the torture counter ends its line before the summary; the summary reads as text", async (t) => {
  let out = "";
  const counter = runCounter({ write: (s: string) => (out += s) });
  counter.onRun(1, 2);
  counter.onRun(2, 2);
  counter.end();
  out += "summary";
  t.is(out, "\r1/2 runs\r2/2 runs\nsummary");
  const r = await xsota("sim", "torture", "--cycle", "update", "--modes", "before", "--cut-points", "2");
  t.notRegex(r.stdout, /[{}]/);
  t.regex(r.stdout, /^2 runs, a cut at 2 of the \d+ flash operations of the update cycle, mode before: 0 failures \(/);
});

test("the summary says 1 boot, 1 interruption, and plurals otherwise", async (t) => {
  const base = {
    ok: true, errorCode: 0, reason: "ok", fromVersion: "1.0.0", toVersion: "2.0.0", bootedSlot: "ota_1", bootedVersion: "2.0.0",
    imageState: "valid", bytesDownloaded: 1, bytesFetchedAgain: 0, flashErases: 1, flashWrites: 1, interruptions: 1, boots: 1,
    seconds: 0, imageSha256: "", slotSha256: "", warnings: [],
  } satisfies SimUpdateReport;
  const one = updateSummary(base);
  t.regex(one, /1 byte, 0 fetched again, 1 interruption$/m);
  t.regex(one, /1 sector erase, 1 write$/m);
  t.regex(one, /over 1 boot$/m);
  const many = updateSummary({ ...base, bytesDownloaded: 2, interruptions: 2, boots: 3, flashErases: 0, flashWrites: 5 });
  t.regex(many, /2 bytes, 0 fetched again, 2 interruptions$/m);
  t.regex(many, /0 sector erases, 5 writes$/m);
  t.regex(many, /over 3 boots$/m);
  const cli = (await xsota("sim", "update", "--size", "64KiB", "--reboot-at", "30000")).stdout;
  t.regex(cli, /, 1 interruption$/m);
});

test("sim update --protocol mqtt|plan|http delivers the offer through each dialect", async (t) => {
  for (const protocol of ["mqtt", "plan", "http"]) {
    const r = JSON.parse((await xsota("sim", "update", "--json", "--size", "64KiB", "--protocol", protocol)).stdout);
    t.is(r.bootedVersion, "2.0.0", protocol);
    t.true(r.protocolLog.length > 2, protocol);
  }
  const low = await xsota("sim", "update", "--json", "--size", "64KiB", "--protocol", "plan", "--battery", "10", "--min-battery", "30").catch((e) => e);
  const r = JSON.parse(low.stdout);
  t.is(r.errorCode, -1);
  t.regex(r.reason, /battery 10% is below 30%/);
  t.is(r.bootedVersion, "1.0.0");
});

test("sim update --engine xs runs the built runtime bundle in XS: the same report as on Node", async (t) => {
  t.true(fs.existsSync(path.join(root, "dist", "host-sim", "xs", "xs-ota-runtime.js")), "npm run build writes the XS runtime bundle");
  const flags = ["--json", "--size", "96KiB", "--reboot-at", "40000", "--drop-at", "20000,70000"];
  const report = async (engine: string) => {
    const r = JSON.parse((await xsota("sim", "update", "--engine", engine, "--flash", path.join(tmp, `board-${engine}.bin`), ...flags)).stdout);
    delete r.seconds;
    return r;
  };
  const xs = await report("xs");
  t.true(xs.ok, xs.reason);
  t.is(xs.bootedVersion, "2.0.0");
  t.is(xs.slotSha256, xs.imageSha256);
  t.true(xs.interruptions >= 1);
  t.deepEqual(xs, await report("node"));
  // The board file written in XS is a board like any other: Node finds 2.0.0 confirmed on it.
  const again = await xsotaFails("sim", "update", "--engine", "node", "--json", "--size", "96KiB", "--to-version", "2.0.0", "--flash", path.join(tmp, "board-xs.bin"));
  t.regex(JSON.parse(again.stdout).reason, /not newer/);
});
