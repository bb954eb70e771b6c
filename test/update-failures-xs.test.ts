// The failure paths of update() inside the XS engine (issue 9 §2): the same codes as on Node,
// and no Moddable timer left armed when update() has returned (the host's count of armed
// timers at the end of the run). A fresh engine (one XS worker) per case.

import test from "ava";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { digestsOf } from "../host-sim/server.ts";
import { XsBoardEngine } from "../host-sim/xs/sim-engine.ts";
import type { RuntimeArgs, RuntimeResult } from "../host-sim/xs/runtime-protocol.ts";
import type { HttpPort } from "../src/ports.ts";
import { fakeHttp, type Behaviour } from "./helpers/fake-http.ts";

const SIZE = 64 * 1024;
const image = buildTestImage({ version: "2.0.0", size: SIZE });
const offer = (over: Record<string, unknown> = {}) => ({ component: "app", version: "2.0.0", url: "http://127.0.0.1:8080/a.bin", size: SIZE, ...digestsOf(image), ...over });

const cases: [string, Behaviour, Record<string, unknown>, -1 | -2 | -3, RegExp][] = [
  ["a port out of range", { kind: "good" }, { url: "http://127.0.0.1:99999/x" }, -1, /port must be 1\.\.65535/],
  ["an IPv6 host without its bracket", { kind: "good" }, { url: "http://[::1/x" }, -1, /no closing bracket/],
  ["a signature", { kind: "good" }, { signature: "c2ln" }, -1, /signatures are not supported yet/],
  ["a network that throws", { kind: "throw", message: "no route" }, {}, -2, /./],
  ["404", { kind: "status", status: 404 }, {}, -2, /HTTP 404/],
  ["a flapping server", { kind: "flap" }, {}, -2, /attempts without progress/],
  ["a silent server", { kind: "silent" }, {}, -2, /stalled/],
  ["a digest mismatch", { kind: "good" }, { sha256: "ab".repeat(32) }, -3, /sha256/i],
];

test("xs: every failure path gives its code and leaves no timer armed", async (t) => {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE }));
  let behaviour: Behaviour = { kind: "good" };
  const network: HttpPort = { request: (req, h) => fakeHttp(image, new NodeClock(), behaviour).request(req, h) };
  for (const [what, b, over, code, reason] of cases) {
    behaviour = b;
    const engine = await XsBoardEngine.start(board, { network });
    try {
      const boot = board.boot();
      const args: RuntimeArgs = {
        layout: board.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
        runningSlot: boot.slot,
        offer: offer(over),
        download: { stallMs: 200, backoffMs: 10, backoffMaxMs: 40, maxFailures: 4 },
      };
      const r = await engine.powerOn(args);
      t.is(r.outcome, "done", `${what}: ${JSON.stringify(r.error ?? r.reason)}`);
      const u = (r.value as RuntimeResult).update!;
      t.is(u.errorCode, code, `${what}: ${u.reason}`);
      t.regex(u.reason, reason, what);
      t.is(r.stats.pendingTimers, 0, `${what}: no timer armed after update()`);
    } finally {
      await engine.close();
    }
    board.powerCycle();
  }
});
