// Posted requests of the XS bridge (host-sim/xs/protocol.ts, shims/core.js post()): timer
// set/clear and digest input travel with the next request or at the end of the XS turn. The host
// must see every request in program order, at the same point of the run as if each had been sent
// alone: a power cut in a flash call still stops XS inside that call, with everything posted
// before it handled and nothing posted after it.

import test from "ava";
import { startXsEngine } from "../host-sim/xs/host.ts";
import { createMemoryServices } from "../host-sim/xs/memory-services.ts";
import { nodeDigests } from "../host-sim/xs/host.ts";
import { XsHaltError, type XsDigestService } from "../host-sim/xs/services.ts";

function bundle(body: string): string {
  return `(function () {
  "use strict";
  const M = globalThis.__moddable;
  const Flash = M.require("embedded:storage/flash").default;
  const { Digest } = M.require("crypt");
  const Timer = M.require("timer").default;
  globalThis.main = async function (args) {
${body}
  };
})();`;
}

/** Services whose flash writes and digest input are logged in one sequence. */
function loggedServices(haltAtWrite?: number) {
  const services = createMemoryServices();
  const seen: string[] = [];
  const storage = services.flash.partition("storage");
  const write = storage.write.bind(storage);
  let writes = 0;
  storage.write = (offset, data) => {
    seen.push(`write ${data[0]}`);
    if (++writes === haltAtWrite) throw new XsHaltError(`power cut during write ${writes}`);
    write(offset, data);
  };
  const digest: XsDigestService = {
    create(name) {
      const d = nodeDigests.create(name);
      return {
        update(data) {
          seen.push(`digest ${data[0]}`);
          d.update(data);
        },
        finish: (more) => d.finish(more),
      };
    },
  };
  return { services: { ...services, digest }, seen, storage };
}

const INTERLEAVED = `
    const f = Flash.open({ path: "storage" });
    f.eraseBlock(0);
    const d = new Digest("SHA256");
    for (let i = 0; i < 4; i++) {
      d.write(new Uint8Array([10 + i]));
      f.write(new Uint8Array([i]), i);
      d.write(new Uint8Array([20 + i]));
    }
    return "done";
`;

test("posted: the host sees digest input and flash writes in program order", async (t) => {
  const { services, seen } = loggedServices();
  const e = await startXsEngine({ bundleCode: bundle(INTERLEAVED), services });
  try {
    const r = await e.run();
    t.is(r.outcome, "done");
    const expected = [0, 1, 2, 3].flatMap((i) => [`digest ${10 + i}`, `write ${i}`, `digest ${20 + i}`]);
    t.deepEqual(seen, expected);
    t.true(r.stats.posted >= 8, `${r.stats.posted} posted`);
  } finally {
    await e.close();
  }
});

test("posted: a power cut in a flash call stops XS there; nothing posted after it reaches the host", async (t) => {
  const { services, seen, storage } = loggedServices(3);
  const e = await startXsEngine({ bundleCode: bundle(INTERLEAVED), services });
  try {
    const r = await e.run();
    t.is(r.outcome, "halted");
    t.is(r.reason, "power cut during write 3");
    t.deepEqual(seen, ["digest 10", "write 0", "digest 20", "digest 11", "write 1", "digest 21", "digest 12", "write 2"]);
    t.deepEqual(Array.from(storage.bytes.subarray(0, 4)), [0, 1, 0xff, 0xff]);
  } finally {
    await e.close();
  }
});

test("posted: timers set at the end of a turn are known to the host before it picks the next event", async (t) => {
  const services = createMemoryServices();
  const e = await startXsEngine({
    bundleCode: bundle(`
    const order = [];
    await new Promise((resolve) => {
      Timer.set(() => order.push("b"), 20);
      const a = Timer.set(() => order.push("never"), 10);
      Timer.set(() => order.push("a"), 5);
      Timer.clear(a);
      Timer.set(resolve, 30);
    });
    return order.join(",");
  `),
    services,
  });
  try {
    const r = await e.run();
    t.is(r.outcome, "done");
    t.is(r.value, "a,b");
    t.is(r.stats.clockMs, 30);
  } finally {
    await e.close();
  }
});

test("posted: a posted request the host cannot carry out ends the run with a clear error", async (t) => {
  const services = createMemoryServices();
  const failing: XsDigestService = {
    create: () => ({
      update() {
        throw new Error("digest engine on fire");
      },
      finish: () => new Uint8Array(32),
    }),
  };
  const e = await startXsEngine({
    bundleCode: bundle(`
    const d = new Digest("SHA256");
    d.write(new Uint8Array([1]));
    return "went on";
  `),
    services: { ...services, digest: failing },
  });
  try {
    const r = await e.run();
    t.is(r.outcome, "error");
    t.regex(r.error?.message ?? "", /posted request 41 failed: digest engine on fire/);
  } finally {
    await e.close();
  }
});
