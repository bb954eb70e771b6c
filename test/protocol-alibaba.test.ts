import test from "ava";
import { OtaError } from "../src/errors.ts";
import type { Offer } from "../src/agent/offer.ts";
import type { UpdateResult } from "../src/agent/types.ts";
import type { ClockPort, MqttPort, TimerHandle } from "../src/ports.ts";
import {
  AlibabaOtaClient, ProgressReporter, alibabaTopics, encodeInform, encodeProgress, encodeRequest, encodeUpgrade,
  parseInform, parseProgress, parseRequest, parseUpgrade,
} from "../src/protocol/alibaba-mqtt.ts";

const dec = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const enc = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

const MD5 = "93230c3bde425a9d7984a594ac55ea1e";
const CRC = "cbf43926";
const SHA = "b8117665ed681444af913a2209a08d1f9b82ddc6b0f9a75c36c73f077731d4e6";

/** A manual clock: timers fire when the test advances time. */
class FakeClock implements ClockPort {
  t = 0;
  private timers: { at: number; f: () => void; id: number }[] = [];
  private next = 1;
  now() {
    return this.t;
  }
  setTimeout(f: () => void, ms: number): TimerHandle {
    const id = this.next++;
    this.timers.push({ at: this.t + ms, f, id });
    return { id };
  }
  clearTimeout(h: TimerHandle) {
    this.timers = this.timers.filter((x) => x.id !== h.id);
  }
  random() {
    return 0.5;
  }
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.f();
    }
    this.t = end;
  }
}

class FakeMqtt implements MqttPort {
  published: { topic: string; payload: string }[] = [];
  subscribed: string[] = [];
  private handlers: ((t: string, p: Uint8Array) => void)[] = [];
  publish(topic: string, payload: Uint8Array) {
    this.published.push({ topic, payload: dec(payload) });
  }
  subscribe(topic: string) {
    this.subscribed.push(topic);
  }
  onMessage(h: (t: string, p: Uint8Array) => void) {
    this.handlers.push(h);
  }
  deliver(topic: string, payload: string) {
    for (const h of this.handlers) h(topic, enc(payload));
  }
}

const GOLDEN_UPGRADE =
  `{"code":"1000","data":{"size":432945,"version":"2.0.0","url":"https://ota.example.com/fw/app-2.0.0.bin","signMethod":"Md5",` +
  `"sign":"${MD5}","md5":"${MD5}","module":"MCU","isDiff":0,"extData":{"crc32":"${CRC}","sha256":"${SHA}"}},"id":1507707025,"message":"success"}`;

const GOLDEN_OFFER: Offer = { component: "app", version: "2.0.0", url: "https://ota.example.com/fw/app-2.0.0.bin", size: 432945, md5: MD5, crc32: CRC, sha256: SHA };

test("topics", (t) => {
  t.deepEqual(alibabaTopics("a1Pk", "dev-01"), {
    inform: "/ota/device/inform/a1Pk/dev-01",
    upgrade: "/ota/device/upgrade/a1Pk/dev-01",
    progress: "/ota/device/progress/a1Pk/dev-01",
    request: "/ota/device/request/a1Pk/dev-01",
  });
  for (const bad of ["", "a/b", "a+", "#", "x".repeat(65)]) {
    const e = t.throws(() => alibabaTopics(bad, "d"), { instanceOf: OtaError });
    t.regex(e!.reason, /productKey/);
  }
});

test("golden: device -> cloud payloads (inform, request, progress)", (t) => {
  t.is(dec(encodeInform({ id: "1", version: "1.0.1", module: "MCU" })), `{"id":"1","params":{"version":"1.0.1","module":"MCU"}}`);
  t.is(dec(encodeInform({ id: "7", version: "1.0.0" })), `{"id":"7","params":{"version":"1.0.0"}}`);
  t.is(dec(encodeRequest({ id: "2", version: "1.0.0", module: "MCU" })), `{"id":"2","params":{"version":"1.0.0","module":"MCU"}}`);
  t.is(dec(encodeProgress({ id: "3", step: 45, desc: "downloading", module: "MCU" })), `{"id":"3","params":{"step":"45","desc":"downloading","module":"MCU"}}`);
  t.is(dec(encodeProgress({ id: "4", step: -3, desc: "md5 mismatch" })), `{"id":"4","params":{"step":"-3","desc":"md5 mismatch"}}`);
  // and the cloud parses them back
  t.deepEqual(parseInform(`{"id":"1","params":{"version":"1.0.1","module":"MCU"}}`), { id: "1", version: "1.0.1", module: "MCU" });
  t.deepEqual(parseRequest(`{"id":"2","params":{"version":"1.0.0"}}`), { id: "2", version: "1.0.0" });
  t.deepEqual(parseProgress(`{"id":"4","params":{"step":"-3","desc":"md5 mismatch"}}`), { id: "4", step: -3, desc: "md5 mismatch" });
  t.deepEqual(parseProgress(`{"id":"5","params":{"step":"100","desc":"","module":"MCU"}}`), { id: "5", step: 100, desc: "", module: "MCU" });
});

test("golden: cloud -> device upgrade message, encoded and parsed", (t) => {
  const bytes = encodeUpgrade({
    id: 1507707025,
    data: {
      size: 432945, version: "2.0.0", url: "https://ota.example.com/fw/app-2.0.0.bin", signMethod: "Md5", sign: MD5, md5: MD5,
      module: "MCU", isDiff: 0, extData: { crc32: CRC, sha256: SHA },
    },
  });
  t.is(dec(bytes), GOLDEN_UPGRADE);
  const p = parseUpgrade(GOLDEN_UPGRADE, { appModule: "MCU" });
  t.is(p.id, 1507707025);
  t.is(p.module, "MCU");
  t.deepEqual(p.offer, GOLDEN_OFFER);
});

test("SHA256 sign: the SHA-256 comes from sign, MD5 and CRC-32 from extData; thresholds from extData", (t) => {
  const msg = JSON.stringify({
    code: "1000",
    data: { size: 1000, version: "2.0.1", url: "http://h/x.bin", signMethod: "SHA256", sign: SHA.toUpperCase(), extData: { md5: MD5, crc32: CRC, minBattery: 30, minSignal: -95, requiredSpace: 4096 } },
    id: "abc", message: "success",
  });
  const p = parseUpgrade(msg);
  t.is(p.module, "default");
  t.deepEqual(p.offer, { component: "app", version: "2.0.1", url: "http://h/x.bin", size: 1000, md5: MD5, crc32: CRC, sha256: SHA, minBattery: 30, minSignal: -95, requiredSpace: 4096 });
});

// isDiff 1: size and sign (and md5) are the patch's, the target image's size and digests and the
// source version are extData's.
const PATCH_MD5 = "0123456789abcdef0123456789abcdef";
const BASE_SHA = "aa".repeat(32);
const GOLDEN_DIFF_UPGRADE =
  `{"code":"1000","data":{"size":2048,"version":"2.0.0","url":"https://ota.example.com/fw/app-1.0.0-2.0.0.patch","signMethod":"Md5",` +
  `"sign":"${PATCH_MD5}","md5":"${PATCH_MD5}","module":"MCU","isDiff":1,"extData":{"size":432945,"md5":"${MD5}","crc32":"${CRC}","sha256":"${SHA}",` +
  `"srcVersion":"1.0.0","srcSha256":"${BASE_SHA}"}},"id":1507707026,"message":"success"}`;

test("golden: a differential upgrade message (isDiff 1) becomes a delta offer", (t) => {
  const bytes = encodeUpgrade({
    id: 1507707026,
    data: {
      size: 2048, version: "2.0.0", url: "https://ota.example.com/fw/app-1.0.0-2.0.0.patch", signMethod: "Md5", sign: PATCH_MD5, md5: PATCH_MD5,
      module: "MCU", isDiff: 1, extData: { size: 432945, md5: MD5, crc32: CRC, sha256: SHA, srcVersion: "1.0.0", srcSha256: BASE_SHA },
    },
  });
  t.is(dec(bytes), GOLDEN_DIFF_UPGRADE);
  const p = parseUpgrade(GOLDEN_DIFF_UPGRADE, { appModule: "MCU" });
  t.deepEqual(p.offer, {
    component: "app", version: "2.0.0", url: "https://ota.example.com/fw/app-1.0.0-2.0.0.patch", size: 432945, md5: MD5, crc32: CRC, sha256: SHA,
    delta: { baseVersion: "1.0.0", baseSha256: BASE_SHA, size: 2048 },
  });
  // SHA256 sign: the patch's SHA-256 is never taken for the image's.
  const sha = parseUpgrade(diff((d, ext) => ((d.signMethod = "SHA256"), (d.sign = "bb".repeat(32)), delete d.md5, delete ext.srcSha256)), { appModule: "MCU" });
  t.deepEqual(sha.offer.delta, { baseVersion: "1.0.0", size: 2048 });
  t.is(sha.offer.sha256, SHA);
});

function diff(mut: (d: Record<string, unknown>, ext: Record<string, unknown>) => void): string {
  const o = JSON.parse(GOLDEN_DIFF_UPGRADE) as Record<string, unknown>;
  const d = o.data as Record<string, unknown>;
  mut(d, d.extData as Record<string, unknown>);
  return JSON.stringify(o);
}

const HOSTILE_DIFF: [string, string, RegExp][] = [
  ["no srcVersion", diff((_d, e) => delete e.srcVersion), /srcVersion must be a string/],
  ["srcVersion not orderable", diff((_d, e) => (e.srcVersion = "old")), /extData.srcVersion "old" is not a SemVer/],
  ["srcVersion with a slash", diff((_d, e) => (e.srcVersion = "1.0/0")), /srcVersion .* has characters outside/],
  ["no target size", diff((_d, e) => delete e.size), /size must be an integer/],
  ["target size as a string", diff((_d, e) => (e.size = "432945")), /size must be an integer/],
  ["target size zero", diff((_d, e) => (e.size = 0)), /size 0 out of range/],
  ["no target SHA-256", diff((_d, e) => delete e.sha256), /missing digest sha256: a differential package/],
  ["no target MD5 (sign is the patch's)", diff((_d, e) => delete e.md5), /missing digest md5: a differential package/],
  ["srcSha256 not hex", diff((_d, e) => (e.srcSha256 = "z".repeat(64))), /srcSha256 must be 64 hex/],
  ["patch size fractional", diff((d) => (d.size = 2.5)), /delta.size must be an integer/],
  ["patch md5 disagrees with sign", diff((d) => (d.md5 = "0".repeat(32))), /conflicting md5/],
];

for (const [name, payload, reason] of HOSTILE_DIFF) {
  test(`hostile differential upgrade message: ${name} -> OtaError(-1)`, (t) => {
    const e = t.throws(() => parseUpgrade(payload, { appModule: "MCU" }), { instanceOf: OtaError });
    t.is(e!.code, -1);
    t.regex(e!.reason, reason);
  });
}

function upgrade(mut: (d: Record<string, unknown>, o: Record<string, unknown>) => void): string {
  const o = JSON.parse(GOLDEN_UPGRADE) as Record<string, unknown>;
  mut(o.data as Record<string, unknown>, o);
  return JSON.stringify(o);
}

const HOSTILE: [string, string, RegExp][] = [
  ["not JSON", "{\"code\":", /not JSON/],
  ["an array", "[1,2]", /payload must be an object/],
  ["oversize payload", `{"code":"1000","pad":"${"x".repeat(20000)}"}`, /larger than/],
  ["error code", upgrade((_d, o) => (o.code = "9201")), /code "9201"/],
  ["data not an object", upgrade((_d, o) => (o.data = "x")), /data must be an object/],
  ["size as a string", upgrade((d) => (d.size = "432945")), /size must be an integer/],
  ["fractional size", upgrade((d) => (d.size = 1.5)), /size must be an integer/],
  ["negative size", upgrade((d) => (d.size = -1)), /size -1 out of range/],
  ["zero size", upgrade((d) => (d.size = 0)), /out of range/],
  ["huge size", upgrade((d) => (d.size = 2 ** 40)), /out of range/],
  ["version as a number", upgrade((d) => (d.version = 2)), /version must be a string/],
  ["version not orderable", upgrade((d) => (d.version = "latest")), /not a SemVer 2.0 version/],
  ["ftp URL", upgrade((d) => (d.url = "ftp://ota.example.com/app.bin")), /url must be http/],
  ["file URL", upgrade((d) => (d.url = "file:///etc/passwd")), /url must be http/],
  ["local URL", upgrade((d) => (d.url = "local:")), /url must be http/],
  ["URL with a space", upgrade((d) => (d.url = "http://a b")), /url must be http/],
  ["unknown signMethod", upgrade((d) => (d.signMethod = "SHA1")), /signMethod/],
  ["sign of the wrong length", upgrade((d) => (d.sign = "abc")), /sign must be 32 hex/],
  ["sign not hex", upgrade((d) => (d.sign = "z".repeat(32))), /sign must be 32 hex/],
  ["missing sign", upgrade((d) => delete d.sign), /missing digest: sign/],
  ["missing CRC-32", upgrade((d) => delete (d.extData as Record<string, unknown>).crc32), /missing digest crc32/],
  ["missing SHA-256", upgrade((d) => delete (d.extData as Record<string, unknown>).sha256), /missing digest sha256/],
  ["no extData at all", upgrade((d) => delete d.extData), /missing digest crc32/],
  ["md5 disagrees with sign", upgrade((d) => (d.md5 = "0".repeat(32))), /conflicting md5/],
  ["differential package without the target's digests", upgrade((d) => (d.isDiff = 1)), /missing digest md5: a differential package \(isDiff 1\)/],
  ["isDiff 2", upgrade((d) => (d.isDiff = 2)), /isDiff 2 out of range 0\.\.1/],
  ["isDiff not 0/1", upgrade((d) => (d.isDiff = true)), /isDiff must be an integer/],
  ["another module", upgrade((d) => (d.module = "WIFI")), /module WIFI is not handled/],
  ["module with a topic separator", upgrade((d) => (d.module = "a/b")), /module/],
  ["extData not an object", upgrade((d) => (d.extData = [1])), /extData must be an object/],
  ["threshold as a string", upgrade((d) => ((d.extData as Record<string, unknown>).minBattery = "50")), /minBattery must be a number/],
  ["id as an object", upgrade((_d, o) => (o.id = {})), /id must be/],
  ["a signature (not supported yet)", upgrade((d) => (d.signature = "c2ln")), /signatures are not supported yet/],
  ["URL with a port out of range", upgrade((d) => (d.url = "http://127.0.0.1:99999/x")), /port must be 1\.\.65535/],
];

for (const [name, payload, reason] of HOSTILE) {
  test(`hostile upgrade message: ${name} -> OtaError(-1) with a clear reason`, (t) => {
    const e = t.throws(() => parseUpgrade(payload, { appModule: "MCU" }), { instanceOf: OtaError });
    t.is(e!.code, -1);
    t.regex(e!.reason, reason);
  });
}

test("ProgressReporter: never backwards, at most one per interval, min step, held step follows, terminal always sent", (t) => {
  const clock = new FakeClock();
  const sent: [number, string][] = [];
  const r = new ProgressReporter({ clock, send: (s, d) => sent.push([s, d]), minIntervalMs: 1000, minStep: 5 });
  r.report(0, "x"); // 0 is not a step
  r.report(3, "a"); // first: sent at once
  r.report(2, "b"); // backwards: dropped
  r.report(6, "c"); // < minStep from 3: dropped
  r.report(9, "d"); // within the interval: held
  r.report(20, "e"); // replaces the held step
  t.deepEqual(sent, [[3, "a"]]);
  clock.advance(999);
  t.deepEqual(sent, [[3, "a"]]);
  clock.advance(1);
  t.deepEqual(sent, [[3, "a"], [20, "e"]]);
  clock.advance(5000);
  r.report(150, "f"); // clamped to 99: 100 belongs to done()
  t.deepEqual(sent.at(-1), [99, "f"]);
  r.done("ok");
  r.report(99, "late");
  r.fail(-2, "late failure");
  t.deepEqual(sent, [[3, "a"], [20, "e"], [99, "f"], [100, "ok"]]);
  t.true(r.finished);
});

test("ProgressReporter: a failure step is sent at once, even within the interval, and cancels a held step", (t) => {
  const clock = new FakeClock();
  const sent: number[] = [];
  const r = new ProgressReporter({ clock, send: (s) => sent.push(s), minIntervalMs: 1000, minStep: 1 });
  r.report(10, "");
  r.report(50, ""); // held
  r.fail(-4, "flash");
  clock.advance(5000);
  t.deepEqual(sent, [10, -4]);
});

function client(updateImpl: (o: Offer) => Promise<UpdateResult>, version = "1.0.0") {
  const mqtt = new FakeMqtt();
  const clock = new FakeClock();
  const calls: Offer[] = [];
  const refused: string[] = [];
  const c = new AlibabaOtaClient({
    mqtt, clock, productKey: "pk", deviceName: "dn", module: "MCU", version: () => version,
    update: (o) => (calls.push(o), updateImpl(o)),
    progress: { minIntervalMs: 0, minStep: 1 },
    onRefused: (r) => refused.push(r),
  });
  return { mqtt, clock, calls, refused, c };
}

const ok = (o: Offer): UpdateResult => ({ ok: true, errorCode: 0, reason: "staged; restarting into the new image", component: "app", fromVersion: "1.0.0", toVersion: o.version });

test("client: subscribes, informs at start, reports the last update's final step first", (t) => {
  const { mqtt, c } = client(async (o) => ok(o), "2.0.0");
  c.start({ version: "2.0.0", slot: "ota_1", imageState: "valid", lastUpdate: { ok: true, errorCode: 0, reason: "confirmed", component: "app", fromVersion: "1.0.0", toVersion: "2.0.0" } });
  t.deepEqual(mqtt.subscribed, ["/ota/device/upgrade/pk/dn"]);
  t.deepEqual(mqtt.published, [
    { topic: "/ota/device/progress/pk/dn", payload: `{"id":"1","params":{"step":"100","desc":"confirmed","module":"MCU"}}` },
    { topic: "/ota/device/inform/pk/dn", payload: `{"id":"2","params":{"version":"2.0.0","module":"MCU"}}` },
  ]);
});

test("client: an upgrade runs the update; progress never goes backwards; failure publishes its step and informs", async (t) => {
  let progress!: (p: number) => void;
  const { mqtt, c, calls } = client(async (o) => {
    progress(10);
    progress(5);
    progress(60);
    return { ok: false, errorCode: -2, reason: "HTTP 404", component: "app", fromVersion: "1.0.0", toVersion: o.version };
  });
  progress = (p) => c.progress({ phase: "download", bytes: p, total: 100, percent: p });
  c.start();
  mqtt.deliver("/ota/device/upgrade/pk/dn", GOLDEN_UPGRADE);
  t.true(c.busy);
  const r = await c.current();
  t.is(r?.errorCode, -2);
  t.deepEqual(calls, [GOLDEN_OFFER]);
  const steps = mqtt.published.filter((m) => m.topic.includes("progress")).map((m) => JSON.parse(m.payload).params.step);
  t.deepEqual(steps, ["10", "60", "-2"]);
  t.is(mqtt.published.at(-1)!.payload, `{"id":"5","params":{"version":"1.0.0","module":"MCU"}}`);
  t.false(c.busy);
});

test("client: a staged update ends at 99 before the restart (100 comes after the reboot)", async (t) => {
  const { mqtt, c } = client(async (o) => ok(o));
  c.start();
  mqtt.deliver("/ota/device/upgrade/pk/dn", GOLDEN_UPGRADE);
  await c.current();
  t.is(mqtt.published.at(-1)!.payload, `{"id":"2","params":{"step":"99","desc":"staged; restarting into the new image","module":"MCU"}}`);
});

test("client: hostile or stale upgrades change nothing: no update call, step -1 with the reason", (t) => {
  const { mqtt, c, calls, refused } = client(async (o) => ok(o), "2.0.0");
  c.start();
  const before = mqtt.published.length;
  mqtt.deliver("/ota/device/upgrade/pk/dn", GOLDEN_UPGRADE); // 2.0.0 is not newer than 2.0.0
  mqtt.deliver("/ota/device/upgrade/pk/dn", upgrade((d) => (d.size = -5)));
  mqtt.deliver("/ota/device/upgrade/pk/dn", "garbage");
  t.deepEqual(calls, []);
  t.false(c.busy);
  t.is(refused.length, 3);
  t.regex(refused[0], /2\.0\.0 is not newer than the running 2\.0\.0/);
  const sent = mqtt.published.slice(before).map((m) => JSON.parse(m.payload).params);
  t.deepEqual(sent.map((p) => p.step), ["-1", "-1", "-1"]);
  t.regex(sent[1].desc, /size -5 out of range/);
});

test("client: a second upgrade while busy is refused without touching the running one", async (t) => {
  let release!: () => void;
  const { mqtt, c, calls, refused } = client((o) => new Promise((r) => (release = () => r(ok(o)))));
  c.start();
  mqtt.deliver("/ota/device/upgrade/pk/dn", GOLDEN_UPGRADE);
  mqtt.deliver("/ota/device/upgrade/pk/dn", GOLDEN_UPGRADE);
  t.is(calls.length, 1);
  t.deepEqual(refused, ["an update is already in progress"]);
  release();
  const r = await c.current();
  t.true(r?.ok);
});
