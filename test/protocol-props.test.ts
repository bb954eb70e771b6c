// Property-based tests of the protocol parsers: whatever arrives, they return a value or throw
// OtaError(-1) (the documented error), never anything else; valid messages round-trip.

import test from "ava";
import fc from "fast-check";
import { OtaError } from "../src/errors.ts";
import { parseOffer } from "../src/agent/offer.ts";
import {
  encodeInform, encodeProgress, encodeUpgrade, parseInform, parseProgress, parseUpgrade, type UpgradeData,
} from "../src/protocol/alibaba-mqtt.ts";
import { parseMultiPlan } from "../src/protocol/multi-component.ts";
import {
  encodeEvent, encodePackage, encodePlan, parseCloudMessage, parseDeviceMessage, type PackageInfo, type Plan, type PlanEvent,
} from "../src/protocol/quec-plan.ts";

const RUNS = 400;

/** Runs f; passes when it returns or throws OtaError(-1). */
function onlyOtaErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof OtaError && e.code === -1 && e.reason.length > 0) return true;
    throw new Error(`threw something else: ${String(e)}`);
  }
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const name = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,32}$/);
const version = fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map(([a, b, c]) => `${a}.${b}.${c}`);
const url = fc.tuple(fc.constantFrom("http", "https"), fc.stringMatching(/^[a-z0-9.-]{1,20}$/), fc.stringMatching(/^[A-Za-z0-9._\/-]{0,40}$/))
  .map(([s, h, p]) => `${s}://${h}/${p}`);
const size = fc.integer({ min: 1, max: 0x4000000 });

const upgradeData: fc.Arbitrary<UpgradeData> = fc.record({
  method: fc.constantFrom("Md5" as const, "SHA256" as const),
  md5: hex(32), crc32: hex(8), sha256: hex(64), size, version, url,
  module: fc.option(name, { nil: undefined }),
}).map((r) => ({
  size: r.size, version: r.version, url: r.url, signMethod: r.method, sign: r.method === "Md5" ? r.md5 : r.sha256,
  md5: r.method === "Md5" ? r.md5 : undefined, module: r.module, isDiff: 0 as const,
  extData: r.method === "Md5" ? { crc32: r.crc32, sha256: r.sha256 } : { md5: r.md5, crc32: r.crc32 },
}));

/** Any JSON value, including the awkward ones. */
const junk = fc.oneof(fc.jsonValue(), fc.constantFrom(-1, 0, 1.5, 1e300, -1e300, "", "local:", "ftp://x", null, [], {}, true));

/** A valid object with one field (possibly nested one level) replaced by junk, or removed. */
function mutated(base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(base, fc.nat(), fc.nat(), junk, fc.boolean()).map(([o, i, j, v, remove]) => {
    const copy = JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
    const keys = Object.keys(copy);
    const k = keys[i % keys.length];
    const inner = copy[k];
    if (inner && typeof inner === "object" && !Array.isArray(inner) && Object.keys(inner).length > 0) {
      const ik = Object.keys(inner)[j % Object.keys(inner).length];
      if (remove) delete (inner as Record<string, unknown>)[ik];
      else (inner as Record<string, unknown>)[ik] = v;
    } else if (remove) delete copy[k];
    else copy[k] = v;
    return copy;
  });
}

const asJson = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString("utf8")) as Record<string, unknown>;

test("parseUpgrade: arbitrary bytes, strings and JSON only ever give OtaError(-1)", (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyOtaErrors(() => parseUpgrade(b))), { numRuns: RUNS });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => onlyOtaErrors(() => parseUpgrade(s))), { numRuns: RUNS });
  fc.assert(fc.property(junk, (v) => onlyOtaErrors(() => parseUpgrade(JSON.stringify(v) ?? ""))), { numRuns: RUNS });
  t.pass();
});

test("parseUpgrade: mutated valid messages only ever give OtaError(-1)", (t) => {
  const valid = fc.tuple(upgradeData, fc.nat()).map(([d, id]) => asJson(encodeUpgrade({ id, data: d })));
  fc.assert(fc.property(mutated(valid), (m) => onlyOtaErrors(() => parseUpgrade(JSON.stringify(m), { appModule: String((m.data as Record<string, unknown>)?.module ?? "default") }))), { numRuns: RUNS });
  t.pass();
});

test("parseUpgrade: valid messages round-trip to the offer", (t) => {
  fc.assert(fc.property(upgradeData, fc.nat(), (d, id) => {
    const p = parseUpgrade(encodeUpgrade({ id, data: d }), { appModule: d.module ?? "default" });
    const ext = d.extData as Record<string, string>;
    const md5 = d.signMethod === "Md5" ? d.sign : ext.md5;
    const sha256 = d.signMethod === "SHA256" ? d.sign : ext.sha256;
    return p.id === id && p.module === (d.module ?? "default") &&
      JSON.stringify(p.offer) === JSON.stringify({ component: "app", version: d.version, url: d.url, size: d.size, md5, crc32: ext.crc32, sha256 });
  }), { numRuns: RUNS });
  t.pass();
});

test("inform and progress: round-trip, and junk only ever gives OtaError(-1)", (t) => {
  const id = fc.stringMatching(/^[0-9]{1,10}$/);
  fc.assert(fc.property(id, version, fc.option(name, { nil: undefined }), (i, v, m) => {
    const back = parseInform(encodeInform({ id: i, version: v, module: m }));
    return back.id === i && back.version === v && back.module === m;
  }), { numRuns: RUNS });
  const step = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: -4, max: -1 }));
  fc.assert(fc.property(id, step, fc.string({ maxLength: 100 }), (i, s, desc) => {
    const back = parseProgress(encodeProgress({ id: i, step: s, desc }));
    return back.id === i && back.step === s && back.desc === desc;
  }), { numRuns: RUNS });
  fc.assert(fc.property(junk, (v) => onlyOtaErrors(() => parseProgress(JSON.stringify({ id: "1", params: { step: v } })))), { numRuns: RUNS });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => onlyOtaErrors(() => parseInform(s))), { numRuns: RUNS });
  t.pass();
});

const plan: fc.Arbitrary<Plan> = fc.record({
  taskId: name, component: name, sourceVersion: version, targetVersion: version,
  minBattery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  minSignal: fc.option(fc.integer({ min: -200, max: 0 }), { nil: undefined }),
  requiredSpace: fc.option(fc.integer({ min: 0, max: 0x100000000 }), { nil: undefined }),
}).map((p) => JSON.parse(JSON.stringify(p)) as Plan);

const pkg: fc.Arbitrary<PackageInfo> = fc.record({ taskId: name, component: name, version, url, md5: hex(32), crc32: hex(8), sha256: hex(64), size });

test("plan messages: valid ones round-trip; mutated ones and junk only ever give OtaError(-1)", (t) => {
  fc.assert(fc.property(plan, (p) => JSON.stringify(parseCloudMessage(encodePlan(p))) === JSON.stringify({ type: "plan", ...p })), { numRuns: RUNS });
  fc.assert(fc.property(pkg, (p) => JSON.stringify(parseCloudMessage(encodePackage(p))) === JSON.stringify({ type: "package", ...p })), { numRuns: RUNS });
  fc.assert(fc.property(mutated(plan.map((p) => asJson(encodePlan(p)))), (m) => onlyOtaErrors(() => parseCloudMessage(JSON.stringify(m)))), { numRuns: RUNS });
  fc.assert(fc.property(mutated(pkg.map((p) => asJson(encodePackage(p)))), (m) => onlyOtaErrors(() => parseCloudMessage(JSON.stringify(m)))), { numRuns: RUNS });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyOtaErrors(() => parseCloudMessage(b))), { numRuns: RUNS });
  t.pass();
});

test("device events: valid ones round-trip; junk only ever gives OtaError(-1)", (t) => {
  const event: fc.Arbitrary<PlanEvent> = fc.record({
    taskId: name, component: name,
    code: fc.constantFrom(10700, 10701, 10702, 10703, 10704, 10705, 10706) as fc.Arbitrary<PlanEvent["code"]>,
    percent: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    errorCode: fc.option(fc.integer({ min: -4, max: 0 }), { nil: undefined }),
    reason: fc.option(fc.string({ minLength: 1, maxLength: 100 }), { nil: undefined }),
  }).map((e) => JSON.parse(JSON.stringify(e)) as PlanEvent);
  fc.assert(fc.property(event, (e) => JSON.stringify(parseDeviceMessage(encodeEvent(e))) === JSON.stringify({ type: "event", ...e })), { numRuns: RUNS });
  fc.assert(fc.property(mutated(event.map((e) => asJson(encodeEvent(e)))), (m) => onlyOtaErrors(() => parseDeviceMessage(JSON.stringify(m)))), { numRuns: RUNS });
  t.pass();
});

test("parseOffer (both variants) and parseMultiPlan only ever give OtaError(-1)", (t) => {
  const offer = fc.record({ component: name, version, url, size, md5: hex(32), crc32: hex(8), sha256: hex(64) });
  fc.assert(fc.property(mutated(offer), fc.boolean(), (o, local) => onlyOtaErrors(() => parseOffer(o, { local }))), { numRuns: RUNS });
  fc.assert(fc.property(junk, (v) => onlyOtaErrors(() => parseMultiPlan(v))), { numRuns: RUNS });
  fc.assert(fc.property(fc.array(offer, { minLength: 0, maxLength: 7 }), (list) => {
    const unique = new Set(list.map((c) => c.component)).size === list.length;
    const valid = list.length >= 1 && list.length <= 5 && unique;
    try {
      const p = parseMultiPlan({ components: list });
      return valid && p.components.length === list.length;
    } catch (e) {
      return !valid && e instanceof OtaError && e.code === -1;
    }
  }), { numRuns: RUNS });
  // a local offer needs the local option, and the local option refuses network URLs
  fc.assert(fc.property(offer, (o) => {
    const local = { ...o, url: "local:uart0" };
    return onlyOtaErrors(() => parseOffer(local, { local: true })) &&
      throwsOta(() => parseOffer(local)) && throwsOta(() => parseOffer(o, { local: true }));
  }), { numRuns: 100 });
  t.pass();
});

function throwsOta(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch (e) {
    return e instanceof OtaError && e.code === -1;
  }
}
