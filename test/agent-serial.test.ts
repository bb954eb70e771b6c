// One update at a time: a second update() or beginLocal() while one runs is refused with -1
// "an update is already running", the first one's outcome is unaffected, and the guard is
// released on every way out (result, throw, a local session's finish, cancel or failure).
import test from "ava";
import { Agent, ALREADY_RUNNING } from "../src/agent/agent.ts";
import { OtaError } from "../src/errors.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { digestsOf } from "../host-sim/server.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import type { Platform } from "../src/ports.ts";
import { nodeRig } from "./helpers/node-rig.ts";

const SIZE = 64 * 1024;

async function setup(t: import("ava").ExecutionContext, patch: (p: Platform) => Platform = (p) => p) {
  const image = buildTestImage({ version: "2.0.0", size: SIZE, build: 1 });
  const { board, server, clock } = await nodeRig(t, image);
  board.boot();
  const agent = new Agent({ platform: patch(board.platform(nodeHttp, clock)), download: { stallMs: 5000, backoffMs: 20 } });
  await agent.boot();
  const local = { version: "2.0.0", size: SIZE, ...digestsOf(image) };
  return { board, image, server, agent, local, offer: server.offer() };
}

/** Whatever beginLocal does, except refusing because another update runs. */
function notRefusedAsRunning(t: import("ava").ExecutionContext, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    t.not((e as OtaError).reason, ALREADY_RUNNING);
  }
}

test("update() while update() runs is refused with -1; the first one stages its image", async (t) => {
  const { agent, offer, board } = await setup(t);
  const first = agent.update(offer);
  const second = await agent.update(offer);
  t.false(second.ok);
  t.is(second.errorCode, -1);
  t.is(second.reason, ALREADY_RUNNING);
  const r = await first;
  t.true(r.ok, r.reason);
  t.true(board.restartRequested);
  t.is(agent.journalState().phase, "staged");
  const third = await agent.update(offer);
  t.not(third.reason, ALREADY_RUNNING, "released after the first one ended");
});

test("beginLocal() while update() runs throws -1; the first one stages its image", async (t) => {
  const { agent, offer, local } = await setup(t);
  const first = agent.update(offer);
  const e = t.throws(() => agent.beginLocal(local));
  t.true(e instanceof OtaError);
  t.is((e as OtaError).code, -1);
  t.is((e as OtaError).reason, ALREADY_RUNNING);
  const r = await first;
  t.true(r.ok, r.reason);
  t.is(agent.journalState().phase, "staged");
});

test("update() and beginLocal() while a local session is open are refused; the session finishes", async (t) => {
  const { agent, offer, local, image } = await setup(t);
  const session = agent.beginLocal(local);
  session.write(image.subarray(0, 10_000));
  const r = await agent.update(offer);
  t.is(r.errorCode, -1);
  t.is(r.reason, ALREADY_RUNNING);
  t.throws(() => agent.beginLocal(local), { message: /an update is already running/ });
  session.write(image.subarray(10_000));
  const done = session.finish();
  t.true(done.ok, done.reason);
  t.is(agent.journalState().phase, "staged");
  notRefusedAsRunning(t, () => agent.beginLocal(local));
});

test("a cancelled or failed local session releases the guard", async (t) => {
  const { agent, local, image } = await setup(t);
  agent.beginLocal(local).cancel();
  const s2 = agent.beginLocal(local);
  t.throws(() => s2.write(new Uint8Array(SIZE + 1)), { message: /more than the offer/ });
  const s3 = agent.beginLocal(local);
  const bad = image.slice();
  bad[5000] ^= 1;
  s3.write(bad);
  const r = s3.finish();
  t.is(r.errorCode, -3);
  const s4 = agent.beginLocal(local);
  s4.write(image);
  t.true(s4.finish().ok);
});

test("a refused beginLocal() or update() and a throw inside update() release the guard", async (t) => {
  let restarts = 0;
  const { agent, offer, local } = await setup(t, (p) => ({
    ...p,
    system: {
      ...p.system,
      restart: () => {
        restarts++;
        throw new Error("reset line stuck");
      },
    },
  }));
  t.throws(() => agent.beginLocal({ ...local, size: -1 }), { message: /size/ });
  const refused = await agent.update({ ...offer, version: "2.0" });
  t.is(refused.errorCode, -1);
  const r = await agent.update(offer);
  t.is(restarts, 1);
  t.false(r.ok);
  t.regex(r.reason, /reset line stuck/);
  notRefusedAsRunning(t, () => agent.beginLocal(local).cancel());
});
