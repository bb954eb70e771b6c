// `xs-ota delta create|apply` and `sim update --delta` through the built CLI (issue 13 §Creating).
import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDistCli } from "./helpers/dist-cli.ts";
import { syntheticProgram, link, changed } from "../host-sim/delta/synthetic-firmware.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { positiveVectors, VECTORS } from "./helpers/delta-vectors.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");
const vectors = path.join(root, "..", "shared", "vectors", "detools");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-delta-cli-"));
const xsota = (...args: string[]) =>
  run(process.execPath, [bin, ...args], { cwd: tmp }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );

test.before(async () => {
  await ensureDistCli();
});

for (const compression of ["heatshrink", "none"] as const) {
  test(`delta create then apply (${compression}) round-trips a synthetic firmware build with moved code`, async (t) => {
    const p = syntheticProgram(96 * 1024, 3);
    const [oldFile, newFile] = [`old-${compression}.bin`, `new-${compression}.bin`];
    fs.writeFileSync(path.join(tmp, oldFile), link(p));
    const target = link(changed(p, "move", 5));
    fs.writeFileSync(path.join(tmp, newFile), target);
    const c = await xsota("delta", "create", oldFile, newFile, "-o", `p-${compression}.patch`, "--compression", compression);
    t.is(c.code, 0, c.stderr);
    t.true(c.stdout.includes(`% of the ${target.length}-byte target`), c.stdout);
    t.log(c.stdout.trim());
    const a = await xsota("delta", "apply", oldFile, `p-${compression}.patch`, "-o", `out-${compression}.bin`);
    t.is(a.code, 0, a.stderr);
    t.deepEqual(new Uint8Array(fs.readFileSync(path.join(tmp, `out-${compression}.bin`))), target);
  });
}

test("delta apply: a detools vector applies byte for byte; a must-fail patch exits 1 with the reason", async (t) => {
  const ok = await xsota("delta", "apply", path.join(vectors, "foo", "old"), path.join(vectors, "foo", "heatshrink.patch"), "-o", "foo.bin");
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(fs.readFileSync(path.join(tmp, "foo.bin")), fs.readFileSync(path.join(vectors, "foo", "new")));
  const bad = await xsota("delta", "apply", path.join(vectors, "foo", "old"), path.join(vectors, "foo", "negative", "diff-data-too-long-none.patch"), "-o", "bad.bin");
  t.is(bad.code, 1);
  t.regex(bad.stderr, /xs-ota: delta apply: delta patch: .*runs past the target size \d+ \(-3\)/);
  t.false(fs.existsSync(path.join(tmp, "bad.bin")));
});

// Issue 13: every none and heatshrink (8/7) vector of ../shared/vectors/detools*/ through the CLI.
const cliVectors = positiveVectors.filter(
  (v) => v.to && (v.compression === "none" || (v.compression === "heatshrink" && v.heatshrink?.window_sz2 === 8 && v.heatshrink.lookahead_sz2 === 7)),
);
test("delta apply: every none and heatshrink 8/7 detools vector applies byte for byte", async (t) => {
  t.true(cliVectors.length >= 20, `only ${cliVectors.length} vectors`);
  const failures: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < cliVectors.length) {
      const v = cliVectors[next++];
      const out = path.join(tmp, `vector-${v.dir}-${v.id}.bin`);
      const r = await xsota("delta", "apply", path.join(VECTORS, v.dir, v.from), path.join(VECTORS, v.dir, v.patch), "-o", out);
      if (r.code !== 0) failures.push(`${v.dir}/${v.id}: exit ${r.code}: ${r.stderr.trim()}`);
      else if (!fs.readFileSync(out).equals(fs.readFileSync(path.join(VECTORS, v.dir, v.to!)))) failures.push(`${v.dir}/${v.id}: output differs from ${v.to}`);
    }
  }));
  t.deepEqual(failures, []);
  t.log(`${cliVectors.length} vectors (${cliVectors.filter((v) => v.compression === "none").length} none, ${cliVectors.filter((v) => v.compression === "heatshrink").length} heatshrink 8/7)`);
});

test("delta create --esp-header: the patch names the base's appended hash; another base exits 1", async (t) => {
  fs.writeFileSync(path.join(tmp, "a1.bin"), buildTestImage({ version: "1.0.0", size: 16 * 1024 }));
  fs.writeFileSync(path.join(tmp, "a1b.bin"), buildTestImage({ version: "1.0.0", size: 16 * 1024, build: 2 }));
  fs.writeFileSync(path.join(tmp, "a2.bin"), buildTestImage({ version: "2.0.0", size: 16 * 1024 }));
  const c = await xsota("delta", "create", "a1.bin", "a2.bin", "-o", "esp.patch", "--esp-header");
  t.is(c.code, 0, c.stderr);
  const patch = fs.readFileSync(path.join(tmp, "esp.patch"));
  const base = fs.readFileSync(path.join(tmp, "a1.bin"));
  t.deepEqual(patch.subarray(4, 36), base.subarray(base.length - 32));
  t.is((await xsota("delta", "apply", "a1.bin", "esp.patch", "-o", "a2-out.bin")).code, 0);
  t.deepEqual(fs.readFileSync(path.join(tmp, "a2-out.bin")), fs.readFileSync(path.join(tmp, "a2.bin")));
  const other = await xsota("delta", "apply", "a1b.bin", "esp.patch", "-o", "nope.bin");
  t.is(other.code, 1);
  t.regex(other.stderr, /another base image/);
});

test("sim update --delta --json: bytesDownloaded is the patch, patchBytes reported", async (t) => {
  const r = await xsota("sim", "update", "--delta", "--json", "--size", "64KiB", "--reboot-at", "30000");
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.true(j.ok, j.reason);
  t.is(j.bootedVersion, "2.0.0");
  t.is(typeof j.patchBytes, "number");
  t.is(j.bytesDownloaded, j.patchBytes + j.bytesFetchedAgain);
  t.is(j.slotSha256, j.imageSha256);
});
