// `xs-ota sim devices` as a user runs it next to `xs-ota server`: simulated boards of every dialect
// join the running server (the broker's URL comes from the server), update under its plan, and
// the command exits once each runs the target version, leaving a flash file per board whose
// bootloader now boots that version. A server that is not there, or not an xs-ota server, is said
// so with a non-zero exit.

import test from "ava";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { profile } from "../host-sim/boards/profiles.ts";
import { SimBoard } from "../host-sim/board.ts";
import { ensureDistCli } from "./helpers/dist-cli.ts";
import { call, startServer, tempDir, uploadImage } from "./helpers/ota-server.ts";

const bin = fileURLToPath(new URL("../bin/xs-ota.js", import.meta.url));

function xsota(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, XS_OTA_SERVER: "" } }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
    });
  });
}

test.before(async () => {
  await ensureDistCli();
});

test("sim devices: boards of every dialect join a running server and update to its plan's version", async (t) => {
  const server = await startServer();
  const flashDir = tempDir("xs-ota-sim-devices-");
  try {
    const pkg = (await uploadImage(server, "pk1", "2.0.0")).json;
    const plan = (await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] })).json;
    t.is((await call(server, "POST", `/api/plans/${plan.id}/activate`)).status, 200);
    const r = await xsota("sim", "devices", "--url", server.base, "--product", "pk1", "--count", "3", "--until", "2.0.0", "--flash-dir", flashDir, "--timeout", "60");
    t.is(r.code, 0, r.stdout + r.stderr);
    t.regex(r.stderr, /sim-0 \(alibaba\): running 1\.0\.0/);
    t.regex(r.stderr, /sim-2 \(http\): running 2\.0\.0/);
    for (const n of [0, 1, 2]) t.regex(r.stdout, new RegExp(`^sim-${n}: 2\\.0\\.0, \\d+ boots?, 1 update \\(0 failed\\)$`, "m"));
    t.is((await call(server, "GET", `/api/plans/${plan.id}`)).json.counts.success, 3);
    const files = fs.readdirSync(flashDir).sort();
    t.deepEqual(files, ["pk1-sim-0.bin", "pk1-sim-1.bin", "pk1-sim-2.bin"]);
    for (const f of files) {
      const board = SimBoard.open(profile("esp32-4mb"), path.join(flashDir, f));
      const booted = board.boot();
      t.is(booted.slot, "ota_1", `${f} boots the updated slot`);
      board.flash.close();
    }
  } finally {
    await server.close();
    fs.rmSync(flashDir, { recursive: true, force: true });
  }
});

test("sim devices: no server, or something else at the URL, is a clear error", async (t) => {
  const away = await xsota("sim", "devices", "--url", "http://127.0.0.1:1", "--product", "pk1");
  t.not(away.code, 0);
  t.regex(away.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:1/);
  const other = http.createServer((_req, res) => res.writeHead(404).end("nope"));
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", () => r()));
  try {
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const r = await xsota("sim", "devices", "--url", url, "--product", "pk1");
    t.not(r.code, 0);
    t.regex(r.stderr, /is not an xs-ota server: GET \/api\/status gave HTTP 404/);
    const bad = await xsota("sim", "devices", "--url", url, "--product", "pk1", "--count", "0");
    t.regex(bad.stderr, /--count must be 1\.\.1000/);
  } finally {
    other.close();
  }
});
