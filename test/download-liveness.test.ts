// Issue 9 §2/§3: a download ends. Slow, silent, flapping or refusing servers end in -2 within a
// bound computed from the options, after a bounded number of requests, and no timer of the
// downloader is left pending on any exit path. Virtual time: minutes of stalls run at once.

import test from "ava";
import { DOWNLOAD_DEFAULTS, download, type DownloadSink, type DownloadTuning } from "../src/download/downloader.ts";
import { OtaError } from "../src/errors.ts";
import { VirtualTime } from "./helpers/virtual-clock.ts";
import { fakeHttp, type Behaviour } from "./helpers/fake-http.ts";

const SIZE = 16 * 1024;
const image = Uint8Array.from({ length: SIZE }, (_, i) => (i * 31 + 7) & 255);

function sink(fail?: () => void): DownloadSink & { bytes: number } {
  const s = {
    bytes: 0,
    get position() {
      return s.bytes;
    },
    restart() {
      s.bytes = 0;
    },
    setValidator() {},
    data(chunk: Uint8Array) {
      fail?.();
      s.bytes += chunk.length;
    },
  };
  return s;
}

/** The longest a failing download may take: maxFailures requests, each cut off by the rate
 * window (the longest of the per-request limits), and the backoffs in between. */
function bound(o: DownloadTuning): number {
  const d = { ...DOWNLOAD_DEFAULTS, ...o };
  return d.maxFailures * Math.max(d.rateWindowMs, d.stallMs) + (d.maxFailures - 1) * d.backoffMaxMs;
}

async function run(behaviour: Behaviour, o: DownloadTuning = {}, s = sink()) {
  const time = new VirtualTime();
  const device = time.clock();
  const http = fakeHttp(image, time.clock(), behaviour);
  let error: unknown;
  try {
    await download(http, device, s, { url: "http://ota.example/app.bin", size: SIZE, ...o });
  } catch (e) {
    error = e;
  }
  // Let anything a leaked timer or handler would still do happen before the counts are read.
  await new Promise((r) => setImmediate(r));
  return { error, elapsed: time.now, requests: http.requests.length, live: device.live, open: http.open, sink: s };
}

function assertDownloadFailed(t: import("ava").ExecutionContext, r: Awaited<ReturnType<typeof run>>, o: DownloadTuning = {}) {
  t.true(r.error instanceof OtaError, `an OtaError, got ${String(r.error)}`);
  t.is((r.error as OtaError).code, -2, (r.error as OtaError).reason);
  t.true(r.elapsed <= bound(o), `ended after ${r.elapsed} ms of virtual time`);
  t.true(r.requests <= (o.maxFailures ?? DOWNLOAD_DEFAULTS.maxFailures), `${r.requests} requests`);
  t.is(r.live, 0, "no timer of the downloader is pending");
  t.is(r.open, 0, "no exchange is left open");
}

test("a trickling server (1 byte/s) is cut off by the minimum rate and ends in -2 in bounded time", async (t) => {
  const r = await run({ kind: "trickle", everyMs: 1000 });
  assertDownloadFailed(t, r);
  t.regex((r.error as OtaError).reason, /below 512 B\/s/);
  t.true(r.sink.bytes < SIZE, "the image did not complete at 1 byte/s");
});

test("a trickle slower than the stall timeout is a stall, and ends in -2", async (t) => {
  const o = { stallMs: 5000, rateWindowMs: 60_000 };
  const r = await run({ kind: "trickle", everyMs: 6000 }, o);
  assertDownloadFailed(t, r, o);
  t.regex((r.error as OtaError).reason, /stalled/);
});

test("a flapping server (one byte per connection) backs off and ends in -2 after maxFailures requests", async (t) => {
  const o = { maxFailures: 5 };
  const r = await run({ kind: "flap" }, o);
  assertDownloadFailed(t, r, o);
  t.is(r.requests, 5);
  t.true(r.elapsed >= DOWNLOAD_DEFAULTS.backoffMs / 2, "it waited between the requests");
});

test("progress of at least minProgressBytes per request is not a failure: a server that drops every 5000 bytes completes", async (t) => {
  const time = new VirtualTime();
  const device = time.clock();
  const s = sink();
  let requests = 0;
  const http = {
    request(req: import("../src/ports.ts").HttpRequest, h: import("../src/ports.ts").HttpHandlers) {
      requests++;
      const inner = fakeHttp(image, time.clock(), { kind: "good" });
      // The same answer as a good server, cut after 5000 bytes.
      return inner.request(req, { ...h, data: (c) => h.data(c.subarray(0, 5000)), end: () => (s.bytes >= SIZE ? h.end() : h.error("dropped")) });
    },
  };
  await download(http, device, s, { url: "http://ota.example/app.bin", size: SIZE, maxFailures: 2 });
  t.is(s.bytes, SIZE);
  t.is(requests, Math.ceil(SIZE / 5000));
  t.is(time.now, 0, "no backoff between requests that made progress");
  t.is(device.live, 0);
});

test("a silent server stalls each request and ends in -2", async (t) => {
  const r = await run({ kind: "silent" });
  assertDownloadFailed(t, r);
  t.regex((r.error as OtaError).reason, /stalled for 30000 ms/);
});

test("a synchronous throw from the HTTP port is a download error: retried with backoff, then -2", async (t) => {
  const r = await run({ kind: "throw", message: "Invalid URL" });
  assertDownloadFailed(t, r);
  t.is(r.requests, DOWNLOAD_DEFAULTS.maxFailures);
  t.regex((r.error as OtaError).reason, /request could not be made: Invalid URL/);
});

test("a 404 fails at once with -2 and leaves no timer", async (t) => {
  const r = await run({ kind: "status", status: 404 });
  assertDownloadFailed(t, r);
  t.is(r.requests, 1);
});

test("503 on every request ends in -2 after the retry budget, no timer left", async (t) => {
  const r = await run({ kind: "status", status: 503 });
  assertDownloadFailed(t, r);
});

test("the deadline ends a download that makes progress too slowly, even inside a request", async (t) => {
  const o = { deadlineMs: 90_000, minRateBytesPerSec: 0 };
  const r = await run({ kind: "trickle", everyMs: 100 }, o);
  t.is((r.error as OtaError).code, -2);
  t.regex((r.error as OtaError).reason, /deadline/);
  t.is(r.elapsed, 90_000);
  t.is(r.live, 0);
  t.is(r.open, 0);
});

test("a sink failure (flash) ends the download with the sink's error, no timer left", async (t) => {
  const boom = new Error("flash died");
  const r = await run({ kind: "good" }, {}, sink(() => {
    throw boom;
  }));
  t.is(r.error, boom);
  t.is(r.live, 0);
  t.is(r.open, 0);
});

test("a port that calls error() before request() returns does not touch the exchange early", async (t) => {
  const time = new VirtualTime();
  const device = time.clock();
  let requests = 0;
  const http = {
    request(_req: unknown, h: import("../src/ports.ts").HttpHandlers) {
      requests++;
      h.error("refused at once");
      return { abort: () => undefined };
    },
  };
  const e = await t.throwsAsync(download(http, device, sink(), { url: "http://ota.example/a", size: SIZE, maxFailures: 3 }));
  t.is((e as OtaError).code, -2);
  t.is(requests, 3);
  t.is(device.live, 0);
});

test("bad tuning values are refused with -1", async (t) => {
  const time = new VirtualTime();
  const e = await t.throwsAsync(download(fakeHttp(image, time.clock(), { kind: "good" }), time.clock(), sink(), { url: "http://x/a", size: SIZE, stallMs: -1 }));
  t.is((e as OtaError).code, -1);
});

/** A server that ignores Range (always 200 with the whole image) and drops the connection after
 * cut(k) bytes on request k. */
function ignoresRange(time: VirtualTime, cut: (k: number) => number) {
  let requests = 0;
  return {
    get requests() {
      return requests;
    },
    request(_req: import("../src/ports.ts").HttpRequest, h: import("../src/ports.ts").HttpHandlers) {
      const upTo = Math.min(SIZE, cut(++requests));
      const inner = fakeHttp(image, time.clock(), { kind: "good" });
      return inner.request({ url: "http://x/a" }, { ...h, data: (c) => h.data(c.subarray(0, upTo)), end: () => (upTo >= SIZE ? h.end() : h.error("dropped")) });
    },
  };
}

test("a server that ignores Range: progress is the position passing its best, so drops further each time complete at once", async (t) => {
  const time = new VirtualTime();
  const device = time.clock();
  const s = sink();
  const http = ignoresRange(time, (k) => 6000 * k);
  await download(http, device, s, { url: "http://x/a", size: SIZE, maxFailures: 2 });
  t.is(s.bytes, SIZE);
  t.is(http.requests, Math.ceil(SIZE / 6000));
  t.is(time.now, 0, "each request made progress: no backoff");
  t.is(device.live, 0);
});

test("a server that ignores Range and always drops at the same byte makes no progress: -2 after maxFailures, with backoff", async (t) => {
  const time = new VirtualTime();
  const device = time.clock();
  const http = ignoresRange(time, () => 6000);
  const e = await t.throwsAsync(download(http, device, sink(), { url: "http://x/a", size: SIZE, maxFailures: 4 }));
  t.is((e as OtaError).code, -2);
  t.is(http.requests, 5, "the first request made progress, then 4 without");
  t.true(time.now > 0, "it backed off");
  t.is(device.live, 0);
});
