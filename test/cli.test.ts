import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-cli-"));
const xsota = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: tmp });

test.before(() => {
  if (!fs.existsSync(path.join(root, "dist", "host-sim", "cli.js"))) throw new Error("dist/ is missing: npm install builds it (prepare)");
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
  // The board now runs 2.0.0: offering 2.0.0 again is refused as not newer.
  const again = await xsota("sim", "update", "--json", "--size", "128KiB", "--flash", flash).catch((e) => e);
  const r = JSON.parse(again.stdout);
  t.is(r.errorCode, -1);
  t.regex(r.reason, /not newer/);
  t.is(r.bootedVersion, "2.0.0");
});

test("bad arguments give a clear error and a non-zero exit", async (t) => {
  const e = await xsota("sim", "update", "--drop-at", "abc").catch((x) => x);
  t.is(e.code, 2);
  t.regex(e.stderr, /not a non-negative integer/);
  const e2 = await xsota("sim", "update", "--flash", path.join(tmp, "nope", "x.bin")).catch((x) => x);
  t.not(e2.code, 0);
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
  const again = await xsota("sim", "update", "--engine", "node", "--json", "--size", "96KiB", "--flash", path.join(tmp, "board-xs.bin")).catch((e) => e);
  t.regex(JSON.parse(again.stdout).reason, /not newer/);
});
