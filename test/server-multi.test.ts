// Multi-file packages through the update server: a package of an app image and an "assets"
// data-partition image, one plan, simulated boards with an assets partition on the HTTP
// manifest dialect (every component in one manifest), on Alibaba topics (one module task after
// another) and on QuecThing plans (one plan per component). The device applies every component
// in plan order and reports each; the plan succeeds only once the device reports both
// components at their target versions.

import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import { assetsImage } from "../host-sim/cloud/sim-multi.ts";
import { ESP32_4MB_ASSETS } from "../host-sim/cloud/sim-boards.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { digestsOf } from "../host-sim/server.ts";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import type { Dialect } from "../host-sim/server/rollout.ts";
import type { OtaServer } from "../host-sim/server/service.ts";
import { OtaError } from "../src/errors.ts";
import { manifestPlan } from "../src/protocol/http-manifest.ts";
import { call, startServer, until } from "./helpers/ota-server.ts";

const ASSETS = assetsImage(40 * 1024);
const APP = buildTestImage({ version: "2.0.0", size: 32 * 1024, build: 1 });

/** Uploads one package holding the files in this order (multipart, one field per component). */
async function uploadFiles(server: { base: string }, files: [string, Uint8Array][], fields: Record<string, string> = { product: "pk1", versions: "assets:1.1.0" }) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const [component, bytes] of files) form.append(component, new Blob([bytes]), `${component}.bin`);
  const res = await fetch(`${server.base}/api/packages`, { method: "POST", body: form });
  return { status: res.status, json: (await res.json()) as any };
}

async function activePlan(server: OtaServer, packages: number[]) {
  const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages, targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
  if (plan.status !== 201) throw new Error(JSON.stringify(plan.json));
  await call(server, "POST", `/api/plans/${plan.json.id}/activate`);
  return plan.json.id as number;
}

/** Waits until one device of the plan is in `state`. */
async function untilOne(server: OtaServer, planId: number, state: string, ms: number, what: string): Promise<void> {
  await until(async () => (await call(server, "GET", `/api/plans/${planId}`)).json.counts[state] === 1, ms, what);
}

function device(server: OtaServer, name: string, dialect: Dialect = "http") {
  return new SimDevice({ product: "pk1", name, dialect, serverBase: server.base, brokerUrl: server.broker.url, profile: ESP32_4MB_ASSETS });
}

for (const dialect of ["http", "alibaba", "quec"] as const) test(`a package of app and assets reaches a device (${dialect}): both applied in plan order, success once both report their versions`, async (t) => {
  const server = await startServer();
  const dev = device(server, "d1", dialect);
  try {
    const pkg = await uploadFiles(server, [["app", APP], ["assets", ASSETS]]);
    t.is(pkg.status, 201, JSON.stringify(pkg.json));
    t.deepEqual(pkg.json.files.map((f: any) => [f.component, f.version]), [["app", "2.0.0"], ["assets", "1.1.0"]]);
    const planId = await activePlan(server, [pkg.json.id]);
    // The plan's progress as the monitor sees it: app in the first half, assets in the second.
    const percents: number[] = [];
    server.rollout.onChange((e) => {
      if (e.device === "d1" && e.kind === "progress") percents.push(e.detail.percent as number);
    });
    const run = dev.run();
    await untilOne(server, planId, "success", 60_000, "the plan's success");
    t.true(percents.some((p) => p > 0 && p < 50), `the app's download progress: ${percents}`);
    t.true(percents.some((p) => p > 50 && p < 100), `the assets' download progress: ${percents}`);
    dev.stop();
    await run;
    t.is(dev.version, "2.0.0");
    t.is(digestsOf(dev.board.partition("assets").read(0, ASSETS.length)).sha256, digestsOf(ASSETS).sha256, "the assets partition holds the file");
    const info = (await call(server, "GET", "/api/devices/pk1/d1")).json;
    t.is(info.version, "2.0.0");
    t.deepEqual(info.components, { assets: "1.1.0" });
    t.is(info.plans[0].state, "success");
    t.regex(info.plans[0].reason, /app 2\.0\.0, assets 1\.1\.0/);
    const kinds = info.events.map((e: any) => `${e.kind}${e.kind === "component" ? `:${JSON.parse(e.detail).component}` : ""}`);
    // In plan order: the app's result after its reboot, then the assets', then the version
    // reports; success last.
    const at = (k: string) => kinds.indexOf(k);
    // (an Alibaba or QuecThing app reports its result without a module, as a single-image device does)
    if (dialect === "http") t.true(at("component:app") >= 0 && at("component:app") < at("component:assets"), kinds.join(" "));
    // Alibaba, QuecThing: the assets task or plan goes out once the device reports the app's new version.
    else t.true(at("device-version") >= 0 && at("device-version") < at("component:assets"), kinds.join(" "));
    t.true(at("device-version") < at("success") && at("component-version") < at("success"), kinds.join(" "));
    t.is(kinds.filter((k: string) => k === "success").length, 1);
    t.is(kinds[kinds.length - 1], "success");
  } finally {
    dev.stop();
    await server.close();
  }
});

test("the manifest lists every component in plan order; a device on the target app alone is not a success", async (t) => {
  const server = await startServer();
  try {
    const pkg = await uploadFiles(server, [["app", APP], ["assets", ASSETS]]);
    const planId = await activePlan(server, [pkg.json.id]);
    const poll = async (q: string) => {
      const r = await fetch(`${server.base}/d/pk1/d4/manifest.json?${q}`);
      return { status: r.status, doc: r.status === 200 ? ((await r.json()) as any) : (await r.text(), undefined) };
    };
    const first = await poll("version=1.0.0");
    t.is(first.status, 200);
    t.deepEqual(Object.keys(first.doc), ["taskId", "components"]);
    t.is(first.doc.taskId, `plan-${planId}`);
    t.deepEqual(first.doc.components.map((c: any) => [c.component, c.version, c.size, c.sha256]), [
      ["app", "2.0.0", APP.length, digestsOf(APP).sha256],
      ["assets", "1.1.0", ASSETS.length, digestsOf(ASSETS).sha256],
    ]);
    const state = async () => (await call(server, "GET", "/api/devices/pk1/d4")).json.plans[0].state;
    // The app at its target, the assets not (yet): still in flight, offered again.
    t.is((await poll("version=2.0.0")).status, 200);
    t.is((await poll("version=2.0.0&components=assets@1.0.5")).status, 200);
    t.is(await state(), "pending");
    // The assets at its target, the app not: neither.
    t.is((await poll("version=1.0.0&components=assets@1.1.0")).status, 200);
    t.is(await state(), "pending");
    t.is((await poll("version=2.0.0&components=assets@1.1.0")).status, 304);
    t.is(await state(), "success");
    t.deepEqual((await call(server, "GET", "/api/devices/pk1/d4")).json.components, { assets: "1.1.0" });
  } finally {
    await server.close();
  }
});

/** Flips one byte of a stored file: what the server then serves no longer matches its digests. */
function corruptStored(server: OtaServer, sha256: string): void {
  const file = path.join(server.store.filesDir, `${sha256}.bin`);
  const bytes = fs.readFileSync(file);
  bytes[100] ^= 0xff;
  fs.writeFileSync(file, bytes);
}

for (const dialect of ["http", "alibaba", "quec"] as const) for (const order of [["app", "assets"], ["assets", "app"]] as const) {
  test(`a corrupted assets file fails the device with -3 naming the component (${dialect}, order ${order.join(", ")})`, async (t) => {
    const server = await startServer();
    const dev = device(server, "d2", dialect);
    try {
      const files = order.map((c) => [c, c === "app" ? APP : ASSETS] as [string, Uint8Array]);
      const pkg = await uploadFiles(server, files);
      t.is(pkg.status, 201, JSON.stringify(pkg.json));
      corruptStored(server, pkg.json.files.find((f: any) => f.component === "assets").sha256);
      const planId = await activePlan(server, [pkg.json.id]);
      const run = dev.run();
      await untilOne(server, planId, "failed", 60_000, "the device's failure");
      // a few more polls: the failure stays
      await new Promise((r) => setTimeout(r, 400));
      dev.stop();
      await run;
      const info = (await call(server, "GET", "/api/devices/pk1/d2")).json;
      t.is(info.plans[0].state, "failed");
      t.is(info.plans[0].error_code, -3);
      t.regex(info.plans[0].reason, /^assets 1\.1\.0: .*mismatch/);
      t.deepEqual(info.components, {}, "assets reports no version");
      // The app ran first and stays updated, or it never started after the failure before it.
      const app = order[0] === "app" ? "2.0.0" : "1.0.0";
      t.is(dev.version, app);
      t.is(info.version, app);
      t.is((await call(server, "GET", `/api/plans/${planId}`)).json.counts.success, 0);
    } finally {
      dev.stop();
      await server.close();
    }
  });
}

for (const dialect of ["http", "alibaba", "quec"] as const) test(`a retry reaches a device a failed component left part-way: its app on the target, the assets then applied (${dialect})`, async (t) => {
  const server = await startServer();
  const dev = device(server, "d3", dialect);
  try {
    const pkg = await uploadFiles(server, [["app", APP], ["assets", ASSETS]]);
    const sha = pkg.json.files.find((f: any) => f.component === "assets").sha256;
    const file = path.join(server.store.filesDir, `${sha}.bin`);
    const good = fs.readFileSync(file);
    corruptStored(server, sha);
    const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.json.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"], strategy: { retries: 1 } });
    t.is(plan.status, 201, JSON.stringify(plan.json));
    const planId = plan.json.id as number;
    const run = dev.run();
    // The file is repaired once the first attempt failed; the retry (no sooner than
    // RETRY_DELAY_MS later) must then succeed.
    await call(server, "POST", `/api/plans/${planId}/activate`);
    await until(async () => (await call(server, "GET", "/api/devices/pk1/d3")).json?.events?.some((e: any) => e.kind === "failed"), 60_000, "the first failure");
    fs.writeFileSync(file, good);
    await untilOne(server, planId, "success", 60_000, "success on the retry");
    dev.stop();
    await run;
    const info = (await call(server, "GET", "/api/devices/pk1/d3")).json;
    t.is(info.version, "2.0.0");
    t.deepEqual(info.components, { assets: "1.1.0" });
    t.is(info.plans[0].attempts, 1);
    t.true(info.events.some((e: any) => e.kind === "retry"));
    t.is(digestsOf(dev.board.partition("assets").read(0, ASSETS.length)).sha256, digestsOf(ASSETS).sha256);
    t.is(dev.updates, 3, "app, failed assets, assets again");
  } finally {
    dev.stop();
    await server.close();
  }
});

/** A QuecThing board whose assets partition holds this version (as a MultiComponentUpdater
 * records it), reported at start-up before the app's request. */
function quecHolding(server: OtaServer, name: string, assets: string): SimDevice {
  const dev = device(server, name, "quec");
  dev.board.kvStore.set("ota.comps", new TextEncoder().encode(JSON.stringify({ assets })));
  return dev;
}

test("QuecThing: a device that reports assets at its target at start-up (before the server knows it) gets the app's plan alone", async (t) => {
  const server = await startServer();
  const dev = quecHolding(server, "q2", "1.1.0");
  try {
    const pkg = await uploadFiles(server, [["assets", ASSETS], ["app", APP]]);
    const planId = await activePlan(server, [pkg.json.id]);
    const run = dev.run();
    await untilOne(server, planId, "success", 60_000, "the plan's success");
    dev.stop();
    await run;
    const info = (await call(server, "GET", "/api/devices/pk1/q2")).json;
    t.is(info.version, "2.0.0");
    t.deepEqual(info.components, { assets: "1.1.0" });
    t.is(dev.updates, 1, "the app only");
    t.false(info.events.some((e: any) => e.kind === "component"), "no assets plan ran");
    t.is(server.fileStats.bytesServed, APP.length);
  } finally {
    dev.stop();
    await server.close();
  }
});

test("QuecThing: a device refuses an assets plan its partition is newer than, with the reason; nothing is downloaded", async (t) => {
  const server = await startServer();
  const dev = quecHolding(server, "q3", "1.2.0");
  try {
    const pkg = await uploadFiles(server, [["assets", ASSETS], ["app", APP]]);
    const planId = await activePlan(server, [pkg.json.id]);
    const run = dev.run();
    await untilOne(server, planId, "rejected", 30_000, "the rejection");
    dev.stop();
    await run;
    const info = (await call(server, "GET", "/api/devices/pk1/q3")).json;
    t.is(info.plans[0].state, "rejected");
    t.is(info.plans[0].reason, "assets 1.1.0 is not newer than the installed 1.2.0");
    t.deepEqual(info.components, { assets: "1.2.0" });
    t.is(dev.version, "1.0.0");
    t.is(server.fileStats.bytesServed, 0);
  } finally {
    dev.stop();
    await server.close();
  }
});

test("bad multi-component input to the API gets 4xx and changes nothing", async (t) => {
  const server = await startServer();
  try {
    const pkg = await uploadFiles(server, [["app", APP], ["assets", ASSETS]]);
    t.is(pkg.status, 201);
    const before = { packages: (await call(server, "GET", "/api/packages")).json.length, plans: (await call(server, "GET", "/api/plans")).json.length };
    // Uploads: a component twice, six files, a raw file without its version.
    const twice = await uploadFiles(server, [["app", APP], ["app", APP]], { product: "pk1" });
    t.is(twice.status, 400);
    t.regex(twice.json.error, /appears twice/);
    const six = await uploadFiles(server, ["app", "a1", "a2", "a3", "a4", "a5"].map((c) => [c, c === "app" ? APP : ASSETS] as [string, Uint8Array]), { product: "pk1", versions: "a1:1.0.0,a2:1.0.0,a3:1.0.0,a4:1.0.0,a5:1.0.0" });
    t.is(six.status, 400);
    t.regex(six.json.error, /at most 5/);
    const noVersion = await uploadFiles(server, [["app", APP], ["assets", ASSETS]], { product: "pk1" });
    t.is(noVersion.status, 400);
    t.regex(noVersion.json.error, /files\[1\].*give its version/);
    // Plans: assets at two versions from two packages; a data component only as a delta.
    const other = await uploadFiles(server, [["assets", assetsImage(1024, 3)]], { product: "pk1", versions: "assets:1.2.0" });
    t.is(other.status, 201);
    const two = await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.json.id, other.json.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
    t.is(two.status, 400);
    t.regex(two.json.error, /component assets/);
    const res = await fetch(`${server.base}/api/packages?product=pk1&component=assets&filename=a.patch&kind=delta&sourceVersion=1.0.0&version=1.1.0`, {
      method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(64).fill(1),
    });
    const delta = (await res.json()) as any;
    const appOnly = await uploadFiles(server, [["app", APP]], { product: "pk1" });
    const deltaOnly = await call(server, "POST", "/api/plans", { product: "pk1", packages: [appOnly.json.id, delta.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
    t.is(deltaOnly.status, 400);
    t.regex(deltaOnly.json.error, /assets comes only as a delta package/);
    t.is((await call(server, "GET", "/api/plans")).json.length, before.plans);
    // A poll with malformed component versions: 400, and no device is recorded.
    for (const q of ["assets", "assets@", "app@2.0.0", "assets@1.0.0,assets@1.1.0", "a@1.0.0,b@1.0.0,c@1.0.0,d@1.0.0,e@1.0.0,f@1.0.0", "as/sets@1.0.0"]) {
      const r = await fetch(`${server.base}/d/pk1/d3/manifest.json?version=1.0.0&components=${encodeURIComponent(q)}`);
      t.is(r.status, 400, q);
      await r.text();
    }
    t.deepEqual((await call(server, "GET", "/api/devices")).json, []);
    t.is((await call(server, "GET", "/api/packages")).json.length, before.packages + 3);
  } finally {
    await server.close();
  }
});

test("a components manifest is checked strictly on the device", (t) => {
  const MD5 = "0f9d2ca2dc64fb29780bc071ea0363b2";
  const CRC = "6aa5642f";
  const SHA = "b8117665ed681444af913a2209a08d1f9b82ddc6b0f9a75c36c73f077731d4e6";
  const entry = (component: string) => ({ component, version: "1.1.0", url: "http://h/x.bin", size: 100, md5: MD5, crc32: CRC, sha256: SHA });
  const plan = manifestPlan({ taskId: "plan-1", components: [entry("app"), entry("assets")] });
  t.deepEqual(plan.components.map((c) => c.component), ["app", "assets"]);
  const refused = (doc: Record<string, unknown>, why: RegExp) => {
    const e = t.throws(() => manifestPlan(doc as any), { instanceOf: OtaError });
    t.is((e as OtaError).code, -1);
    t.regex((e as OtaError).reason, why);
  };
  refused({ components: [entry("app")], version: "2.0.0" }, /only taskId and components/);
  refused({ components: [{ ...entry("app"), deltas: [] }] }, /deltas, which is not an offer field/);
  refused({ components: [entry("app"), entry("app")] }, /appears twice/);
  refused({ components: [] }, /1\.\.5 components/);
  refused({ components: ["a", "b", "c", "d", "e", "f"].map(entry) }, /1\.\.5 components/);
  refused({ components: [{ ...entry("assets"), sha256: "00" }] }, /sha256/);
  refused({ components: "app" }, /must be an array/);
});
