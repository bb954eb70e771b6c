// The command line on the STM32 boards: sim update and board show with --board, sim torture
// --board, and image build --format mcuboot|bank checked by image verify.

import test from "ava";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDistCli } from "./helpers/dist-cli.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-stm32-cli-"));
const xsota = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: tmp });
const fails = (...args: string[]) => xsota(...args).then(
  (r) => ({ ...r, code: 0 }),
  (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
);

test.before(async () => {
  await ensureDistCli();
});

for (const board of ["stm32f4-1mb", "stm32l4-dualbank-1mb"]) {
  test(`sim update --board ${board} --flash, then again from the saved board; board show reads it`, async (t) => {
    const flash = path.join(tmp, `${board}.bin`);
    const first = JSON.parse((await xsota("sim", "update", "--board", board, "--json", "--size", "150KiB", "--flash", flash, "--reboot-at", "60000")).stdout);
    t.true(first.ok, first.reason);
    t.is(first.bootedVersion, "2.0.0");
    t.is(first.imageState, "confirmed");
    const second = JSON.parse((await xsota("sim", "update", "--board", board, "--json", "--size", "100KiB", "--flash", flash)).stdout);
    t.is(second.fromVersion, "2.0.0");
    t.is(second.bootedVersion, "2.1.0");
    const view = JSON.parse((await xsota("board", "show", "--board", board, "--flash", flash, "--json")).stdout);
    t.is(view.nextBoot.version, "2.1.0");
    t.deepEqual(view.slots.map((s: { image: string }) => s.image), ["valid", "valid"]);
    if (board === "stm32f4-1mb") {
      t.is(view.mcuboot.pendingSwap, "none");
      t.is(view.mcuboot.primary.imageOk, "set");
    } else {
      t.is(view.dualBank.bfb2Selects, 1, "2.1.0 went back into bank 1");
      t.is(view.dualBank.flag.state, "confirmed");
    }
    const text = (await xsota("board", "show", "--board", board, "--flash", flash)).stdout;
    t.regex(text, board === "stm32f4-1mb" ? /next boot's swap: none/ : /BFB2 selects bank 1/);
  });
}

test("sim update --board stm32f4-1mb --engine xs: the MCUboot update in XS ends on 2.0.0, confirmed", async (t) => {
  const r = JSON.parse((await xsota("sim", "update", "--board", "stm32f4-1mb", "--engine", "xs", "--size", "100KiB", "--json")).stdout);
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.imageState, "confirmed");
});

test("sim torture --board stm32l4-dualbank-1mb --cut-points 4: no failure", async (t) => {
  const r = JSON.parse((await xsota("sim", "torture", "--board", "stm32l4-dualbank-1mb", "--cut-points", "4", "--modes", "torn-write", "--json")).stdout);
  t.is(r.failures, 0);
  t.true(r.runs >= 8);
});

test("image build --format mcuboot --key signs in imgtool's layout; image verify accepts it with the key, refuses it with another", async (t) => {
  const key = path.join(tmp, "k.pem");
  fs.writeFileSync(key, generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }));
  const other = path.join(tmp, "other.pem");
  fs.writeFileSync(other, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
  const built = await xsota("image", "build", "--format", "mcuboot", "--version", "1.2.3+4", "--size", "20KiB", "--key", key,
    "--security-counter", "9", "--pad", "--slot-size", "0x60000", "--align", "4", "-o", "m.bin");
  t.regex(built.stdout, /393216 bytes \(mcuboot, signed\)/);
  const ok = JSON.parse((await xsota("image", "verify", "m.bin", "--key", key, "--json")).stdout);
  t.true(ok.valid);
  t.is(ok.version, "1.2.3+4");
  t.is(ok.securityCounter, 9);
  t.is(ok.signatures[0].algorithm, "ecdsa-p256");
  const bad = await fails("image", "verify", "m.bin", "--key", other, "--json");
  t.is(bad.code, 1);
  const usage = await fails("image", "build", "--version", "1.0.0", "--key", key, "-o", "e.bin");
  t.is(usage.code, 2);
  t.regex(usage.stderr, /--key needs --format mcuboot or bank/);
});

test("sim update --board stm32l4-dualbank-1mb --engine xs updates in the XS engine", async (t) => {
  const r = JSON.parse((await xsota("sim", "update", "--board", "stm32l4-dualbank-1mb", "--engine", "xs", "--size", "64KiB", "--json")).stdout);
  t.true(r.ok, r.reason);
  t.is(r.bootedSlot, "bank2");
  t.is(r.imageState, "confirmed");
});
