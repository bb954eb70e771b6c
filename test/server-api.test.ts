// The server's HTTP API and plan engine: validation (4xx, nothing changes), targeting
// (blacklist wins, source versions), strategy rejection visible with its reason, manual mode,
// staged rollout wave by wave with the automatic pause, and a restart in mid-plan.

import test from "ava";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import { call, startServer, tempDir, until, uploadImage } from "./helpers/ota-server.ts";

async function snapshot(server: { base: string }) {
  return JSON.stringify([(await call(server, "GET", "/api/packages")).json, (await call(server, "GET", "/api/plans")).json, (await call(server, "GET", "/api/devices")).json]);
}

test("bad requests get a 4xx with a clear message and change nothing", async (t) => {
  const server = await startServer();
  try {
    const pkg = (await uploadImage(server, "pk1", "2.0.0")).json;
    const good = { product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] };
    const before = await snapshot(server);
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/api/plans", "{not json", 400, /not JSON/],
      ["POST", "/api/plans", { ...good, colour: "red" }, 400, /unknown field "colour"/],
      ["POST", "/api/plans", { ...good, targetVersion: "v2" }, 400, /targetVersion "v2" is not SemVer/],
      ["POST", "/api/plans", { ...good, targetVersion: "2.1.0" }, 400, /differs from the version/],
      ["POST", "/api/plans", { ...good, packages: [999] }, 404, /package 999 does not exist/],
      ["POST", "/api/plans", { ...good, sourceVersions: ["3.0.0"] }, 400, /not older than the target/],
      ["POST", "/api/plans", { ...good, product: "pk 1" }, 400, /product/],
      ["POST", "/api/plans", { ...good, rollout: { wavePercent: 0 } }, 400, /wavePercent must be a number in \[1, 100\]/],
      ["POST", "/api/plans", { ...good, pushWindow: { start: "25:00", end: "06:00", timeZone: "UTC" } }, 400, /pushWindow.start/],
      ["POST", "/api/plans", { ...good, pushWindow: { start: "01:00", end: "06:00", timeZone: "Mars/Olympus" } }, 400, /time zone/],
      ["POST", "/api/plans", { ...good, strategy: { retries: -1 } }, 400, /retries/],
      ["POST", "/api/plans", { ...good, mode: "loud" }, 400, /mode/],
      ["POST", "/api/plans/1/activate", undefined, 404, /plan 1 does not exist/],
      ["POST", "/api/plans/abc/activate", undefined, 400, /not an id/],
      ["GET", "/api/devices/pk1/nobody", undefined, 404, /not known/],
      ["POST", "/api/packages?product=pk1&filename=x.bin", "not an image", 400, /give its version/],
      ["POST", "/api/packages?product=pk1&filename=x.bin&kind=delta", "patch", 400, /sourceVersion/],
      ["GET", "/api/nothing", undefined, 404, /no route/],
    ];
    for (const [method, route, body, status, message] of cases) {
      const r = await call(server, method, route, body);
      t.is(r.status, status, `${method} ${route} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      t.regex(r.json.error, message, `${method} ${route}`);
    }
    t.is(await snapshot(server), before);
    // A valid plan after all that gets id 1; activating twice is a conflict.
    const plan = await call(server, "POST", "/api/plans", good);
    t.is(plan.status, 201);
    t.is(plan.json.id, 1);
    t.is((await call(server, "POST", "/api/plans/1/activate")).status, 200);
    const again = await call(server, "POST", "/api/plans/1/activate");
    t.is(again.status, 409);
    t.regex(again.json.error, /plan 1 is active: cannot activate it/);
    // A package in use cannot be deleted.
    t.is((await call(server, "DELETE", `/api/packages/${pkg.id}`)).status, 409);
  } finally {
    await server.close();
  }
});

test("targeting: the blacklist wins over the whitelist; only source versions are offered", async (t) => {
  const server = await startServer();
  try {
    const pkg = (await uploadImage(server, "pk1", "2.0.0")).json;
    const plan = (await call(server, "POST", "/api/plans", {
      product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0", "1.1.0"],
      whitelist: ["a", "b", "c", "d"], blacklist: ["b"],
    })).json;
    await call(server, "POST", `/api/plans/${plan.id}/activate`);
    const r = server.rollout;
    const seen: Record<string, string> = { a: "1.0.0", b: "1.0.0", c: "1.1.0", d: "0.9.0", e: "1.0.0" };
    for (const [n, v] of Object.entries(seen)) r.seen("pk1", n, "alibaba", v);
    r.seen("pk2", "a", "alibaba", "1.0.0");
    const offered = Object.keys(seen).filter((n) => r.offerFor("pk1", n) !== undefined);
    t.deepEqual(offered, ["a", "c"]);
    t.is(r.offerFor("pk2", "a"), undefined);
    const o = r.offerFor("pk1", "a")!;
    t.is(o.version, "2.0.0");
    t.is(o.sha256, pkg.files[0].sha256);
    t.regex(o.url, new RegExp(`/files/${pkg.files[0].sha256}\\.bin$`));
  } finally {
    await server.close();
  }
});

test("a strategy rejection shows in the monitor with the device's reason; manual mode waits for a confirm", async (t) => {
  const server = await startServer();
  const devices: SimDevice[] = [];
  try {
    const pkg = (await uploadImage(server, "pk1", "2.0.0")).json;
    const plan = (await call(server, "POST", "/api/plans", {
      product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"], strategy: { minBattery: 50 }, mode: "manual",
    })).json;
    await call(server, "POST", `/api/plans/${plan.id}/activate`);
    const mk = (name: string, battery: number, dialect: "alibaba" | "quec", manualAcceptMs?: number) => {
      const d = new SimDevice({ product: "pk1", name, dialect, battery, manual: dialect === "quec", manualAcceptMs, serverBase: server.base, brokerUrl: server.broker.url });
      devices.push(d);
      return d.run();
    };
    const runs = [mk("low", 20, "quec", 0), mk("waits", 90, "alibaba"), mk("accepts", 90, "quec", 50)];
    const state = async (n: string) => (await call(server, "GET", `/api/devices/pk1/${n}`)).json.plans?.[0];
    await until(async () => (await state("low"))?.state === "rejected", 20_000, "low battery rejected");
    t.regex((await state("low")).reason, /battery/);
    await until(async () => (await state("accepts"))?.state === "success", 30_000, "quec manual accept");
    // The Alibaba device gets nothing until the operator confirms for it.
    await until(async () => (await state("waits"))?.state === "pending", 10_000, "pending");
    await new Promise((r) => setTimeout(r, 300));
    t.is((await state("waits")).state, "pending");
    t.is(devices[1].version, "1.0.0");
    t.is((await call(server, "POST", `/api/plans/${plan.id}/devices/waits/confirm`)).status, 200);
    await until(async () => (await state("waits"))?.state === "success", 30_000, "confirmed device updates");
    const stats = (await call(server, "GET", `/api/plans/${plan.id}`)).json;
    t.deepEqual([stats.counts.success, stats.counts.rejected, stats.counts.failed], [2, 1, 0]);
    for (const d of devices) d.stop();
    await Promise.all(runs);
  } finally {
    for (const d of devices) d.stop();
    await server.close();
  }
});

test("staged rollout: waves advance as devices succeed, the plan pauses at its error threshold, and a restart loses nothing", async (t) => {
  const dataDir = tempDir();
  let server = await startServer({ dataDir });
  try {
    const pkg = (await uploadImage(server, "pk1", "2.0.0")).json;
    const plan = (await call(server, "POST", "/api/plans", {
      product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"],
      rollout: { wavePercent: 20, errorThresholdPercent: 30 },
    })).json;
    const names = Array.from({ length: 10 }, (_, i) => `d${i}`);
    for (const n of names) server.rollout.seen("pk1", n, "alibaba", "1.0.0");
    await call(server, "POST", `/api/plans/${plan.id}/activate`);
    const offerAll = () => names.filter((n) => server.rollout.offerFor("pk1", n) !== undefined);
    const get = async () => (await call(server, "GET", `/api/plans/${plan.id}`)).json;
    // Wave 1: 2 of 10.
    const w1 = offerAll();
    t.is(w1.length, 2);
    t.is((await get()).wave, 1);
    server.rollout.progress("pk1", w1[0], undefined, 40, "downloading");
    // Restart in the middle of the wave: state, progress and wave survive.
    await server.close();
    server = await startServer({ dataDir });
    let s = await get();
    t.is(s.status, "active");
    t.is(s.wave, 1);
    t.is(s.counts.downloading, 1);
    t.is(s.counts.pending, 1);
    const dev = (await call(server, "GET", `/api/devices/pk1/${w1[0]}`)).json;
    t.is(dev.plans[0].progress, 40);
    t.true(dev.events.some((e: { kind: string }) => e.kind === "pending"));
    // The same two are offered again (they resume); nobody else yet.
    t.deepEqual(offerAll(), w1);
    for (const n of w1) server.rollout.seen("pk1", n, "alibaba", "2.0.0");
    s = await get();
    t.is(s.wave, 2);
    t.is(s.counts.success, 2);
    // Wave 2: two more; both succeed.
    const w2 = offerAll();
    t.is(w2.length, 2);
    t.false(w2.some((n) => w1.includes(n)));
    for (const n of w2) server.rollout.seen("pk1", n, "alibaba", "2.0.0");
    t.is((await get()).wave, 3);
    // Wave 3: one of two fails with -3: 50% > 30%: paused, with the reason.
    const w3 = offerAll();
    t.is(w3.length, 2);
    server.rollout.failed("pk1", w3[0], undefined, -3, "SHA-256 mismatch");
    s = await get();
    t.is(s.status, "paused");
    t.regex(s.pauseReason, /wave 3: 1 of 2 devices failed \(50%\), above the error threshold of 30%/);
    const failed = (await call(server, "GET", `/api/devices/pk1/${w3[0]}`)).json.plans[0];
    t.deepEqual([failed.state, failed.error_code, failed.reason], ["failed", -3, "SHA-256 mismatch"]);
    // Paused: nobody new is offered; the device in flight still is (it resumes).
    t.deepEqual(offerAll(), [w3[1]]);
    // The pause survives a restart; the operator resumes it.
    await server.close();
    server = await startServer({ dataDir });
    t.is((await get()).status, "paused");
    t.is((await call(server, "POST", `/api/plans/${plan.id}/resume`)).status, 200);
    server.rollout.seen("pk1", w3[1], "alibaba", "2.0.0");
    s = await get();
    t.is(s.counts.success, 5);
    t.is(s.counts.failed, 1);
    t.is(s.successRate, 5 / 6);
    // Cancel: nothing more is offered.
    t.is((await call(server, "POST", `/api/plans/${plan.id}/cancel`)).status, 200);
    t.deepEqual(offerAll(), []);
  } finally {
    await server.close();
  }
});

test("multiple plans per device run one after another", async (t) => {
  const server = await startServer();
  try {
    const p2 = (await uploadImage(server, "pk1", "2.0.0")).json;
    const p3 = (await uploadImage(server, "pk1", "3.0.0")).json;
    const a = (await call(server, "POST", "/api/plans", { product: "pk1", packages: [p2.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] })).json;
    const b = (await call(server, "POST", "/api/plans", { product: "pk1", packages: [p3.id], targetVersion: "3.0.0", sourceVersions: ["2.0.0"] })).json;
    await call(server, "POST", `/api/plans/${b.id}/activate`);
    await call(server, "POST", `/api/plans/${a.id}/activate`);
    const r = server.rollout;
    r.seen("pk1", "x", "quec", "1.0.0");
    t.is(r.offerFor("pk1", "x")?.planId, a.id);
    r.seen("pk1", "x", "quec", "2.0.0");
    t.is(r.offerFor("pk1", "x")?.planId, b.id);
    r.seen("pk1", "x", "quec", "3.0.0");
    t.is(r.offerFor("pk1", "x"), undefined);
    t.is((await call(server, "GET", `/api/plans/${a.id}`)).json.counts.success, 1);
    t.is((await call(server, "GET", `/api/plans/${b.id}`)).json.counts.success, 1);
  } finally {
    await server.close();
  }
});
