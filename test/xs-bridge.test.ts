// The XS bridge of host-sim: xsnap-worker driven over its netstring protocol, the Moddable
// module shims inside XS, and the host event loop. Bundles here are hand-written scripts that
// reach the modules through the shims' registry (what moddableGlobals() generates for rollup).

import test from "ava";
import { createHash } from "node:crypto";
import { rollup } from "rollup";
import { startXsEngine, type XsEngineOptions } from "../host-sim/xs/host.ts";
import { createMemoryServices, staticRoute, type MemoryServices } from "../host-sim/xs/memory-services.ts";
import { moddableGlobals, moddableGlobalsEsbuild, MODDABLE_MODULES } from "../host-sim/xs/moddable-globals.ts";
import { XsHaltError } from "../host-sim/xs/services.ts";
import { XsWorker, XsWorkerError, replyText } from "../host-sim/xs/worker.ts";

/** A script bundle whose main(args) runs `body` with the modules bound to local names. */
function bundle(body: string): string {
  return `(function () {
  "use strict";
  const M = globalThis.__moddable;
  const Flash = M.require("embedded:storage/flash").default;
  const LegacyFlash = M.require("flash").default;
  const Preference = M.require("preference").default;
  const { Request } = M.require("http");
  const { Digest } = M.require("crypt");
  const Timer = M.require("timer").default;
  const Time = M.require("time").default;
  const sleep = (ms) => new Promise((resolve) => Timer.set(resolve, ms));
  globalThis.main = async function (args) {
${body}
  };
})();`;
}

async function engine(body: string, services: MemoryServices = createMemoryServices(), extra: Partial<XsEngineOptions> = {}) {
  const e = await startXsEngine({ bundleCode: bundle(body), services, ...extra });
  return { e, services };
}

// ---- worker ---------------------------------------------------------------------------------------

test("worker: evaluate, issueCommand round trip, meter figures, exceptions keep the worker", async (t) => {
  const seen: string[] = [];
  const w = new XsWorker({
    handleCommand: (req) => {
      seen.push(new TextDecoder().decode(req));
      return new TextEncoder().encode("pong");
    },
  });
  try {
    const r = await w.evaluate(`String.fromCharCode(...new Uint8Array(issueCommand(new TextEncoder().encode("ping").buffer)));
      new TextEncoder().encode("ok").buffer`);
    t.is(replyText(r), "ok");
    t.deepEqual(seen, ["ping"]);
    t.is(r.commands, 1);
    t.true(r.meter.compute > 0);
    t.true(r.meter.currentHeapCount > 0);
    // promise jobs run before the answer: the result property is set by a job
    const a = await w.evaluate(`const box = {}; Promise.resolve().then(() => { box.result = new TextEncoder().encode("later").buffer; }); box`);
    t.is(replyText(a), "later");
    const err = await t.throwsAsync(w.evaluate(`throw new RangeError("boom")`), { instanceOf: XsWorkerError });
    t.is(err?.kind, "exception");
    t.regex(err!.message, /boom/);
    t.is(replyText(await w.evaluate(`new TextEncoder().encode("alive").buffer`)), "alive");
  } finally {
    await w.close();
  }
  t.deepEqual(await w.exited, { code: 0, signal: null });
});

test("worker: meter limit and wall-clock timeout end the worker with a clear error", async (t) => {
  const limited = new XsWorker({ meteringLimit: 100_000 });
  const e1 = await t.throwsAsync(limited.evaluate(`for (;;) {}`), { instanceOf: XsWorkerError });
  t.is(e1?.kind, "crash");
  t.regex(e1!.message, /code 17 \(too much computation/);
  t.false(limited.alive);

  const slow = new XsWorker({ timeoutMs: 300 });
  const e2 = await t.throwsAsync(slow.evaluate(`for (;;) {}`), { instanceOf: XsWorkerError });
  t.is(e2?.kind, "timeout");
  const e3 = await t.throwsAsync(slow.evaluate(`1`), { instanceOf: XsWorkerError });
  t.is(e3?.kind, "timeout", "later operations fail with the first cause");
});

// ---- flash --------------------------------------------------------------------------------------

test("flash: embedded:storage/flash write, read, erase round trip and ESP32 error behaviour", async (t) => {
  const { e, services } = await engine(`
    const f = Flash.open({ path: "storage" });
    const status = f.status();
    f.eraseBlock(0, 2);
    const data = new Uint8Array(8192);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
    f.write(data.subarray(100, 4196), 100);                     // a view: its own bytes only
    const back = new Uint8Array(f.read(4096, 100));
    let same = true;
    for (let i = 0; i < 4096; i++) if (back[i] !== data[100 + i]) same = false;
    const into = new Uint8Array(16);
    const n = f.read(into, 100);
    const errors = {};
    try { f.write(new Uint8Array([0xff]), 100); } catch (e) { errors.nor = e.message; }
    try { f.write(new Uint32Array(4), 0); } catch (e) { errors.u32 = e.constructor.name; }
    const ro = Flash.open({ path: "storage", mode: "r" });
    try { ro.write(new Uint8Array(4), 0); } catch (e) { errors.ro = e.message; }
    try { Flash.open({ path: "ota_1" }); } catch (e) { errors.app = e.message; }
    try { Flash.open({}); } catch (e) { errors.nopath = e.message; }
    f.eraseBlock(0);
    const erased = new Uint8Array(f.read(8, 100));
    const next = Flash.open({ path: "nextota" }).status();
    const legacy = new LegacyFlash("storage");
    legacy.erase(1);
    legacy.write(4096, 4, new Uint8Array([9, 8, 7, 6, 5]));
    const legacyBack = Array.from(new Uint8Array(legacy.read(4096, 5)));
    f.close();
    try { f.read(1, 0); } catch (e) { errors.closed = e.message; }
    return { status, same, n, head: Array.from(into.subarray(0, 4)), errors, erased: Array.from(erased), next,
      labels: [...Flash], legacy: { size: legacy.byteLength, block: legacy.blockSize, back: legacyBack }, format: f.format };
  `);
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  const v = r.value as any;
  t.deepEqual(v.status, { size: 0x10000, blockLength: 4096, blocks: 16 });
  t.true(v.same);
  t.is(v.n, 16);
  t.deepEqual(v.head, [(100 * 7) & 255, (101 * 7) & 255, (102 * 7) & 255, (103 * 7) & 255]);
  t.regex(v.errors.nor, /write failed/);
  t.is(v.errors.u32, "TypeError");
  t.is(v.errors.ro, "read-only");
  t.is(v.errors.app, "can't find partition");
  t.is(v.errors.nopath, "no path");
  t.is(v.errors.closed, "closed");
  t.deepEqual(v.erased, [255, 255, 255, 255, 255, 255, 255, 255]);
  t.is(v.next.size, 0x100000);
  t.deepEqual(v.labels, ["ota_0", "ota_1", "storage"]);
  t.deepEqual(v.legacy, { size: 0x10000, block: 4096, back: [9, 8, 7, 6, 255] });
  t.is(v.format, "buffer");
  // the host saw the bytes
  const storage = services.flash.partition("storage");
  t.is(storage.bytes[4096], 9);
  t.is(r.stats.flashBlocksErased, 4);
  t.true(r.stats.flashBytesWritten >= 4096 + 4);
});

// ---- preference and restart -------------------------------------------------------------------

test("preference: values and types persist across a restart; restart boots a fresh worker", async (t) => {
  const services = createMemoryServices();
  const { e } = await engine(
    `
    if (args.phase === 1) {
      globalThis.marker = "boot one";
      Preference.set("ota", "count", 41);
      Preference.set("ota", "flag", true);
      Preference.set("ota", "name", "slot-β");
      Preference.set("ota", "blob", new Uint8Array([1, 2, 3]).buffer);
      Preference.set("ota", "gone", 1);
      Preference.delete("ota", "gone");
      Preference.delete("ota", "never-set");
      const errors = {};
      for (const [k, v] of [["float", 1.5], ["big", 2 ** 31], ["view", new Uint8Array(2)], ["obj", {}]])
        try { Preference.set("ota", k, v); } catch (e) { errors[k] = e.message; }
      try { Preference.set("ota", "a-key-that-is-too-long", 1); } catch (e) { errors.longKey = e.message; }
      try { Preference.set("a-domain-too-long", "k", 1); } catch (e) { errors.longDomain = e.message; }
      Preference.set("ota", "errors", JSON.stringify(errors));
      await sleep(10);
      System.restart();
      Preference.set("ota", "after", "restart returned");   // must never run
      return "not reached";
    }
    const blob = Preference.get("ota", "blob");
    return {
      marker: typeof globalThis.marker,
      count: Preference.get("ota", "count"),
      flag: Preference.get("ota", "flag"),
      name: Preference.get("ota", "name"),
      blob: blob instanceof ArrayBuffer ? Array.from(new Uint8Array(blob)) : String(blob),
      gone: Preference.get("ota", "gone"),
      after: Preference.get("ota", "after"),
      keys: Preference.keys("ota").sort(),
      errors: JSON.parse(Preference.get("ota", "errors")),
      longDomain: Preference.get("a-domain-too-long", "k"),
    };
  `,
    services,
  );
  const first = await e.run({ phase: 1 });
  t.is(first.outcome, "restart", JSON.stringify(first.error));
  t.is(first.boot, 1);
  t.false(e.alive);
  t.is(services.system.restarts, 1);
  await e.reboot();
  t.is(e.boot, 2);
  const second = await e.run({ phase: 2 });
  await e.close();
  t.is(second.outcome, "done", JSON.stringify(second.error));
  t.deepEqual(second.value, {
    marker: "undefined",
    count: 41,
    flag: true,
    name: "slot-β",
    blob: [1, 2, 3],
    keys: ["blob", "count", "errors", "flag", "name"],
    errors: {
      float: "float unsupported",
      big: "float unsupported",
      view: "unsupported type",
      obj: "unsupported type",
      longKey: "nvs set fail",
      longDomain: "nvs_open fail",
    },
  } as unknown);
  t.is(services.preference.get("ota", "after"), undefined);
});

test("restart: runBoots reboots on restart until the runtime settles; mc/ffi esp_restart restarts too", async (t) => {
  const services = createMemoryServices();
  const { e } = await engine(
    `
    const boots = (Preference.get("t", "boots") ?? 0) + 1;
    Preference.set("t", "boots", boots);
    if (boots === 1) System.restart();
    if (boots === 2) { const FFI = M.require("mc/ffi").default; new FFI().esp_ota_mark_app_valid_cancel_rollback(); new FFI().esp_restart(); }
    return { boots, heap: typeof globalThis.leftover, ticks: Time.ticks };
  `,
    services,
  );
  const results = await e.runBoots();
  await e.close();
  t.deepEqual(
    results.map((r) => [r.outcome, r.boot]),
    [
      ["restart", 1],
      ["restart", 2],
      ["done", 3],
    ],
  );
  t.deepEqual(results[2]!.value, { boots: 3, heap: "undefined", ticks: 0 });
  t.is(services.system.restarts, 2);
  t.deepEqual(services.system.ffiCalls, [{ name: "esp_ota_mark_app_valid_cancel_rollback", args: [] }]);
});

test("halt: a service throwing XsHaltError stops XS inside the call", async (t) => {
  const services = createMemoryServices();
  const storage = services.flash.partition("storage");
  let writes = 0;
  const write = storage.write.bind(storage);
  storage.write = (offset, data) => {
    if (++writes === 3) throw new XsHaltError("power cut during write 3");
    write(offset, data);
  };
  const { e } = await engine(
    `
    const f = Flash.open({ path: "storage" });
    f.eraseBlock(0);
    for (let i = 0; i < 5; i++) { f.write(new Uint8Array([i]), i); Preference.set("t", "last", i); }
    return "not reached";
  `,
    services,
  );
  const r = await e.run();
  t.is(r.outcome, "halted");
  t.is(r.reason, "power cut during write 3");
  t.is(services.preference.get("t", "last"), 1);
  t.deepEqual(Array.from(storage.bytes.subarray(0, 4)), [0, 1, 0xff, 0xff]);
  await e.reboot();
  t.true(e.alive);
  await e.close();
});

// ---- http -------------------------------------------------------------------------------------------

test("http: a streamed exchange in several fragments with a Range header seen by the host", async (t) => {
  const body = new Uint8Array(20_000).map((_, i) => (i * 31 + 7) & 255);
  const services = createMemoryServices({ routes: [staticRoute("/fw.bin", body, { etag: '"v2"', chunkSize: 5000 })] });
  const { e } = await engine(
    `
    const d = new Digest("SHA256");
    const events = [];
    let turns = 0;
    const result = await new Promise((resolve, reject) => {
      const r = new Request({ host: "updates.local", port: 8080, path: "/fw.bin", headers: ["Range", "bytes=" + args.from + "-", "If-Range", '"v2"'] });
      const headers = {};
      let status, bytes = 0, fragments = 0;
      r.callback = function (message, v1, v2) {
        events.push(message);
        if (message === Request.status) status = v1;
        else if (message === Request.header) headers[v1] = v2;
        else if (message === Request.responseFragment) {
          fragments++;
          const first = this.read(ArrayBuffer, 10);          // partial reads leave the rest available
          const rest = this.read(ArrayBuffer);
          d.write(first); if (rest) d.write(rest);
          bytes += first.byteLength + (rest ? rest.byteLength : 0);
          Promise.resolve().then(() => turns++);              // runs before the next fragment
        } else if (message === Request.responseComplete) resolve({ status, headers, bytes, fragments });
        else if (message < 0) reject(new Error("http error " + message));
      };
    });
    result.turns = turns;
    result.sha = new Uint8Array(d.close()).toHex();
    result.first = events.slice(0, 2);
    result.last = events[events.length - 1];
    return result;
  `,
    services,
    { httpFragmentSize: 1460 },
  );
  const r = await e.run({ from: 1000 });
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  const v = r.value as any;
  t.is(v.status, 206);
  t.is(v.headers["content-range"], "bytes 1000-19999/20000");
  t.is(v.headers["etag"], '"v2"');
  t.is(v.bytes, 19_000);
  t.is(v.fragments, Math.ceil(5000 / 1460) * 3 + Math.ceil(4000 / 1460));
  t.is(v.turns, v.fragments, "promise jobs ran between fragments");
  t.is(v.sha, createHash("sha256").update(body.subarray(1000)).digest("hex"));
  t.deepEqual(v.first, [1, 2]);
  t.is(v.last, 5);
  const seen = services.http.seen[0]!;
  t.deepEqual(
    { host: seen.host, port: seen.port, path: seen.path, method: seen.method, scheme: seen.scheme },
    { host: "updates.local", port: 8080, path: "/fw.bin", method: "GET", scheme: "http" },
  );
  t.deepEqual(seen.headers, [
    ["Range", "bytes=1000-"],
    ["If-Range", '"v2"'],
  ]);
  t.is(r.stats.httpBytesDelivered, 19_000);
});

test("http: response: String, a cut connection (-2), POST bodies and streamed request bodies", async (t) => {
  const services = createMemoryServices({
    routes: [
      staticRoute("/text", new TextEncoder().encode("héllo wörld")),
      staticRoute("/cut", new Uint8Array(10_000), { cutAfter: 3000 }),
      (req) => (req.path === "/echo" ? { status: 200, headers: [["Content-Length", String(req.body?.byteLength ?? 0)]], body: req.body } : undefined),
    ],
  });
  const { e } = await engine(
    `
    const exchange = (options) => new Promise((resolve) => {
      const r = new Request({ host: "h", ...options });
      const out = { messages: [] };
      r.callback = function (message, v1) {
        out.messages.push(message);
        if (message === Request.requestFragment) return options.parts.shift();
        if (message === Request.responseFragment) { out.bytes = (out.bytes ?? 0) + this.read(ArrayBuffer).byteLength; }
        if (message === Request.responseComplete) { out.body = v1; resolve(out); }
        if (message < 0) resolve(out);
      };
    });
    const text = await exchange({ path: "/text", response: String });
    const cut = await exchange({ path: "/cut" });
    const post = await exchange({ path: "/echo", method: "POST", body: "abc", response: String });
    const streamed = await exchange({ path: "/echo", method: "POST", body: true, parts: ["one-", new Uint8Array([50, 51]).buffer], response: String });
    return { text: text.body, cut: [cut.bytes, cut.messages[cut.messages.length - 1]], post: post.body, streamed: streamed.body };
  `,
    services,
  );
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, { text: "héllo wörld", cut: [3000, -2], post: "abc", streamed: "one-23" });
  t.deepEqual(services.http.seen.map((s) => s.method), ["GET", "GET", "POST", "POST"]);
});

// ---- digests -------------------------------------------------------------------------------------

test("crypt: MD5 and SHA-256 of 1 MiB fed in chunks equal node:crypto; close(more), reset, reuse after close", async (t) => {
  const { e } = await engine(`
    const md5 = new Digest("MD5"), sha = new Digest("SHA256");
    const chunk = new Uint8Array(4096);
    let x = 1;
    let mid;
    for (let n = 0; n < 256; n++) {
      for (let i = 0; i < chunk.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; chunk[i] = x >>> 24; }
      md5.write(chunk.buffer);
      sha.write(n & 1 ? chunk : new DataView(chunk.buffer));      // any byte view works
      if (n === 127) mid = new Uint8Array(sha.close(true)).toHex();  // intermediate digest
    }
    const out = { md5: new Uint8Array(md5.close()).toHex(), sha: new Uint8Array(sha.close()).toHex(), mid,
      sizes: [md5.blockSize, md5.outputSize, sha.blockSize, sha.outputSize] };
    md5.write("abc");                                   // after close without reset: no throw, wrong result
    out.stale = new Uint8Array(md5.close()).toHex();
    md5.reset(); md5.write("abc");
    out.abc = new Uint8Array(md5.close()).toHex();
    out.process = new Uint8Array(new Digest("SHA1").process("a", "bc")).toHex();
    try { new Digest("CRC32"); } catch (e) { out.bad = e.message; }
    return out;
  `);
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  const data = new Uint8Array(1 << 20);
  let x = 1;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const v = r.value as any;
  t.is(v.md5, createHash("md5").update(data).digest("hex"));
  t.is(v.sha, createHash("sha256").update(data).digest("hex"));
  t.is(v.mid, createHash("sha256").update(data.subarray(0, 128 * 4096)).digest("hex"));
  t.deepEqual(v.sizes, [64, 16, 64, 32]);
  t.not(v.stale, createHash("md5").update("abc").digest("hex"));
  t.is(v.abc, createHash("md5").update("abc").digest("hex"));
  t.is(v.process, createHash("sha1").update("abc").digest("hex"));
  t.is(v.bad, "crypt: unsupported digest");
  t.is(r.stats.digestBytes, 2 * (1 << 20) + 3 + 3 + 3);
});

// ---- timers and the event loop -------------------------------------------------------------------

test("timer: expiries fire in time order with virtual time; repeat, clear, schedule, immediate", async (t) => {
  const { e } = await engine(`
    const log = [];
    const t0 = Time.ticks;
    const at = (name) => log.push(name + "@" + (Time.ticks - t0));
    Timer.set(() => at("c300"), 300);
    Timer.set(() => at("a100"), 100);
    const cleared = Timer.set(() => at("never"), 50);
    Timer.clear(cleared);
    Timer.clear(undefined);
    Timer.set(function (timer) { at("immediate"); log.push(this === globalThis); }, undefined);
    let n = 0;
    const rep = Timer.repeat((timer) => { at("r" + (++n)); if (n === 3) Timer.clear(timer); }, 70);
    const moved = Timer.set(() => at("moved"), 10);
    Timer.schedule(moved, 250);
    const idle = Timer.set(() => at("unscheduled"), 20);
    Timer.schedule(idle);
    Timer.set(() => at("b200"), 200);
    await sleep(400);
    Timer.delay(5);
    at("end");
    return { log, delta: Time.delta(t0) };
  `);
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, {
    log: ["immediate@0", true, "r1@70", "a100@100", "r2@140", "b200@200", "r3@210", "moved@250", "c300@300", "end@405"],
    delta: 405,
  });
  t.is(r.stats.clockMs, 405);
  t.true(r.stats.wallMs < 5000);
});

test("clock: real time; Time.ticks wraps as a signed 32-bit counter", async (t) => {
  const { e } = await engine(
    `
    const t0 = Time.ticks;
    const log = [];
    Timer.set(() => log.push("b"), 60);
    Timer.set(() => log.push("a"), 20);
    await sleep(80);
    Timer.delay(10);
    return { log, t0, elapsed: Time.delta(t0) };
  `,
    undefined,
    { clock: "real", ticksAtBoot: 0x7fffffff - 60 },
  );
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  const v = r.value as any;
  t.deepEqual(v.log, ["a", "b"]);
  const sinceBoot = (v.t0 - (0x7fffffff - 60)) | 0;
  t.true(sinceBoot >= 0 && sinceBoot < 5000, String(v.t0));
  // the run crossed 2^31 - 1: ticks went negative, Time.delta still measures the interval
  t.true(v.elapsed >= 90 && v.elapsed < 5000, String(v.elapsed));
  t.true(r.stats.wallMs >= 85, String(r.stats.wallMs));
});

test("clock: virtual time jumps over a stalled HTTP exchange after ioGraceMs", async (t) => {
  const services = createMemoryServices({
    routes: [(req) => (req.path === "/stall" ? { status: 200, headers: [["Content-Length", "100000"]], body: new Uint8Array(100_000), chunkSize: 1000, chunkDelayMs: 60_000 } : undefined)],
  });
  const { e } = await engine(
    `
    const t0 = Time.ticks;
    let bytes = 0;
    const outcome = await new Promise((resolve) => {
      const r = new Request({ host: "h", path: "/stall" });
      const watchdog = Timer.set(() => { r.close(); resolve("stalled"); }, 30000);
      r.callback = function (message) {
        if (message === Request.responseFragment) bytes += this.read(ArrayBuffer).byteLength;
        if (message === Request.responseComplete || message < 0) { Timer.clear(watchdog); resolve("finished"); }
      };
    });
    return { outcome, bytes, at: Time.ticks - t0 };
  `,
    services,
    { ioGraceMs: 20 },
  );
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, { outcome: "stalled", bytes: 1000, at: 30000 });
  t.true(r.stats.wallMs < 10_000, String(r.stats.wallMs));
});

test("event loop: promise jobs run between deliveries; async/await chains across timers", async (t) => {
  const { e } = await engine(`
    const log = [];
    Timer.set(() => { log.push("A"); Promise.resolve().then(() => log.push("A-job")).then(() => log.push("A-job2")); }, 10);
    Timer.set(() => log.push("B"), 10);
    async function worker(name, delays) {
      for (const d of delays) { await sleep(d); log.push(name + d); await null; }
      return name;
    }
    const done = await Promise.all([worker("x", [5, 20]), worker("y", [15, 5])]);
    log.push(done.join());
    return log;
  `);
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, ["x5", "A", "A-job", "A-job2", "B", "y15", "y5", "x20", "x,y"]);
});

test("event loop: rejection, callback exceptions and deadlocks end the run with an error", async (t) => {
  const rejected = await engine(`await sleep(1); throw new TypeError("bad state");`);
  const r1 = await rejected.e.run();
  await rejected.e.close();
  t.is(r1.outcome, "error");
  t.like(r1.error, { name: "TypeError", message: "bad state" });

  const thrower = await engine(`Timer.set(() => { throw new Error("in timer"); }, 5); await sleep(50); return "no";`);
  const r2 = await thrower.e.run();
  await thrower.e.close();
  t.is(r2.outcome, "error");
  t.like(r2.error, { message: "in timer", where: "event" });

  const stuck = await engine(`await new Promise(() => {});`);
  const r3 = await stuck.e.run();
  await stuck.e.close();
  t.is(r3.outcome, "error");
  t.regex(r3.error!.message, /deadlock/);
});

test("globals: device globals only; Moddable XS extensions polyfilled; trace goes to the host", async (t) => {
  const { e, services } = await engine(`
    trace("hello ", 42, "\\n");
    const ab = ArrayBuffer.fromString("hé");
    const joined = ab.concat(new Uint8Array([33]).buffer);
    return {
      missing: ["TextEncoder", "TextDecoder", "print", "setImmediate", "issueCommand", "performance", "harden", "Base64"].filter((n) => n in globalThis),
      present: [typeof trace, typeof System, typeof console.log, typeof handleCommand],
      str: String.fromArrayBuffer(joined),
      hex: new Uint8Array(ab).toHex(),
      fromHex: Array.from(Uint8Array.fromHex("00ff")),
      b64: new Uint8Array([1, 2, 3]).toBase64(),
      decoder: new (M.require("text/decoder").default)().decode(new Uint8Array([104, 105])),
      config: M.require("mc/config").default,
      modules: Object.keys(M).sort(),
    };
  `, undefined, { config: { otaRuntime: { minRSSI: -75 } } });
  const r = await e.run();
  await e.close();
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, {
    missing: [],
    present: ["function", "function", "undefined", "function"],
    str: "hé!",
    hex: "68c3a9",
    fromHex: [0, 255],
    b64: "AQID",
    decoder: "hi",
    config: { otaRuntime: { minRSSI: -75 } },
    modules: Object.keys(MODDABLE_MODULES).sort(),
  } as unknown);
  t.deepEqual(services.logs, ["hello 42\n"]);
});

test("meter: shim work is not charged to the runtime unless meterShims is set", async (t) => {
  const body = `
    const f = Flash.open({ path: "nextota" });
    const block = new Uint8Array(4096);
    for (let b = 0; b < 64; b++) { f.eraseBlock(b); f.write(block, b * 4096); }
    return 1;
  `;
  const quiet = await engine(body);
  const a = await quiet.e.run();
  await quiet.e.close();
  const loud = await engine(body, undefined, { meterShims: true });
  const b = await loud.e.run();
  await loud.e.close();
  t.is(a.outcome, "done");
  t.is(b.outcome, "done");
  // about 800 units of shim JS per flash call when metered
  t.true(b.stats.compute > 3 * a.stats.compute, `${a.stats.compute} vs ${b.stats.compute}`);
  t.true(a.stats.compute < 20_000, String(a.stats.compute));
});

// ---- rollup ---------------------------------------------------------------------------------------

const ENTRY = `
    import Flash from "embedded:storage/flash";
    import { Digest } from "crypt";
    import Timer from "timer";
    import Preference from "preference";
    globalThis.main = async (args) => {
      const { default: Net } = await import("net");
      let legacy = "present";
      try { await import("flash"); } catch (e) { legacy = e.message; }
      await new Promise((r) => Timer.set(r, 5));
      Preference.set("r", "k", "v");
      const f = Flash.open({ path: "storage" });
      return { args, rssi: Net.get("RSSI"), legacy, size: f.status().size, md5: new Uint8Array(new Digest("MD5").process("a")).toHex() };
    };
  `;

async function runBundle(code: string) {
  const services = createMemoryServices();
  const e = await startXsEngine({ bundleCode: code, services, omitModules: ["flash"] });
  const r = await e.run({ hello: 1 });
  await e.close();
  return { r, services };
}

const BUNDLE_RESULT = { args: { hello: 1 }, rssi: -60, legacy: 'module "flash" not found', size: 0x10000, md5: "0cc175b9c0f1b6a831c399e269772661" };

test("rollup: moddableGlobals() maps static and dynamic Moddable imports of a script bundle to the shims", async (t) => {
  const entry = ENTRY;
  const build = await rollup({
    input: "entry",
    plugins: [
      moddableGlobals(),
      { name: "entry", resolveId: (s) => (s === "entry" ? s : null), load: (id) => (id === "entry" ? entry : null) },
    ],
  });
  const { output } = await build.generate({ format: "iife", inlineDynamicImports: true });
  const code = output[0].code;
  t.notRegex(code, /(^|[^.\w])import\s*[\s{("']/m);
  const { r, services } = await runBundle(code);
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, BUNDLE_RESULT);
  t.is(services.preference.get("r", "k"), "v");
});

test("esbuild: moddableGlobalsEsbuild() builds the same script bundle", async (t) => {
  const { build } = await import("esbuild");
  const out = await build({
    stdin: { contents: ENTRY, loader: "js", resolveDir: process.cwd() },
    bundle: true,
    format: "iife",
    write: false,
    target: "es2022",
    plugins: [moddableGlobalsEsbuild()],
  });
  const code = out.outputFiles[0]!.text;
  t.notRegex(code, /(^|[^.\w])import\s*[\s{("']/m);
  const { r } = await runBundle(code);
  t.is(r.outcome, "done", JSON.stringify(r.error));
  t.deepEqual(r.value, BUNDLE_RESULT);
});
