import test from "ava";
import type { Offer } from "../src/agent/offer.ts";
import type { Readings } from "../src/agent/policy.ts";
import type { UpdateResult } from "../src/agent/types.ts";
import type { ClockPort, HttpHandlers, HttpPort, HttpRequest, TimerHandle } from "../src/ports.ts";
import { HttpReporter, ManifestPoller, type PollOutcome } from "../src/protocol/http-manifest.ts";

const MD5 = "0f9d2ca2dc64fb29780bc071ea0363b2";
const CRC = "6aa5642f";
const SHA = "b8117665ed681444af913a2209a08d1f9b82ddc6b0f9a75c36c73f077731d4e6";
const MANIFEST = { component: "app", version: "2.0.0", url: "https://ota.example.com/app-2.0.0.bin", size: 262144, md5: MD5, crc32: CRC, sha256: SHA };

class FakeClock implements ClockPort {
  t = 0;
  private timers: { at: number; f: () => void; id: number }[] = [];
  private n = 1;
  now() {
    return this.t;
  }
  setTimeout(f: () => void, ms: number): TimerHandle {
    const id = this.n++;
    this.timers.push({ at: this.t + ms, f, id });
    return { id };
  }
  clearTimeout(h: TimerHandle) {
    this.timers = this.timers.filter((x) => x.id !== h.id);
  }
  random() {
    return 0.999;
  }
  /** The delay of the next pending timer (the schedule the poller chose). */
  nextDelay(): number | undefined {
    const next = [...this.timers].sort((a, b) => a.at - b.at)[0];
    return next ? next.at - this.t : undefined;
  }
  async fireNext() {
    const next = [...this.timers].sort((a, b) => a.at - b.at)[0];
    this.timers = this.timers.filter((x) => x !== next);
    this.t = next.at;
    next.f();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

type Answer = { status: number; body?: string; headers?: Record<string, string> } | "error";

/** An Http port that answers from a script and records the requests. */
class ScriptedHttp implements HttpPort {
  requests: HttpRequest[] = [];
  constructor(private answers: Answer[]) {}
  request(req: HttpRequest, h: HttpHandlers) {
    this.requests.push(req);
    const a = this.answers.shift() ?? { status: 500 };
    queueMicrotask(() => {
      if (a === "error") return h.error("connection refused");
      const body = Buffer.from(a.body ?? "");
      h.response(a.status, { "content-length": String(body.length), ...a.headers });
      if (body.length) h.data(new Uint8Array(body));
      h.end();
    });
    return { abort: () => undefined };
  }
}

const READY: Readings = { batteryPercent: 80, rssi: -60, freeSpace: 0x1e0000 };

function poller(http: HttpPort, clock: FakeClock, o: { readings?: Readings; version?: string } = {}) {
  const calls: Offer[] = [];
  const outcomes: PollOutcome[] = [];
  const p = new ManifestPoller({
    http, clock, url: "http://127.0.0.1:1/manifest.json",
    version: () => o.version ?? "1.0.0",
    readings: () => o.readings ?? READY,
    update: async (offer): Promise<UpdateResult> => {
      calls.push(offer);
      return { ok: false, errorCode: -2, reason: "HTTP 404", component: "app", fromVersion: "1.0.0", toVersion: offer.version };
    },
    intervalMs: 60_000, backoffMs: 1000, backoffMaxMs: 8000,
    onPoll: (x) => outcomes.push(x),
  });
  return { p, calls, outcomes };
}

test("a newer manifest goes through the policy to the update", async (t) => {
  const clock = new FakeClock();
  const http = new ScriptedHttp([{ status: 200, body: JSON.stringify(MANIFEST), headers: { etag: '"v2"' } }]);
  const { p, calls } = poller(http, clock);
  const o = await p.pollOnce();
  t.is(o.kind, "updated");
  t.deepEqual(calls, [MANIFEST]);
  t.deepEqual(http.requests[0], { url: "http://127.0.0.1:1/manifest.json", method: "GET", headers: { accept: "application/json" } });
});

test("the same or an older version is 'current'; 304 is 'not-modified' after an ETag", async (t) => {
  const clock = new FakeClock();
  const http = new ScriptedHttp([
    { status: 200, body: JSON.stringify(MANIFEST), headers: { etag: '"v2"' } },
    { status: 304 },
  ]);
  const { p, calls } = poller(http, clock, { version: "2.0.0" });
  t.deepEqual(await p.pollOnce(), { kind: "current", version: "2.0.0" });
  t.deepEqual(await p.pollOnce(), { kind: "not-modified" });
  t.is(http.requests[1].headers?.["if-none-match"], '"v2"');
  t.deepEqual(calls, []);
});

test("policy refusals carry their reason and change nothing", async (t) => {
  const clock = new FakeClock();
  const doc = { ...MANIFEST, minBattery: 50 };
  const http = new ScriptedHttp([{ status: 200, body: JSON.stringify(doc) }, { status: 200, body: JSON.stringify({ ...MANIFEST, requiredSpace: 8 << 20 }) }]);
  const { p, calls } = poller(http, clock, { readings: { ...READY, batteryPercent: 20 } });
  const o = await p.pollOnce();
  t.is(o.kind, "rejected");
  t.regex((o as { reason: string }).reason, /battery 20% is below 50%/);
  const o2 = await p.pollOnce();
  t.regex((o2 as { reason: string }).reason, /plan needs 8388608 bytes/);
  t.deepEqual(calls, []);
});

const BASE_SHA = "aa".repeat(32);
const PATCH_URL = "https://ota.example.com/app-1.0.0-2.0.0.patch";
// Golden: a server that knows the device's version answers one delta offer.
const GOLDEN_DELTA_MANIFEST = `{"component":"app","version":"2.0.0","url":"${PATCH_URL}","size":262144,"md5":"${MD5}","crc32":"${CRC}","sha256":"${SHA}","delta":{"baseVersion":"1.0.0","baseSha256":"${BASE_SHA}","size":4096}}`;
// Golden: a static manifest lists the full image and patches by running version.
const GOLDEN_DELTAS_MANIFEST = `{"component":"app","version":"2.0.0","url":"https://ota.example.com/app-2.0.0.bin","size":262144,"md5":"${MD5}","crc32":"${CRC}","sha256":"${SHA}",` +
  `"deltas":[{"baseVersion":"1.0.0","baseSha256":"${BASE_SHA}","size":4096,"url":"${PATCH_URL}"},{"baseVersion":"1.5.0","size":3000,"url":"https://ota.example.com/app-1.5.0-2.0.0.patch"}]}`;

test("golden: a manifest with a delta becomes a delta offer", async (t) => {
  const { p, calls } = poller(new ScriptedHttp([{ status: 200, body: GOLDEN_DELTA_MANIFEST }]), new FakeClock());
  t.is((await p.pollOnce()).kind, "updated");
  t.deepEqual(calls, [{ ...MANIFEST, url: PATCH_URL, delta: { baseVersion: "1.0.0", baseSha256: BASE_SHA, size: 4096 } }]);
});

test("golden: a manifest listing deltas: the device takes the patch from its version, the full image from any other", async (t) => {
  const on1 = poller(new ScriptedHttp([{ status: 200, body: GOLDEN_DELTAS_MANIFEST }]), new FakeClock(), { version: "1.0.0" });
  await on1.p.pollOnce();
  t.deepEqual(on1.calls, [{ ...MANIFEST, url: PATCH_URL, delta: { baseVersion: "1.0.0", baseSha256: BASE_SHA, size: 4096 } }]);
  const on15 = poller(new ScriptedHttp([{ status: 200, body: GOLDEN_DELTAS_MANIFEST }]), new FakeClock(), { version: "1.5.0" });
  await on15.p.pollOnce();
  t.deepEqual(on15.calls[0].delta, { baseVersion: "1.5.0", size: 3000 });
  const on12 = poller(new ScriptedHttp([{ status: 200, body: GOLDEN_DELTAS_MANIFEST }]), new FakeClock(), { version: "1.2.0" });
  await on12.p.pollOnce();
  t.deepEqual(on12.calls, [MANIFEST]);
});

const DELTAS = JSON.parse(GOLDEN_DELTAS_MANIFEST) as Record<string, unknown>;
const withDeltas = (deltas: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ ...DELTAS, deltas, ...extra });

for (const [name, body, reason] of [
  ["delta and deltas", withDeltas([], { delta: { baseVersion: "1.0.0", size: 1 } }), /delta or deltas, not both/],
  ["deltas not an array", withDeltas({ baseVersion: "1.0.0" }), /deltas must be an array/],
  ["too many deltas", withDeltas(Array.from({ length: 17 }, (_, i) => ({ baseVersion: `1.${i}.0`, size: 1, url: PATCH_URL }))), /at most 16/],
  ["a delta entry not an object", withDeltas(["x"]), /deltas\[0\] must be an object/],
  ["a delta entry with an ftp url (not this device's version)", withDeltas([{ baseVersion: "0.9.0", size: 4, url: "ftp://x/p" }]), /url must be http/],
  ["a delta entry without size", withDeltas([{ baseVersion: "1.0.0", url: PATCH_URL }]), /delta.size must be an integer/],
  ["a delta entry with a bad baseVersion", withDeltas([{ baseVersion: "old", size: 4, url: PATCH_URL }]), /baseVersion "old" is not a SemVer/],
  ["two patches from one version", withDeltas([{ baseVersion: "1.0.0", size: 4, url: PATCH_URL }, { baseVersion: "1.0.0", size: 5, url: PATCH_URL }]), /two patches from 1.0.0/],
  ["a delta with a bad baseSha256", JSON.stringify({ ...MANIFEST, delta: { baseVersion: "1.0.0", size: 4, baseSha256: "xyz" } }), /baseSha256 must be 64 hex/],
] as [string, string, RegExp][]) {
  test(`hostile delta manifest (${name}) is an error and no update`, async (t) => {
    const { p, calls } = poller(new ScriptedHttp([{ status: 200, body }]), new FakeClock());
    const o = await p.pollOnce();
    t.is(o.kind, "error");
    t.regex((o as { reason: string }).reason, reason);
    t.deepEqual(calls, []);
  });
}

for (const [name, body, reason] of [
  ["not JSON", "<html>", /not JSON/],
  ["wrong types", JSON.stringify({ ...MANIFEST, size: "big" }), /size must be an integer/],
  ["negative size", JSON.stringify({ ...MANIFEST, size: -4 }), /size -4 out of range/],
  ["huge size", JSON.stringify({ ...MANIFEST, size: 1e12 }), /out of range/],
  ["another scheme", JSON.stringify({ ...MANIFEST, url: "ftp://x/y.bin" }), /url must be http/],
  ["missing digest", JSON.stringify({ ...MANIFEST, crc32: undefined }), /missing digest crc32/],
  ["another component", JSON.stringify({ ...MANIFEST, component: "modem" }), /component modem/],
  ["too large a document", JSON.stringify({ ...MANIFEST, pad: "x".repeat(20000) }), /larger than/],
] as [string, string, RegExp][]) {
  test(`hostile manifest (${name}) is an error with a clear reason and no update`, async (t) => {
    const clock = new FakeClock();
    const { p, calls } = poller(new ScriptedHttp([{ status: 200, body }]), clock);
    const o = await p.pollOnce();
    t.is(o.kind, "error");
    t.regex((o as { reason: string }).reason, reason);
    t.deepEqual(calls, []);
  });
}

test("schedule: failures back off exponentially up to the cap, a good poll returns to the interval", async (t) => {
  const clock = new FakeClock();
  const http = new ScriptedHttp([{ status: 503 }, "error", { status: 500 }, { status: 502 }, { status: 503 }, { status: 200, body: JSON.stringify(MANIFEST) }]);
  const { p, outcomes } = poller(http, clock, { version: "2.0.0" });
  p.start();
  const delays: (number | undefined)[] = [];
  for (let i = 0; i < 6; i++) {
    await clock.fireNext();
    delays.push(clock.nextDelay());
  }
  p.stop();
  t.deepEqual(outcomes.map((o) => o.kind), ["error", "error", "error", "error", "error", "current"]);
  // jitter in [exp/2, exp): random() = 0.999 puts it just under exp
  t.deepEqual(delays, [999, 1999, 3998, 7996, 7996, 60_000]);
  t.is(p.failures, 0);
  t.regex((outcomes[0] as { reason: string }).reason, /HTTP 503/);
  t.regex((outcomes[1] as { reason: string }).reason, /connection refused/);
});

test("HttpReporter posts reports one at a time, in order", async (t) => {
  const clock = new FakeClock();
  const http = new ScriptedHttp([{ status: 204 }, { status: 204 }, "error", { status: 204 }]);
  const r = new HttpReporter(http, clock, "http://127.0.0.1:1/report");
  for (const s of ["a", "b", "c", "d"]) r.send(new Uint8Array(Buffer.from(s)));
  t.is(http.requests.length, 1);
  await r.idle();
  t.deepEqual(http.requests.map((q) => Buffer.from(q.body!).toString()), ["a", "b", "c", "d"]);
  t.is(http.requests[0].method, "POST");
  t.is(http.requests[0].headers?.["content-type"], "application/json");
});
