import test from "ava";
import { download, type DownloadSink } from "../src/download/downloader.ts";
import type { ClockPort, HttpHandlers, HttpPort, HttpRequest } from "../src/ports.ts";
import { OtaError } from "../src/errors.ts";
import { parseContentRange, parseLength } from "../src/download/content-range.ts";

const SIZE = 1000;
const image = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7) & 255);

/** An immediate clock: timers run on the next microtask turn, recorded for the backoff checks. */
function clock(): ClockPort & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => 0,
    setTimeout(cb, ms) {
      let live = true;
      if (ms < 10_000) {
        sleeps.push(ms);
        void Promise.resolve().then(() => live && cb());
      }
      return { id: { cancel: () => (live = false) } };
    },
    clearTimeout(h) {
      (h.id as { cancel(): void }).cancel();
    },
    random: () => 0.5,
  };
}

type Reply = { status: number; headers?: Record<string, string>; body?: [number, number]; error?: string };

/** Answers request k with script[k]; records the request headers. */
function scripted(script: ((req: HttpRequest) => Reply)[]): HttpPort & { requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  return {
    requests,
    request(req: HttpRequest, h: HttpHandlers) {
      requests.push(req);
      const reply = script[Math.min(requests.length - 1, script.length - 1)](req);
      let aborted = false;
      void Promise.resolve().then(() => {
        h.response(reply.status, reply.headers ?? {});
        if (aborted) return;
        if (reply.body) h.data(image.slice(reply.body[0], reply.body[1]));
        if (aborted) return;
        if (reply.error) h.error(reply.error);
        else h.end();
      });
      return { abort: () => void (aborted = true) };
    },
  };
}

function sink(): DownloadSink & { bytes: number[]; writes: [number, number][]; restarts: number } {
  const s = {
    bytes: [] as number[],
    writes: [] as [number, number][],
    restarts: 0,
    get position() {
      return s.bytes.length;
    },
    restart() {
      s.restarts++;
      s.bytes.length = 0;
    },
    setValidator() {},
    data(chunk: Uint8Array) {
      s.writes.push([s.bytes.length, chunk.length]);
      s.bytes.push(...chunk);
    },
  };
  return s;
}

const full = (etag = '"a"'): Reply => ({ status: 200, headers: { "content-length": String(SIZE), etag }, body: [0, SIZE] });
const partial = (from: number, to: number, total = SIZE, etag = '"a"'): Reply => ({
  status: 206,
  headers: { "content-range": `bytes ${from}-${total - 1}/${total}`, "content-length": String(total - from), etag },
  body: [from, to],
});

test("206 with a matching Content-Range appends; Range and If-Range are sent", async (t) => {
  const s = sink();
  const http = scripted([() => ({ ...full(), body: [0, 400], error: "reset" }), (req) => partial(400, SIZE)]);
  await download(http, clock(), s, { url: "http://x/a", size: SIZE });
  t.deepEqual(Uint8Array.from(s.bytes), image);
  t.deepEqual(http.requests[1].headers, { range: "bytes=400-", "if-range": '"a"' });
});

test("a 416 starts again from 0 without Range", async (t) => {
  const s = sink();
  const http = scripted([() => ({ ...full(), body: [0, 300], error: "reset" }), () => ({ status: 416 }), () => full()]);
  await download(http, clock(), s, { url: "http://x/a", size: SIZE });
  t.deepEqual(Uint8Array.from(s.bytes), image);
  t.is(s.restarts, 1);
  t.deepEqual(http.requests[2].headers, {});
});

test("a 206 with a changed ETag starts again from 0 and writes nothing of it", async (t) => {
  const s = sink();
  const http = scripted([() => ({ ...full(), body: [0, 300], error: "reset" }), () => partial(300, SIZE, SIZE, '"b"'), () => full('"b"')]);
  await download(http, clock(), s, { url: "http://x/a", size: SIZE });
  t.deepEqual(Uint8Array.from(s.bytes), image);
  t.false(s.writes.some(([at]) => at === 300), "the 206 body with the new ETag was not written");
});

test("a 200 to a Range request is written from 0, never at the resume offset", async (t) => {
  const s = sink();
  const http = scripted([() => ({ ...full(), body: [0, 500], error: "reset" }), () => full()]);
  await download(http, clock(), s, { url: "http://x/a", size: SIZE });
  t.deepEqual(Uint8Array.from(s.bytes), image);
  t.deepEqual(s.writes.map(([at]) => at), [0, 0]);
});

test("inconsistent Content-Range or Content-Length is an error, then a retry", async (t) => {
  const s = sink();
  const http = scripted([
    () => ({ ...full(), body: [0, 200], error: "reset" }),
    () => partial(250, SIZE), // wrong start
    () => ({ ...partial(200, SIZE), headers: { "content-range": `bytes 200-999/${SIZE}`, "content-length": "5" } }),
    () => ({ ...partial(200, SIZE), headers: { "content-range": "bytes 200-999/2000" } }),
    () => ({ status: 200, headers: { "content-length": "12" } }),
    () => partial(200, SIZE),
  ]);
  const stats = await download(http, clock(), s, { url: "http://x/a", size: SIZE, backoffMs: 100 });
  t.deepEqual(Uint8Array.from(s.bytes), image);
  t.is(stats.requests, 6);
  t.is(s.writes.filter(([at]) => at === 200).length, 1);
});

test("5xx retries back off exponentially with jitter, capped; the budget ends in -2", async (t) => {
  const c = clock();
  const http = scripted([() => ({ status: 503 })]);
  const e = await t.throwsAsync(download(http, c, sink(), { url: "http://x/a", size: SIZE, maxFailures: 6, backoffMs: 100, backoffMaxMs: 1000 }));
  t.true(e instanceof OtaError);
  t.is((e as OtaError).code, -2);
  t.is(http.requests.length, 6);
  // random() = 0.5 -> 3/4 of the exponential step, capped at 1000.
  t.deepEqual(c.sleeps, [75, 150, 300, 600, 750]);
});

test("a 404 fails at once with -2", async (t) => {
  const http = scripted([() => ({ status: 404 })]);
  const e = await t.throwsAsync(download(http, clock(), sink(), { url: "http://x/a", size: SIZE }));
  t.is((e as OtaError).code, -2);
  t.is(http.requests.length, 1);
});

test("Content-Range and Content-Length are parsed strictly, by hand", (t) => {
  t.deepEqual(parseContentRange("bytes 100-199/1000"), { start: 100, end: 199, total: 1000 });
  t.deepEqual(parseContentRange(" BYTES  0-0/*\t"), { start: 0, end: 0, total: undefined });
  for (const bad of ["bytes 100-99/1000", "bytes 0-999/999", "bytes=0-1/2", "bytes 0-1", "bytes -1-2/3", "bytes 1-2/3x", "bytes1-2/3", "bytes 1 -2/3", "", "bytes 0-1/9999999999999999"]) {
    t.is(parseContentRange(bad), undefined, bad);
  }
  t.is(parseLength(" 42 "), 42);
  for (const bad of ["", "-1", "4 2", "0x10", "1e3", "12a"]) t.is(parseLength(bad), undefined, bad);
});
