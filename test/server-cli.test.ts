// `xs-ota server` as a user drives it from a shell: the server started as a child process through
// bin/xs-ota.js (the compiled CLI), then package add, plan create/activate/show/list, devices and
// events against it; bad input (a missing file, an unknown plan id, a bad flag) gives a clear
// error and a non-zero exit and changes nothing; SIGTERM stops the server cleanly.

import test from "ava";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDistCli } from "./helpers/dist-cli.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function xsota(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, XS_OTA_SERVER: "" } }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
    });
  });
}

/** Starts `xs-ota server --port 0 --data DIR`; resolves with its URL from the line it prints. */
function startServer(cwd: string, data: string): Promise<{ child: ChildProcess; base: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, "server", "--port", "0", "--data", data], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /xs-ota server: (http:\/\/[^\s/]+)\//.exec(out);
      if (m) resolve({ child, base: m[1], output: () => out });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before it listened:\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

test.before(async () => {
  await ensureDistCli();
});

test("xs-ota server from a shell: package add, plan create/activate/show/list, devices, events; bad input changes nothing; SIGTERM stops it", async (t) => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-server-cli-"));
  const data = path.join(cwd, "data");
  const server = await startServer(cwd, data);
  const stop = exited(server.child);
  try {
    const url = ["--url", server.base];
    const json = (r: Run) => {
      t.is(r.code, 0, `${r.stdout}${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    t.is((await xsota(cwd, "image", "build", "--version", "2.0.0", "--size", "64KiB", "-o", "app.bin")).code, 0);

    const pkg = json(await xsota(cwd, "server", "package", "add", "app.bin", "--product", "pk1", ...url));
    t.is(pkg.files[0].version, "2.0.0");
    t.is(pkg.files[0].size, 65536);
    t.regex(pkg.files[0].sha256, /^[0-9a-f]{64}$/);

    const plan = json(await xsota(cwd, "server", "plan", "create", "--product", "pk1", "--package", String(pkg.id), "--target", "2.0.0", "--source", "1.0.0,1.1.0", "--blacklist", "d9", "--min-battery", "30", "--wave-percent", "50", "--error-threshold", "20", ...url));
    t.is(plan.targetVersion ?? plan.spec?.targetVersion, "2.0.0", JSON.stringify(plan));
    const activated = json(await xsota(cwd, "server", "plan", "activate", String(plan.id), ...url));
    t.is(activated.status ?? activated.state, "active", JSON.stringify(activated));

    // A device polls the HTTP dialect so that devices and events have something to show.
    const poll = await fetch(`${server.base}/d/pk1/d1/manifest.json?version=1.0.0`);
    t.is(poll.status, 200);
    t.is(((await poll.json()) as { version: string }).version, "2.0.0");

    const shown = json(await xsota(cwd, "server", "plan", "show", String(plan.id), ...url));
    t.is(shown.id, plan.id);
    t.is(shown.counts.pending, 1, JSON.stringify(shown));
    const plans = json(await xsota(cwd, "server", "plan", "list", ...url));
    t.deepEqual(plans.map((p: { id: number }) => p.id), [plan.id]);
    const devices = json(await xsota(cwd, "server", "devices", "--product", "pk1", ...url));
    t.deepEqual(devices.map((d: { name: string; version: string }) => [d.name, d.version]), [["d1", "1.0.0"]]);
    const events = json(await xsota(cwd, "server", "events", "--plan", String(plan.id), ...url));
    const kinds = (events.events ?? events).map((e: { kind: string }) => e.kind);
    t.true(kinds.includes("plan-created") && kinds.includes("plan-activate") && kinds.includes("pending"), String(kinds));

    // Bad input: a clear message on stderr, a non-zero exit, the store unchanged.
    const before = [
      (await xsota(cwd, "server", "package", "list", ...url)).stdout,
      (await xsota(cwd, "server", "plan", "list", ...url)).stdout,
    ];
    const bad: [string[], RegExp][] = [
      [["server", "package", "add", "missing.bin", "--product", "pk1"], /missing\.bin does not exist/],
      [["server", "plan", "activate", "99"], /plan 99|no plan|not found/i],
      [["server", "plan", "show", "99"], /plan 99|no plan|not found/i],
      [["server", "plan", "activate", "abc"], /"abc" is not a non-negative integer/],
      [["server", "plan", "create", "--product", "pk1", "--package", "x1", "--target", "3.0.0", "--source", "2.0.0"], /--package.*"x1" is not a non-negative integer/],
      [["server", "plan", "create", "--product", "pk1", "--package", String(pkg.id), "--target", "3.0.0", "--source", "2.0.0", "--min-battery", "lots"], /--min-battery.*"lots" is not a number/],
      [["server", "plan", "create", "--product", "pk1", "--package", "77", "--target", "3.0.0", "--source", "2.0.0"], /package 77|no package|not found/i],
      [["server", "plan", "create", "--product", "pk1", "--package", String(pkg.id), "--target", "2.0.0", "--source", "1.0.0", "--window", "25:00-26:00"], /window|25:00|HH:MM/i],
      [["server", "plan", "create", "--product", "pk1", "--package", String(pkg.id), "--target", "2.0.0", "--source", "1.0.0", "--window", "01:00"], /window|HH:MM/i],
      [["server", "plan", "create", "--product", "pk1", "--package", String(pkg.id), "--target", "2.0.0", "--source", "1.0.0", "--bogus"], /unknown option '--bogus'/],
      [["server", "devices", "--bogus"], /unknown option '--bogus'/],
    ];
    for (const [args, message] of bad) {
      const r = await xsota(cwd, ...args, ...url);
      t.not(r.code, 0, `${args.join(" ")}: exits non-zero`);
      t.regex(r.stderr, message, `${args.join(" ")}: ${r.stderr}`);
      t.false(/\n\s+at /.test(r.stderr), `${args.join(" ")}: no stack trace\n${r.stderr}`);
    }
    const after = [
      (await xsota(cwd, "server", "package", "list", ...url)).stdout,
      (await xsota(cwd, "server", "plan", "list", ...url)).stdout,
    ];
    t.deepEqual(after, before, "bad input changed nothing");

    // No server at the URL: said so.
    const away = await xsota(cwd, "server", "plan", "list", "--url", "http://127.0.0.1:1");
    t.not(away.code, 0);
    t.regex(away.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:1/);
  } finally {
    server.child.kill("SIGTERM");
  }
  const end = await stop;
  t.deepEqual(end, { code: 0, signal: null }, server.output());
  // Stopped cleanly: the database closed (no WAL left behind) and the port is free.
  t.true(fs.existsSync(data));
  t.deepEqual(fs.readdirSync(data).filter((f) => f.endsWith("-wal") && fs.statSync(path.join(data, f)).size > 0), [], "the store was closed");
  await t.throwsAsync(fetch(`${server.base}/api/plans`));
});
