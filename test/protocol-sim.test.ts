// Full simulated updates with the offer delivered by each cloud dialect, over a real broker
// (aedes) or HTTP, and the progress and result reported back to the simulated cloud.

import test from "ava";
import { createHash } from "node:crypto";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { simProtocolUpdate, type Protocol, type SimProtocolOptions, type SimProtocolReport } from "../host-sim/cloud/sim-protocol.ts";
import type { ProtocolLogEntry } from "../host-sim/cloud/protocol-log.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";

const SIZE = 128 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function freshBoard() {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const slot = (label: string) => sha(board.partition(label).read(0, board.partition(label).geometry.size));
  return { board, ota1: slot("ota_1"), slot };
}

async function run(o: SimProtocolOptions) {
  const b = freshBoard();
  const r = await simProtocolUpdate({ size: SIZE, backoffMs: 10, ...o, existing: b.board });
  return { r, b, ota1Untouched: b.slot("ota_1") === b.ota1 };
}

const up = (r: SimProtocolReport) => r.protocolLog.filter((e) => e.dir === "device->cloud");
const json = (e: ProtocolLogEntry) => JSON.parse(e.payload) as Record<string, any>;
/** Alibaba progress steps (MQTT topic or HTTP /report) in the order the cloud got them. */
const steps = (r: SimProtocolReport) =>
  up(r).filter((e) => e.channel.includes("/progress/") || e.channel === "POST /report").map((e) => Number(json(e).params.step));
const events = (r: SimProtocolReport) => up(r).map(json).filter((m) => m.type === "event" || m.type === "result" || m.type === "confirm");

function assertMonotonic(t: { true: (v: boolean, m?: string) => void }, s: number[]) {
  const positive = s.filter((x) => x > 0);
  t.true(positive.every((x, i) => i === 0 || x >= positive[i - 1]), `steps never go backwards: ${s}`);
}

test("mqtt: inform, request, upgrade, progress, 99 before the restart, then 100 and the new version", async (t) => {
  const { r } = await run({ protocol: "mqtt", size: 512 * 1024, progressIntervalMs: 0, progressMinStep: 10 });
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.imageState, "valid");
  t.is(r.broker, "aedes");
  const channels = r.protocolLog.map((e) => `${e.dir === "device->cloud" ? ">" : "<"} ${e.channel.split("/")[3]}`);
  t.deepEqual(channels.slice(0, 3), ["> inform", "> request", "< upgrade"]);
  t.deepEqual(channels.slice(-2), ["> progress", "> inform"]);
  const s = steps(r);
  assertMonotonic(t, s);
  t.true(s.length >= 4, `several progress steps: ${s}`);
  t.deepEqual(s.slice(-2), [99, 100]);
  t.is(json(r.protocolLog.at(-1)!).params.version, "2.0.0");
  const upgrade = json(r.protocolLog[2]);
  t.is(upgrade.code, "1000");
  t.is(upgrade.data.signMethod, "SHA256");
});

test("mqtt with signMethod Md5 works the same", async (t) => {
  const { r } = await run({ protocol: "mqtt", signMethod: "Md5" });
  t.true(r.ok, r.reason);
  t.is(json(r.protocolLog[2]).data.signMethod, "Md5");
});

test("plan: request, plan, 10700, confirm, package, 10701..10705, result after the reboot", async (t) => {
  const { r } = await run({ protocol: "plan", minBattery: 20, minSignal: -100, requiredSpace: SIZE });
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  const seq = r.protocolLog.map(json).map((m) => (m.type === "event" ? m.code : m.type));
  t.deepEqual(seq.slice(0, 5), ["request", "plan", 10700, "confirm", "package"]);
  const after = seq.slice(5);
  t.deepEqual(after.filter((x, i) => x !== 10702 || after[i - 1] !== 10702), [10701, 10702, 10703, 10704, 10705, "result"]);
  const result = json(r.protocolLog.at(-1)!);
  t.like(result, { type: "result", taskId: "task-1", version: "2.0.0", code: 10705, errorCode: 0 });
});

test("plan in manual mode: the application accepts", async (t) => {
  const { r } = await run({ protocol: "plan", manual: true });
  t.true(r.ok, r.reason);
  t.regex(events(r).find((m) => m.type === "confirm")!.reason, /accepted by the application/);
});

test("http: the manifest is polled (through 503s, with backoff) and the reports reach the cloud", async (t) => {
  const { r } = await run({ protocol: "http", manifestFailFirst: 2 });
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  const answers = r.protocolLog.filter((e) => e.dir === "cloud->device").map((e) => e.payload.slice(0, 3));
  t.deepEqual(answers, ["503", "503", '{"c']);
  const s = steps(r);
  assertMonotonic(t, s);
  t.deepEqual(s.slice(-2), [99, 100]);
});

test("mqtt: a power cut in the middle of the download resumes after the reboot on the cloud's next push", async (t) => {
  const { r } = await run({ protocol: "mqtt", rebootAt: [60_000] });
  t.true(r.ok, r.reason);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.interruptions, 1);
  t.is(r.bytesFetchedAgain < 8192, true, `refetched ${r.bytesFetchedAgain}`);
  t.is(r.protocolLog.filter((e) => e.channel.includes("/upgrade/")).length, 2);
});

for (const protocol of ["plan", "http"] as Protocol[]) {
  test(`${protocol}: power lost while downloading, and a cut at a flash operation, still end on 2.0.0`, async (t) => {
    const lost = await run({ protocol, rebootAt: [60_000] });
    t.true(lost.r.ok, lost.r.reason);
    t.is(lost.r.interruptions, 1);
    const cut = await run({ protocol, cutAt: [40] });
    t.true(cut.r.ok, cut.r.reason);
    t.is(cut.r.bootedVersion, "2.0.0");
  });
}

// ---- rejections: low battery, weak signal, too little space ----------------------------------

const REJECTIONS: [string, Partial<SimProtocolOptions>, RegExp][] = [
  ["low battery", { battery: 10, minBattery: 30 }, /battery 10% is below 30%/],
  ["weak signal", { rssi: -110, minSignal: -100 }, /signal -110 dBm is below -100 dBm/],
  ["too little space", { requiredSpace: 4 * 1024 * 1024 }, /needs 4194304 bytes, the slot has 1966080/],
];

for (const protocol of ["mqtt", "plan", "http"] as Protocol[]) {
  for (const [name, o, reason] of REJECTIONS) {
    test(`${protocol}: ${name} -> rejected with its reason, the device stays on 1.0.0`, async (t) => {
      const { r, ota1Untouched } = await run({ protocol, ...o });
      t.false(r.ok);
      t.is(r.errorCode, -1);
      t.regex(r.reason, reason);
      t.is(r.bootedVersion, "1.0.0");
      t.is(r.bootedSlot, "ota_0");
      t.is(r.bytesDownloaded, 0);
      t.true(ota1Untouched);
      if (protocol === "plan") {
        const confirm = events(r).find((m) => m.type === "confirm")!;
        t.is(confirm.action, 0);
        t.regex(confirm.reason, reason);
        t.false(r.protocolLog.some((e) => e.payload.includes(`"type":"package"`)), "no package after a refusal");
      } else {
        const last = steps(r).at(-1);
        t.is(last, -1);
        t.regex(json(up(r).filter((e) => e.channel.includes("progress") || e.channel === "POST /report").at(-1)!).params.desc, reason);
      }
    });
  }
}

// ---- each failure step, provoked by a real fault and seen by the cloud -----------------------

const FAULTS: [number, string, Partial<SimProtocolOptions>, RegExp][] = [
  [-1, "the new image fails its self-test", { failSelfTest: true }, /self-test/],
  [-2, "the server answers 404", { httpErrors: new Map([[1, 404]]) }, /HTTP 404/],
  [-3, "a corrupted byte on the wire", { corruptByte: 70_000 }, /mismatch/],
  [-4, "a worn flash byte in ota_1 does not program", { stuckByteAt: 0x9001 }, /read-back mismatch/],
];

for (const [code, name, o, reason] of FAULTS) {
  test(`mqtt: ${code} (${name}) appears on the progress topic`, async (t) => {
    const { r } = await run({ protocol: "mqtt", ...o });
    t.false(r.ok);
    t.is(r.errorCode, code);
    t.regex(r.reason, reason);
    t.is(r.bootedVersion, "1.0.0");
    const s = steps(r);
    t.is(s.at(-1), code, `steps ${s}`);
    t.is(s.filter((x) => x < 0).length, 1, "one failure step");
    assertMonotonic(t, s);
    const last = up(r).filter((e) => e.channel === "/ota/device/progress/pk1/dev1").at(-1)!;
    t.regex(json(last).params.desc, reason);
    t.is(json(up(r).at(-1)!).params.version, "1.0.0", "the device informs its version after the failure");
  });

  test(`plan: ${code} (${name}) is reported with its error code`, async (t) => {
    const { r } = await run({ protocol: "plan", ...o });
    t.is(r.errorCode, code);
    const last = events(r).at(-1)!;
    t.is(last.code, 10706);
    t.is(last.errorCode, code);
    t.regex(last.reason, reason);
  });
}

// ---- hostile offers through the whole stack: a clear error, nothing changes -----------------

const HOSTILE: [Protocol, string, (m: Record<string, any>) => unknown, RegExp][] = [
  ["mqtt", "missing digest", (m) => (delete m.data.extData.crc32, m), /missing digest crc32/],
  ["mqtt", "negative size", (m) => ((m.data.size = -1), m), /size -1 out of range/],
  ["mqtt", "huge size", (m) => ((m.data.size = 2 ** 31), m), /out of range/],
  ["mqtt", "size as a string", (m) => ((m.data.size = "131072"), m), /size must be an integer/],
  ["mqtt", "another URL scheme", (m) => ((m.data.url = m.data.url.replace("http:", "ftp:")), m), /url must be http/],
  ["mqtt", "version not newer", (m) => ((m.data.version = "1.0.0"), m), /not newer than the running 1\.0\.0/],
  ["mqtt", "not JSON", () => "{{{", /not JSON/],
  ["plan", "missing digest", (m) => (delete m.md5, m), /missing digest md5/],
  ["plan", "another URL scheme", (m) => ((m.url = "file:///etc/shadow"), m), /url must be http/],
  ["plan", "huge size", (m) => ((m.size = 1e15), m), /out of range/],
  ["http", "negative size", (m) => ({ ...m, size: -10 }), /size -10 out of range/],
  ["http", "missing digest", (m) => ({ ...m, sha256: undefined }), /missing digest sha256/],
  ["http", "version not newer", (m) => ({ ...m, version: "0.9.0" }), /names 0\.9\.0, not newer/],
];

for (const [protocol, name, tamper, reason] of HOSTILE) {
  test(`${protocol}: hostile offer (${name}) -> clear error, nothing downloaded or written`, async (t) => {
    const { r, ota1Untouched } = await run({ protocol, tamper, deliveryTimeoutMs: 5000 });
    t.false(r.ok);
    t.is(r.errorCode, -1);
    t.regex(r.reason, reason);
    t.is(r.bootedVersion, "1.0.0");
    t.is(r.bytesDownloaded, 0);
    t.true(ota1Untouched);
  });
}
