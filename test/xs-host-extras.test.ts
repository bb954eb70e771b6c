// XsEngine additions used by engine "xs" of sim update and by bench/xs.ts:
// haltAfterQueued() (a power loss decided outside a request), powerOff() (sim fleet stops a board
// that runs on the real clock) and the live-heap measurement.

import test from "ava";
import { startXsEngine } from "../host-sim/xs/host.ts";
import { createMemoryServices } from "../host-sim/xs/memory-services.ts";
import type { XsServices } from "../host-sim/xs/services.ts";

const TICKS = `(function () {
  const Timer = globalThis.__moddable.require("timer").default;
  globalThis.main = () => new Promise(() => {
    let n = 0;
    Timer.repeat(() => trace("tick " + ++n + "\\n"), 10);
  });
})();`;

test("haltAfterQueued ends the run halted after the queued events; the next boot runs again", async (t) => {
  const seen: string[] = [];
  let e: Awaited<ReturnType<typeof startXsEngine>> | undefined = undefined;
  e = await startXsEngine({
    bundleCode: TICKS,
    services: createMemoryServices(),
    onTrace: (text) => {
      seen.push(text.trim());
      if (text.startsWith("tick 3")) e!.haltAfterQueued("power lost");
    },
  });
  const r = await e.run();
  t.is(r.outcome, "halted");
  t.is(r.reason, "power lost");
  t.deepEqual(seen, ["tick 1", "tick 2", "tick 3"]);
  seen.length = 0;
  await e.reboot();
  const again = await e.run();
  t.is(again.outcome, "halted");
  t.deepEqual(seen, ["tick 1", "tick 2", "tick 3"]);
  await e.close();
});

test("powerOff ends a real-clock run that never settles, drops what is queued, and a call between runs ends the next one at once", async (t) => {
  const seen: string[] = [];
  const e = await startXsEngine({
    bundleCode: TICKS,
    services: createMemoryServices(),
    clock: "real",
    onTrace: (text) => {
      seen.push(text.trim());
      if (text.startsWith("tick 2")) e.powerOff("stopped");
    },
  });
  const t0 = performance.now();
  const r = await e.run();
  t.is(r.outcome, "halted");
  t.is(r.reason, "stopped");
  t.deepEqual(seen, ["tick 1", "tick 2"]);
  // Real clock: two 10 ms periods passed in wall time.
  t.true(performance.now() - t0 >= 15, `${performance.now() - t0} ms`);
  await e.reboot();
  e.powerOff("stopped again");
  seen.length = 0;
  const next = await e.run();
  t.is(next.outcome, "halted");
  t.is(next.reason, "stopped again");
  t.deepEqual(seen, []);
  await e.reboot();
  const third = await e.run();
  // The power-off between runs was used up by the run it ended: this one ticks until tick 2.
  t.is(third.reason, "stopped");
  t.deepEqual(seen, ["tick 1", "tick 2"]);
  await e.close();
});

const HEAP = `(function () {
  const Timer = globalThis.__moddable.require("timer").default;
  const sleep = (ms) => new Promise((resolve) => Timer.set(resolve, ms));
  globalThis.main = async () => {
    const kept = [];
    for (let step = 0; step < 3; step++) {
      for (let i = 0; i < 1000; i++) kept.push({ i });
      for (let i = 0; i < 5000; i++) void { garbage: i };
      await sleep(1);
    }
    kept.length = 0;
    return "ok";
  };
})();`;

test("liveHeap: the largest live heap counts what is kept, not the garbage; liveHeapCount() collects", async (t) => {
  const e = await startXsEngine({ bundleCode: HEAP, services: createMemoryServices(), liveHeap: true });
  const idle = await e.liveHeapCount();
  t.true(Math.abs((await e.liveHeapCount()) - idle) <= 1, "a collection keeps nothing of its own");
  const r = await e.run();
  t.is(r.outcome, "done");
  const kept = r.stats.maxLiveHeapCount - idle;
  t.true(kept >= 3000 && kept < 3000 + 5000, `live peak ${kept} slots above idle`);
  t.true((await e.liveHeapCount()) - idle < 200, "released after the run");
  await e.close();
});

test("whenDelivered calls back once XS has read every chunk handed over (flow control)", async (t) => {
  const events: string[] = [];
  const services: XsServices = { ...createMemoryServices() };
  services.http = {
    request(_req, sink) {
      sink.status(200, [["content-length", "3000"]]);
      for (let i = 0; i < 3; i++) sink.data(new Uint8Array(1000));
      sink.whenDelivered(() => {
        events.push("delivered");
        sink.end();
      });
      events.push("handed over");
      return { abort() {} };
    },
  };
  const bundle = `(function () {
    const { Request } = globalThis.__moddable.require("http");
    globalThis.main = () => new Promise((resolve) => {
      let n = 0;
      const r = new Request({ host: "h", path: "/" });
      r.callback = function (m) {
        if (m === 4) { n += this.read(ArrayBuffer).byteLength; trace("read " + n + "\\n"); }
        if (m === 5 || m < 0) resolve(n);
      };
    });
  })();`;
  const e = await startXsEngine({ bundleCode: bundle, services, onTrace: (text) => events.push(text.trim()), httpFragmentSize: 1000 });
  const r = await e.run();
  t.is(r.outcome, "done");
  t.is(r.value, 3000);
  t.deepEqual(events, ["handed over", "read 1000", "read 2000", "read 3000", "delivered"]);
  await e.close();
});
