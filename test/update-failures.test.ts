// Agent.update() on every failure path (issue 9 §2): the code says what failed (-1 refused or
// unexpected, -2 download, -3 verify, -4 flash, and only flash is -4), no timer of the agent is
// left pending when update() returns, and input that is refused changes nothing on the flash.
// Node engine with virtual time; the codes on both engines are checked at the end through sim
// update.

import test from "ava";
import { Agent } from "../src/agent/agent.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { digestsOf } from "../host-sim/server.ts";
import { simUpdate } from "../host-sim/sim-update.ts";
import type { DigestPort, HttpPort, PartitionPort, Platform } from "../src/ports.ts";
import { DOWNLOAD_DEFAULTS } from "../src/download/downloader.ts";
import { VirtualTime } from "./helpers/virtual-clock.ts";
import { fakeHttp, type Behaviour } from "./helpers/fake-http.ts";
import { ENGINES } from "./helpers/engines.ts";

const SIZE = 64 * 1024;
const image = buildTestImage({ version: "2.0.0", size: SIZE });
const URL_OK = "http://127.0.0.1:8080/app-2.0.0.bin";

function offer(over: Record<string, unknown> = {}) {
  return { component: "app", version: "2.0.0", url: URL_OK, size: SIZE, ...digestsOf(image), ...over };
}

interface Setup {
  behaviour?: Behaviour;
  /** Wraps the platform's ports (fault injection). */
  partitions?: (p: PartitionPort) => PartitionPort;
  digests?: (d: DigestPort) => DigestPort;
  http?: (h: HttpPort) => HttpPort;
}

async function attempt(input: unknown, setup: Setup = {}) {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE }));
  board.boot();
  const time = new VirtualTime();
  const device = time.clock();
  const served = fakeHttp(image, time.clock(), setup.behaviour ?? { kind: "good" });
  const http = setup.http ? setup.http(served) : served;
  const base = board.platform(http, new NodeClock());
  const platform: Platform = {
    ...base,
    clock: device,
    partitions: setup.partitions ? setup.partitions(base.partitions) : base.partitions,
    digests: setup.digests ? setup.digests(base.digests) : base.digests,
  };
  const before = board.flash.read(0, board.profile.flashSize).slice();
  const agent = new Agent({ platform });
  const result = await agent.update(input);
  // Anything a leaked timer would do runs before the counts are read.
  await new Promise((r) => setImmediate(r));
  const after = board.flash.read(0, board.profile.flashSize);
  let same = before.length === after.length;
  for (let i = 0; same && i < before.length; i++) same = before[i] === after[i];
  return { result, live: device.live, open: served.open, requests: served.requests.length, flashUnchanged: same, journal: agent.journalState().phase, restarted: board.restartRequested, elapsed: time.now };
}

type Attempt = Awaited<ReturnType<typeof attempt>>;

function check(t: import("ava").ExecutionContext, r: Attempt, code: -1 | -2 | -3 | -4, reason: RegExp) {
  t.is(r.result.errorCode, code, r.result.reason);
  t.regex(r.result.reason, reason);
  t.false(r.result.ok);
  t.false(r.restarted, "no restart after a failure");
  t.is(r.live, 0, "no timer of the agent is pending after update()");
  t.is(r.open, 0, "no HTTP exchange is left open");
}

function getterBoom() {
  const o = offer();
  Object.defineProperty(o, "url", { enumerable: true, get() { throw new Error("getter boom"); } });
  return o;
}

/** An HTTP port that, like Node's http.request, throws synchronously on a URL it cannot use. */
const nodeLike = (h: HttpPort): HttpPort => ({
  request(req, handlers) {
    const u = new URL(req.url);
    if (u.port !== "" && Number(u.port) > 65535) throw new RangeError("Invalid URL");
    return h.request(req, handlers);
  },
});

const refusals: [string, unknown, RegExp][] = [
  ["a port out of range", offer({ url: "http://127.0.0.1:99999/x" }), /port must be 1\.\.65535/],
  ["an IPv6 host without its bracket", offer({ url: "http://[::1/x" }), /no closing bracket/],
  ["no host", offer({ url: "http://:80/x" }), /host is missing/],
  ["another scheme", offer({ url: "ftp://x/y" }), /scheme must be http/],
  ["a throwing getter", getterBoom(), /getter boom/],
  ["a signature", offer({ signature: "c2ln" }), /signatures are not supported yet/],
];

for (const [what, input, reason] of refusals) {
  test(`refused input (${what}): -1, no request, the flash untouched, no timer`, async (t) => {
    const r = await attempt(input, { http: nodeLike });
    check(t, r, -1, reason);
    t.is(r.requests, 0);
    t.true(r.flashUnchanged, "running firmware, journal and slots intact");
  });
}

test("a synchronous throw from the HTTP port is -2 after the retry budget, not -4", async (t) => {
  const r = await attempt(offer(), { behaviour: { kind: "throw", message: "no socket" } });
  check(t, r, -2, /request could not be made: no socket/);
  t.is(r.requests, DOWNLOAD_DEFAULTS.maxFailures);
  t.is(r.journal, "download", "the journal keeps the download to resume");
});

for (const [what, behaviour, reason] of [
  ["404", { kind: "status", status: 404 }, /HTTP 404/],
  ["a silent server", { kind: "silent" }, /stalled/],
  ["a flapping server", { kind: "flap" }, /attempts without progress/],
  ["a trickling server", { kind: "trickle", everyMs: 1000 }, /below 512 B\/s/],
  ["503 forever", { kind: "status", status: 503 }, /HTTP 503/],
] as [string, Behaviour, RegExp][]) {
  test(`${what}: -2 with defaults, bounded requests, no timer`, async (t) => {
    const r = await attempt(offer(), { behaviour });
    check(t, r, -2, reason);
    t.true(r.requests <= DOWNLOAD_DEFAULTS.maxFailures, `${r.requests} requests`);
  });
}

test("a digest mismatch is -3 and clears the journal, no timer", async (t) => {
  const r = await attempt(offer({ sha256: "ab".repeat(32) }));
  check(t, r, -3, /sha256/i);
  t.is(r.journal, "idle");
});

test("a flash write failure is -4 naming the flash, no timer", async (t) => {
  const failing = (p: PartitionPort): PartitionPort => ({
    ...p,
    open(label) {
      const part = p.open(label);
      if (label !== "ota_1") return part;
      return { label: part.label, geometry: part.geometry, read: (o, n) => part.read(o, n), erase: (o, n) => part.erase(o, n), write() { throw new Error("program failed"); } };
    },
  });
  const r = await attempt(offer(), { partitions: failing });
  check(t, r, -4, /flash: ota_1: write .*program failed/);
});

test("an unexpected error (a digest engine fault) is -1 with its message, not -4", async (t) => {
  const faulty = (d: DigestPort): DigestPort => ({
    create(algorithm) {
      const inner = d.create(algorithm);
      return {
        update() {
          throw new Error("digest engine fault");
        },
        finish: () => inner.finish(),
      };
    },
  });
  const r = await attempt(offer(), { digests: faulty });
  check(t, r, -1, /unexpected: digest engine fault/);
});

test("a deadline ends the update with -2, no timer", async (t) => {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE }));
  board.boot();
  const time = new VirtualTime();
  const device = time.clock();
  const served = fakeHttp(image, time.clock(), { kind: "trickle", everyMs: 10 });
  const agent = new Agent({ platform: { ...board.platform(served, new NodeClock()), clock: device }, download: { deadlineMs: 120_000 } });
  const r = await agent.update(offer());
  t.is(r.errorCode, -2, r.reason);
  t.regex(r.reason, /deadline/);
  t.is(time.now, 120_000);
  t.is(device.live, 0);
  t.is(served.open, 0);
});

// The same refusals give the same code and reason on both engines.
for (const engine of ENGINES) {
  for (const url of ["http://127.0.0.1:99999/x", "http://[::1/x"]) {
    test(`${engine}: offer url ${url} is refused with -1 before anything is written`, async (t) => {
      const r = await simUpdate({ engine, size: SIZE, mutateOffer: (o) => ({ ...o, url }) });
      t.is(r.errorCode, -1, r.reason);
      t.regex(r.reason, /url must be http/);
      t.is(r.bytesDownloaded, 0);
      t.is(r.bootedVersion, "1.0.0");
    });
  }
  test(`${engine}: an offer with a signature is refused with -1`, async (t) => {
    const r = await simUpdate({ engine, size: SIZE, mutateOffer: (o) => ({ ...o, signature: "c2ln" }) });
    t.is(r.errorCode, -1, r.reason);
    t.regex(r.reason, /signatures are not supported yet/);
  });
}
