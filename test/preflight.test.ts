// scripts/preflight.sh (npm's pretest step) installs the system tools the tests need, or stops
// with the exact command to run. Here it runs against fake `id`, `sudo` and `apt-get` on a PATH of
// their own, with a package list naming a tool no machine has: nothing is really installed.

import test from "ava";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const script = path.join(root, "scripts", "preflight.sh");
const bash = fs.existsSync("/bin/bash") ? "/bin/bash" : "/usr/bin/bash";

interface Machine {
  uid: number;
  sudo?: "passwordless" | "password";
  aptGet?: boolean;
  installed?: boolean;
}

function preflight(m: Machine) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-preflight-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const log = path.join(dir, "apt.log");
  const tool = path.join(bin, "xs-ota-fake-tool");
  const node = (body: string) => `#!${process.execPath}\nconst fs = require("node:fs");\n${body}\n`;
  const put = (name: string, text: string) => fs.writeFileSync(path.join(bin, name), text, { mode: 0o755 });
  put("id", node(`process.stdout.write(process.argv[2] === "-u" ? "${m.uid}\\n" : "uid=${m.uid}\\n");`));
  if (m.aptGet !== false) {
    put("apt-get", node(`
fs.appendFileSync(${JSON.stringify(log)}, (process.env.XS_FAKE_SUDO ? "sudo " : "") + "apt-get " + process.argv.slice(2).join(" ") + "\\n");
if (process.argv.includes("install")) fs.writeFileSync(${JSON.stringify(tool)}, "#!/bin/sh\\n", { mode: 0o755 });`));
  }
  if (m.sudo) {
    put("sudo", node(`
let args = process.argv.slice(2);
if (args[0] !== "-n") process.exit(3);
if (${m.sudo === "password"}) { process.stderr.write("sudo: a password is required\\n"); process.exit(1); }
args = args.slice(1);
if (args[0] === "true") process.exit(0);
if (args[0] === "env") args = args.slice(1).filter((a) => !a.includes("="));
const r = require("node:child_process").spawnSync(args[0], args.slice(1), { stdio: "inherit", env: { ...process.env, XS_FAKE_SUDO: "1" } });
process.exit(r.status ?? 1);`));
  }
  if (m.installed) fs.writeFileSync(tool, "#!/bin/sh\n", { mode: 0o755 });
  const list = path.join(dir, "packages.txt");
  fs.writeFileSync(list, "# test list\n\nxs-ota-fake-tool xs-ota-fake-pkg\n");
  const r = spawnSync(bash, [script], { env: { PATH: bin, XS_OTA_SYSTEM_PACKAGES: list }, encoding: "utf8" });
  const apt = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
  return { status: r.status, stderr: r.stderr, apt };
}

const EXACT = "sudo apt-get update && sudo apt-get install -y xs-ota-fake-pkg";

test("a missing tool without root or sudo stops at once with the exact apt-get command", (t) => {
  const r = preflight({ uid: 1000 });
  t.not(r.status, 0);
  t.true(r.stderr.includes(EXACT), r.stderr);
  t.regex(r.stderr, /xs-ota-fake-tool/);
  t.deepEqual(r.apt, [], "nothing was installed");
});

test("sudo that asks for a password counts as no sudo", (t) => {
  const r = preflight({ uid: 1000, sudo: "password" });
  t.not(r.status, 0);
  t.true(r.stderr.includes(EXACT), r.stderr);
  t.deepEqual(r.apt, []);
});

test("as root the missing package is installed with apt-get, then found", (t) => {
  const r = preflight({ uid: 0 });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.apt, ["apt-get update -qq", "apt-get install -y -qq xs-ota-fake-pkg"]);
});

test("with passwordless sudo the package is installed through sudo -n", (t) => {
  const r = preflight({ uid: 1000, sudo: "passwordless" });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.apt, ["sudo apt-get update -qq", "sudo apt-get install -y -qq xs-ota-fake-pkg"]);
});

test("an installed tool needs nothing", (t) => {
  const r = preflight({ uid: 1000, installed: true });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.apt, []);
});

test("a machine without apt-get stops and names the packages", (t) => {
  const r = preflight({ uid: 0, aptGet: false });
  t.not(r.status, 0);
  t.regex(r.stderr, /no apt-get/);
  t.regex(r.stderr, /xs-ota-fake-pkg/);
});

test("npm test runs the preflight first, and the list names every tool the tests run", (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  t.regex(pkg.scripts.pretest, /scripts\/preflight\.sh/);
  const list = fs.readFileSync(path.join(root, "scripts", "system-packages.txt"), "utf8");
  t.regex(list, /^mosquitto mosquitto$/m);
});

test("a package named by a file it installs (no command of its own) is checked by that file", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-preflight-file-"));
  const present = path.join(dir, "present.h");
  fs.writeFileSync(present, "");
  const list = path.join(dir, "packages.txt");
  fs.writeFileSync(list, `${present} xs-ota-present-pkg\n${path.join(dir, "absent.h")} xs-ota-absent-pkg\n`);
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "id"), `#!${process.execPath}\nprocess.stdout.write("1000\\n");\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "apt-get"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const r = spawnSync(bash, [script], { env: { PATH: bin, XS_OTA_SYSTEM_PACKAGES: list }, encoding: "utf8" });
  t.not(r.status, 0);
  t.true(r.stderr.includes("sudo apt-get update && sudo apt-get install -y xs-ota-absent-pkg"), r.stderr);
  t.false(r.stderr.includes("xs-ota-present-pkg"), r.stderr);
});
