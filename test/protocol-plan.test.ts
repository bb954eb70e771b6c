import test from "ava";
import { OtaError } from "../src/errors.ts";
import type { Offer } from "../src/agent/offer.ts";
import type { Readings } from "../src/agent/policy.ts";
import type { UpdateResult } from "../src/agent/types.ts";
import type { ClockPort, TimerHandle } from "../src/ports.ts";
import {
  QuecOtaEvent, QuecPlanClient, decideComponentPlan, decidePlan, encodeConfirm, encodeEvent, encodePackage, encodePlan, encodePlanRequest,
  encodeResult, parseCloudMessage, parseDeviceMessage, quecTopics, type Plan,
} from "../src/protocol/quec-plan.ts";
import type { ComponentResult, PlanUpdater } from "../src/protocol/multi-component.ts";

const dec = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const MD5 = "0f9d2ca2dc64fb29780bc071ea0363b2";
const CRC = "6aa5642f";
const SHA = "b8117665ed681444af913a2209a08d1f9b82ddc6b0f9a75c36c73f077731d4e6";

const clock: ClockPort = {
  now: () => 0,
  setTimeout: (): TimerHandle => ({ id: 0 }),
  clearTimeout: () => undefined,
  random: () => 0.5,
};

const PLAN: Plan = { taskId: "t1", component: "app", sourceVersion: "1.0.0", targetVersion: "2.0.0", minBattery: 30, minSignal: -100, requiredSpace: 1048576 };
const PLAN_JSON = `{"type":"plan","taskId":"t1","component":"app","sourceVersion":"1.0.0","targetVersion":"2.0.0","minBattery":30,"minSignal":-100,"requiredSpace":1048576}`;
const PKG_JSON = `{"type":"package","taskId":"t1","component":"app","version":"2.0.0","url":"https://ota.example.com/app-2.0.0.bin","md5":"${MD5}","crc32":"${CRC}","sha256":"${SHA}","size":262144}`;

test("golden: cloud -> device (plan, package), encoded and parsed", (t) => {
  t.is(dec(encodePlan(PLAN)), PLAN_JSON);
  t.deepEqual(parseCloudMessage(PLAN_JSON), { type: "plan", ...PLAN });
  const pkg = { taskId: "t1", component: "app", version: "2.0.0", url: "https://ota.example.com/app-2.0.0.bin", md5: MD5, crc32: CRC, sha256: SHA, size: 262144 };
  t.is(dec(encodePackage(pkg)), PKG_JSON);
  t.deepEqual(parseCloudMessage(PKG_JSON), { type: "package", ...pkg });
  t.is(dec(encodePlan({ taskId: "t2", component: "app", sourceVersion: "1.0.0", targetVersion: "1.1.0" })),
    `{"type":"plan","taskId":"t2","component":"app","sourceVersion":"1.0.0","targetVersion":"1.1.0"}`);
});

test("golden: device -> cloud (request, confirm, event, result), encoded and parsed", (t) => {
  const cases: [Uint8Array, string][] = [
    [encodePlanRequest({ component: "app", version: "1.0.0" }), `{"type":"request","component":"app","version":"1.0.0"}`],
    [encodeConfirm({ taskId: "t1", component: "app", action: 1, reason: "accepted" }), `{"type":"confirm","taskId":"t1","component":"app","action":1,"reason":"accepted"}`],
    [encodeConfirm({ taskId: "t1", component: "app", action: 0, reason: "battery 10% is below 30%" }), `{"type":"confirm","taskId":"t1","component":"app","action":0,"reason":"battery 10% is below 30%"}`],
    [encodeEvent({ taskId: "t1", component: "app", code: 10700 }), `{"type":"event","taskId":"t1","component":"app","code":10700}`],
    [encodeEvent({ taskId: "t1", component: "app", code: 10702, percent: 40 }), `{"type":"event","taskId":"t1","component":"app","code":10702,"percent":40}`],
    [encodeEvent({ taskId: "t1", component: "app", code: 10706, errorCode: -3, reason: "md5 mismatch" }), `{"type":"event","taskId":"t1","component":"app","code":10706,"errorCode":-3,"reason":"md5 mismatch"}`],
    [encodeResult({ taskId: "t1", component: "app", version: "2.0.0", code: 10705, errorCode: 0, reason: "confirmed" }), `{"type":"result","taskId":"t1","component":"app","version":"2.0.0","code":10705,"errorCode":0,"reason":"confirmed"}`],
  ];
  for (const [bytes, golden] of cases) {
    t.is(dec(bytes), golden);
    t.is(dec(reencode(parseDeviceMessage(golden))), golden);
  }
});

function reencode(m: ReturnType<typeof parseDeviceMessage>): Uint8Array {
  switch (m.type) {
    case "request": return encodePlanRequest(m);
    case "confirm": return encodeConfirm(m);
    case "event": return encodeEvent(m);
    case "result": return encodeResult(m);
  }
}

test("QuecThing event codes are the SDK's", (t) => {
  t.deepEqual(Object.values(QuecOtaEvent), [10700, 10701, 10702, 10703, 10704, 10705, 10706]);
  t.deepEqual(quecTopics("pk", "dn"), { down: "/quec/ota/pk/dn/down", up: "/quec/ota/pk/dn/up" });
});

const READY: Readings = { batteryPercent: 80, rssi: -70, freeSpace: 0x1e0000 };

test("policy: accepts a plan the device meets, says why it refuses the others", (t) => {
  t.deepEqual(decidePlan(PLAN, "1.0.0", READY), { accept: true, reason: "accepted" });
  const no = (p: Partial<Plan>, r: Partial<Readings> = {}, running = "1.0.0") => decidePlan({ ...PLAN, ...p }, running, { ...READY, ...r });
  t.regex(no({}, { batteryPercent: 10 }).reason, /battery 10% is below 30%/);
  t.regex(no({}, { batteryPercent: undefined }).reason, /needs a battery reading/);
  t.regex(no({}, { rssi: -110 }).reason, /signal -110 dBm is below -100 dBm/);
  t.regex(no({ requiredSpace: 4 * 1024 * 1024 }).reason, /plan needs 4194304 bytes, the slot has 1966080/);
  t.regex(no({ sourceVersion: "0.9.0" }).reason, /plan is for version 0\.9\.0, the device runs 1\.0\.0/);
  t.regex(no({ targetVersion: "1.0.0" }).reason, /not newer/);
  t.regex(no({ component: "modem" }).reason, /component modem is not updated/);
  t.false(no({}, { batteryPercent: 10 }).accept);
});

// A delta package: url serves the patch (delta.size bytes) from the plan's sourceVersion; size and
// digests stay the target image's.
const BASE_SHA = "aa".repeat(32);
const DELTA_PKG_JSON = `{"type":"package","taskId":"t1","component":"app","version":"2.0.0","url":"https://ota.example.com/app-1.0.0-2.0.0.patch","md5":"${MD5}","crc32":"${CRC}","sha256":"${SHA}","size":262144,"delta":{"size":4096,"baseSha256":"${BASE_SHA}"}}`;

test("golden: a delta package, encoded and parsed; the client offers it with the plan's sourceVersion as its base", async (t) => {
  const pkg = { taskId: "t1", component: "app", version: "2.0.0", url: "https://ota.example.com/app-1.0.0-2.0.0.patch", md5: MD5, crc32: CRC, sha256: SHA, size: 262144, delta: { size: 4096, baseSha256: BASE_SHA } };
  t.is(dec(encodePackage(pkg)), DELTA_PKG_JSON);
  t.deepEqual(parseCloudMessage(DELTA_PKG_JSON), { type: "package", ...pkg });
  t.deepEqual(parseCloudMessage(DELTA_PKG_JSON.replace(`,"baseSha256":"${BASE_SHA}"`, "")), { type: "package", ...pkg, delta: { size: 4096 } });
  const h = harness();
  h.c.receive(PLAN_JSON);
  h.c.receive(DELTA_PKG_JSON);
  t.true((await h.c.result())?.ok);
  t.deepEqual(h.calls[0], {
    component: "app", version: "2.0.0", url: "https://ota.example.com/app-1.0.0-2.0.0.patch", size: 262144, md5: MD5, crc32: CRC, sha256: SHA,
    minBattery: 30, minSignal: -100, requiredSpace: 1048576, delta: { baseVersion: "1.0.0", baseSha256: BASE_SHA, size: 4096 },
  });
});

const HOSTILE: [string, string, RegExp][] = [
  ["delta package: delta not an object", DELTA_PKG_JSON.replace(/"delta":\{[^}]*\}/, `"delta":[4096]`), /delta must be an object/],
  ["delta package: patch size missing", DELTA_PKG_JSON.replace(`"size":4096,`, ""), /delta.size must be an integer/],
  ["delta package: patch size as a string", DELTA_PKG_JSON.replace(`"size":4096`, `"size":"4096"`), /delta.size must be an integer/],
  ["delta package: patch size zero", DELTA_PKG_JSON.replace(`"size":4096`, `"size":0`), /delta.size must be an integer/],
  ["delta package: baseSha256 too short", DELTA_PKG_JSON.replace(BASE_SHA, "aa"), /delta.baseSha256 must be 64 hex/],
  ["not JSON", "{", /not JSON/],
  ["unknown type", `{"type":"reboot"}`, /type must be/],
  ["battery as a string", PLAN_JSON.replace(`"minBattery":30`, `"minBattery":"30"`), /minBattery must be an integer/],
  ["battery above 100", PLAN_JSON.replace(`"minBattery":30`, `"minBattery":300`), /minBattery 300 out of range/],
  ["negative space", PLAN_JSON.replace(`"requiredSpace":1048576`, `"requiredSpace":-1`), /requiredSpace -1 out of range/],
  ["huge space", PLAN_JSON.replace(`"requiredSpace":1048576`, `"requiredSpace":1e300`), /requiredSpace .* out of range/],
  ["taskId with a slash", PLAN_JSON.replace(`"taskId":"t1"`, `"taskId":"../t"`), /taskId/],
  ["target version not a version", PLAN_JSON.replace(`"targetVersion":"2.0.0"`, `"targetVersion":"new"`), /targetVersion "new" is not a SemVer 2.0 version/],
  ["package: ftp URL", PKG_JSON.replace("https://", "ftp://"), /url must be http/],
  ["package: negative size", PKG_JSON.replace(`"size":262144`, `"size":-1`), /size -1 out of range/],
  ["package: huge size", PKG_JSON.replace(`"size":262144`, `"size":99999999999`), /out of range/],
  ["package: size as a string", PKG_JSON.replace(`"size":262144`, `"size":"262144"`), /size must be an integer/],
  ["package: missing sha256", PKG_JSON.replace(`,"sha256":"${SHA}"`, ""), /missing digest sha256/],
  ["package: crc32 too short", PKG_JSON.replace(CRC, "6aa5"), /crc32 must be 8 hex/],
  ["package: a signature (not supported yet)", PKG_JSON.replace(`"size":262144`, `"size":262144,"signature":"c2ln"`), /signatures are not supported yet/],
  ["package: IPv6 host without its bracket", PKG_JSON.replace("https://", "https://[::1"), /no closing bracket/],
];

for (const [name, payload, reason] of HOSTILE) {
  test(`hostile cloud message: ${name} -> OtaError(-1)`, (t) => {
    const e = t.throws(() => parseCloudMessage(payload), { instanceOf: OtaError });
    t.is(e!.code, -1);
    t.regex(e!.reason, reason);
  });
}

function harness(opts: { manual?: boolean; readings?: Readings; result?: (o: Offer) => UpdateResult; multi?: PlanUpdater } = {}) {
  const sent: string[] = [];
  const calls: Offer[] = [];
  const refusedReasons: string[] = [];
  const decisions: string[] = [];
  const results: UpdateResult[] = [];
  let progress: QuecPlanClient["progress"] = () => undefined;
  const c = new QuecPlanClient({
    send: (p) => sent.push(dec(p)),
    clock,
    version: () => "1.0.0",
    readings: () => opts.readings ?? READY,
    update: async (o) => {
      calls.push(o);
      progress({ phase: "check", bytes: 0, total: o.size, percent: 0 });
      progress({ phase: "download", bytes: o.size / 2, total: o.size, percent: 45 });
      progress({ phase: "download", bytes: o.size, total: o.size, percent: 90 });
      progress({ phase: "verify", bytes: o.size, total: o.size, percent: 97 });
      progress({ phase: "stage", bytes: o.size, total: o.size, percent: 99 });
      return opts.result?.(o) ?? { ok: true, errorCode: 0, reason: "staged; restarting into the new image", component: "app", fromVersion: "1.0.0", toVersion: o.version };
    },
    manual: opts.manual,
    multi: opts.multi,
    onResult: (r) => results.push(r),
    onPlan: (_p, d) => decisions.push(d.reason),
    onRefused: (r) => refusedReasons.push(r),
    downloading: { minIntervalMs: 0, minStep: 10 },
  });
  progress = (p) => c.progress(p);
  return { c, sent, calls, refusedReasons, decisions, results };
}

const codes = (sent: string[]) => sent.map((s) => JSON.parse(s)).map((m) => (m.type === "event" ? m.code : m.type));

test("auto mode: plan -> 10700, confirm, package -> 10701, 10702, 10703, 10704, 10705; then the result after the reboot", async (t) => {
  const h = harness();
  h.c.receive(PLAN_JSON);
  t.is(h.c.state, "awaiting-package");
  h.c.receive(PKG_JSON);
  t.is(h.c.state, "updating");
  const r = await h.c.result();
  t.true(r?.ok);
  t.deepEqual(codes(h.sent), [10700, "confirm", 10701, 10702, 10702, 10703, 10704, 10705]);
  t.is(h.sent[1], `{"type":"confirm","taskId":"t1","component":"app","action":1,"reason":"accepted"}`);
  t.is(h.sent[3], `{"type":"event","taskId":"t1","component":"app","code":10702,"percent":50}`);
  t.is(h.sent[4], `{"type":"event","taskId":"t1","component":"app","code":10702,"percent":99}`);
  t.deepEqual(h.calls[0], {
    component: "app", version: "2.0.0", url: "https://ota.example.com/app-2.0.0.bin", size: 262144, md5: MD5, crc32: CRC, sha256: SHA,
    minBattery: 30, minSignal: -100, requiredSpace: 1048576,
  });
  t.deepEqual(h.c.memo, { taskId: "t1", component: "app", version: "2.0.0" });
  // After the reboot the application hands the memo back with agent.boot()'s report.
  const after = harness();
  after.c.start({ version: "2.0.0", slot: "ota_1", imageState: "valid", lastUpdate: { ok: true, errorCode: 0, reason: "confirmed", component: "app", fromVersion: "1.0.0", toVersion: "2.0.0" } }, h.c.memo);
  t.deepEqual(after.sent, [`{"type":"result","taskId":"t1","component":"app","version":"2.0.0","code":10705,"errorCode":0,"reason":"confirmed"}`]);
});

test("a failed update ends with 10706 and its error code", async (t) => {
  const h = harness({ result: (o) => ({ ok: false, errorCode: -3, reason: "sha256 mismatch", component: "app", fromVersion: "1.0.0", toVersion: o.version }) });
  h.c.receive(PLAN_JSON);
  h.c.receive(PKG_JSON);
  await h.c.result();
  t.is(h.sent.at(-1), `{"type":"event","taskId":"t1","component":"app","code":10706,"errorCode":-3,"reason":"sha256 mismatch"}`);
  t.is(h.c.state, "idle");
  t.is(h.c.memo, undefined);
});

test("policy refusal: confirm with action 0 and the reason; a package after it is ignored", (t) => {
  const h = harness({ readings: { ...READY, batteryPercent: 12 } });
  h.c.receive(PLAN_JSON);
  t.is(h.sent[1], `{"type":"confirm","taskId":"t1","component":"app","action":0,"reason":"battery 12% is below 30%"}`);
  h.c.receive(PKG_JSON);
  t.deepEqual(h.calls, []);
  t.regex(h.refusedReasons[0], /no accepted plan waits/);
});

test("manual mode waits for accept() from the application", async (t) => {
  const h = harness({ manual: true });
  h.c.receive(PLAN_JSON);
  t.is(h.c.state, "awaiting-accept");
  t.deepEqual(codes(h.sent), [10700]);
  h.c.receive(PKG_JSON); // no confirm yet: ignored
  t.deepEqual(h.calls, []);
  h.c.accept();
  t.is(h.sent.at(-1), `{"type":"confirm","taskId":"t1","component":"app","action":1,"reason":"accepted by the application"}`);
  h.c.receive(PKG_JSON);
  t.true((await h.c.result())?.ok);
  t.throws(() => h.c.accept(), { instanceOf: OtaError });
});

test("manual mode: refuse() answers action 0", (t) => {
  const h = harness({ manual: true });
  h.c.receive(PLAN_JSON);
  h.c.refuse("user said later");
  t.is(h.sent.at(-1), `{"type":"confirm","taskId":"t1","component":"app","action":0,"reason":"user said later"}`);
  t.is(h.c.state, "idle");
});

test("hostile or mismatched messages change nothing", (t) => {
  const h = harness();
  h.c.receive("not json");
  h.c.receive(PKG_JSON); // no plan
  h.c.receive(PLAN_JSON);
  h.c.receive(PKG_JSON.replace(`"version":"2.0.0"`, `"version":"3.0.0"`)); // not the plan's version
  h.c.receive(PKG_JSON.replace(`"taskId":"t1"`, `"taskId":"t9"`));
  h.c.receive(PKG_JSON.replace("https://", "gopher://"));
  t.deepEqual(h.calls, []);
  t.is(h.c.state, "awaiting-package");
  t.is(h.refusedReasons.length, 5);
  t.regex(h.refusedReasons[0], /not JSON/);
  t.regex(h.refusedReasons[2], /does not match plan t1\/app\/2\.0\.0/);
  t.regex(h.refusedReasons[4], /url must be http/);
});

// ---- data components (a MultiComponentUpdater as `multi`) ----------------------------------

const ASSETS_PLAN: Plan = { taskId: "plan-7", component: "assets", sourceVersion: "1.0.0", targetVersion: "1.1.0", minBattery: 30 };
const assetsPlan = (p: Partial<Plan> = {}) => dec(encodePlan({ ...ASSETS_PLAN, ...p }));
const ASSETS_PKG = (p: Record<string, unknown> = {}) =>
  dec(encodePackage({ taskId: "plan-7", component: "assets", version: "1.1.0", url: "http://h/assets.bin", md5: MD5, crc32: CRC, sha256: SHA, size: 40960, ...p }));

/** A PlanUpdater that writes nothing: it records each plan, reports download progress and
 * answers `outcome` (default: written, and the component then holds the offer's version). */
function fakeMulti(installed: Record<string, string>, opts: { capacity?: Record<string, number>; outcome?: (c: string, v: string) => ComponentResult } = {}) {
  const plans: unknown[] = [];
  const capacity = opts.capacity ?? { assets: 0x40000 };
  const multi: PlanUpdater = {
    installed: (c) => (c === "app" ? "1.0.0" : installed[c]),
    components: () => ({ ...installed }),
    capacity: (c) => capacity[c],
    pending: () => undefined,
    resume: async () => undefined,
    apply: async (input, onProgress) => {
      plans.push(input);
      const offer = (input as { components: Offer[] }).components[0];
      for (const percent of [30, 60, 100]) onProgress?.(offer.component, { phase: "download", bytes: (offer.size * percent) / 100, total: offer.size, percent });
      const r = opts.outcome?.(offer.component, offer.version) ?? { component: offer.component, version: offer.version, ok: true, errorCode: 0, reason: `${offer.component} holds ${offer.version}` };
      if (r.ok) installed[offer.component] = offer.version;
      return { status: r.ok ? "done" : "failed", results: [r] };
    },
  };
  return { multi, plans, installed };
}

test("a data component's plan: decided against its installed version, written through multi, events 10700..10705 then its result with the new version", async (t) => {
  const m = fakeMulti({ assets: "1.0.0" });
  const h = harness({ multi: m.multi });
  h.c.receive(assetsPlan());
  t.is(h.c.state, "awaiting-package");
  t.is(h.sent[1], `{"type":"confirm","taskId":"plan-7","component":"assets","action":1,"reason":"accepted"}`);
  h.c.receive(ASSETS_PKG());
  const r = await h.c.result();
  t.true(r?.ok);
  t.deepEqual(codes(h.sent), [10700, "confirm", 10701, 10702, 10702, 10702, 10703, 10705, "result"]);
  // (the download's 100 % is 10703's: 10702 stops at 99, as for the app)
  t.deepEqual(h.sent.slice(3, 7).map((x) => JSON.parse(x).percent), [30, 60, 99, 100]);
  t.is(h.sent.at(-1), `{"type":"result","taskId":"plan-7","component":"assets","version":"1.1.0","code":10705,"errorCode":0,"reason":"assets holds 1.1.0"}`);
  t.deepEqual(m.plans, [{ taskId: "plan-7", components: [{ component: "assets", version: "1.1.0", url: "http://h/assets.bin", size: 40960, md5: MD5, crc32: CRC, sha256: SHA, minBattery: 30 }] }]);
  t.deepEqual(h.calls, [], "the agent (the app's update) is not involved");
  t.deepEqual(h.results, [{ ok: true, errorCode: 0, reason: "assets holds 1.1.0", component: "assets", fromVersion: "1.0.0", toVersion: "1.1.0" }]);
  t.is(h.c.memo, undefined, "no reboot, nothing to remember");
  t.is(h.c.state, "idle");
  // The next component's plan is taken at once.
  h.c.receive(assetsPlan({ taskId: "plan-8", sourceVersion: "1.1.0", targetVersion: "1.2.0" }));
  t.is(h.c.state, "awaiting-package");
});

test("a data component's plan is refused with the reason: source, version, partition, space, battery", (t) => {
  const refusal = (installed: Record<string, string>, plan: Partial<Plan>, readings: Partial<Readings> = {}, capacity?: Record<string, number>) => {
    const h = harness({ multi: fakeMulti(installed, { capacity }).multi, readings: { ...READY, ...readings } });
    h.c.receive(assetsPlan(plan));
    const confirm = JSON.parse(h.sent[1]);
    t.is(confirm.action, 0);
    t.is(h.c.state, "idle");
    return confirm.reason as string;
  };
  t.is(refusal({ assets: "1.0.5" }, {}), "plan is for assets 1.0.0, the device holds 1.0.5");
  t.is(refusal({ assets: "1.1.0" }, { sourceVersion: "1.1.0" }), "assets 1.1.0 is not newer than the installed 1.1.0");
  t.is(refusal({ assets: "1.2.0" }, { sourceVersion: "1.2.0" }), "assets 1.1.0 is not newer than the installed 1.2.0");
  t.is(refusal({}, { component: "fonts" }), "component fonts is not updated by this device: no data partition takes it");
  t.regex(refusal({}, { requiredSpace: 0x50000 }), /plan needs 327680 bytes, the slot has 262144/);
  t.regex(refusal({}, {}, { batteryPercent: 12 }), /battery 12% is below 30%/);
  // Decided against the component's version, not the app's (1.0.0 here: the plan's source).
  t.is(refusal({ assets: "2.0.0" }, {}), "plan is for assets 1.0.0, the device holds 2.0.0");
});

test("decideComponentPlan: any source version when the partition holds none the device knows; SemVer order", (t) => {
  t.true(decideComponentPlan({ ...ASSETS_PLAN, sourceVersion: "0.0.0" }, undefined, READY).accept);
  t.true(decideComponentPlan({ ...ASSETS_PLAN, sourceVersion: "1.0.9" }, undefined, READY).accept);
  t.true(decideComponentPlan({ ...ASSETS_PLAN, sourceVersion: "1.1.0-rc.1" }, "1.1.0-rc.1", READY).accept, "a release is newer than its pre-release");
  t.false(decideComponentPlan({ ...ASSETS_PLAN, sourceVersion: "1.10.0" }, "1.10.0", READY).accept, "1.1.0 is older than 1.10.0");
});

test("a data component that fails: 10706 with its error code and the reason naming it; no result", async (t) => {
  const m = fakeMulti({}, { outcome: (c, v) => ({ component: c, version: v, ok: false, errorCode: -3, reason: "sha256 mismatch" }) });
  const h = harness({ multi: m.multi });
  h.c.receive(assetsPlan({ sourceVersion: "0.0.0" }));
  h.c.receive(ASSETS_PKG());
  const r = await h.c.result();
  t.false(r?.ok);
  t.is(r?.errorCode, -3);
  t.deepEqual(codes(h.sent), [10700, "confirm", 10701, 10702, 10702, 10702, 10706]);
  t.is(h.sent.at(-1), `{"type":"event","taskId":"plan-7","component":"assets","code":10706,"errorCode":-3,"reason":"assets 1.1.0: sha256 mismatch"}`);
  t.deepEqual(m.installed, {});
  t.is(h.c.state, "idle");
});

test("a data component's delta package fails with -1 before anything is written", async (t) => {
  const m = fakeMulti({ assets: "1.0.0" });
  const h = harness({ multi: m.multi });
  h.c.receive(assetsPlan());
  h.c.receive(ASSETS_PKG({ delta: { size: 100 } }));
  const r = await h.c.result();
  t.is(r?.errorCode, -1);
  t.deepEqual(m.plans, []);
  t.is(JSON.parse(h.sent.at(-1)!).reason, "assets 1.1.0: a data partition takes full images, not a delta package");
});

test("with multi, the app's plan still goes to the agent; the agent's progress does not leak into a data plan", async (t) => {
  const m = fakeMulti({ assets: "1.0.0" });
  const h = harness({ multi: m.multi });
  h.c.receive(PLAN_JSON);
  h.c.receive(PKG_JSON);
  t.true((await h.c.result())?.ok);
  t.is(h.calls.length, 1);
  t.deepEqual(m.plans, []);
  t.deepEqual(h.c.memo, { taskId: "t1", component: "app", version: "2.0.0" });
  h.sent.length = 0;
  h.c.receive(assetsPlan());
  h.c.receive(ASSETS_PKG());
  h.c.progress({ phase: "download", bytes: 1, total: 2, percent: 50 });
  await h.c.result();
  t.deepEqual(codes(h.sent), [10700, "confirm", 10701, 10702, 10702, 10702, 10703, 10705, "result"]);
});

test("start-up: the result after the reboot, then each data component's installed version; request() names a component", (t) => {
  const m = fakeMulti({ assets: "1.1.0", fonts: "3.0.0" });
  const h = harness({ multi: m.multi });
  h.c.start({ version: "2.0.0", slot: "ota_1", imageState: "valid", lastUpdate: { ok: true, errorCode: 0, reason: "confirmed", component: "app", fromVersion: "1.0.0", toVersion: "2.0.0" } }, { taskId: "t1", component: "app", version: "2.0.0" });
  t.deepEqual(h.sent, [
    `{"type":"result","taskId":"t1","component":"app","version":"2.0.0","code":10705,"errorCode":0,"reason":"confirmed"}`,
    `{"type":"request","component":"assets","version":"1.1.0"}`,
    `{"type":"request","component":"fonts","version":"3.0.0"}`,
  ]);
  h.sent.length = 0;
  h.c.start();
  t.deepEqual(codes(h.sent), ["request", "request"], "without a memo: the versions alone");
  h.sent.length = 0;
  h.c.request();
  h.c.request("assets");
  t.deepEqual(h.sent, [`{"type":"request","component":"app","version":"1.0.0"}`, `{"type":"request","component":"assets","version":"1.1.0"}`]);
  const e = t.throws(() => h.c.request("modem"), { instanceOf: OtaError });
  t.regex(e!.reason, /modem has no installed version/);
  // Without multi: no versions to report.
  const plain = harness();
  plain.c.start();
  t.deepEqual(plain.sent, []);
});
