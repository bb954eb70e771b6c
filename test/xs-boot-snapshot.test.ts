// Boots from a heap snapshot (host-sim/xs/boot-snapshot.ts, XsEngineOptions.bootFrom): every
// power-on is still a fresh XS machine with the booted scripts and nothing from earlier runs;
// only the services (flash, preferences) carry state, and a different boot gets its own snapshot.

import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { trimHeap } from "../host-sim/xs/boot-snapshot.ts";
import { startXsEngine } from "../host-sim/xs/host.ts";
import { XsWorker, replyText } from "../host-sim/xs/worker.ts";
import { createMemoryServices } from "../host-sim/xs/memory-services.ts";

const BUNDLE = `(function () {
  const M = globalThis.__moddable;
  const Preference = M.require("preference").default;
  globalThis.loadedAt = (globalThis.loadedAt ?? 0) + 1;
  globalThis.main = async () => {
    const seen = globalThis.mark ?? "none";
    globalThis.mark = "set";
    const n = (Preference.get("t", "n") ?? 0) + 1;
    Preference.set("t", "n", n);
    let flash = "absent";
    try { M.require("flash"); flash = "present"; } catch {}
    return [seen, globalThis.loadedAt, n, flash].join(" ");
  };
})();`;

test("snapshot boot: every power-on is a fresh machine with the bundle loaded once; services persist", async (t) => {
  const services = createMemoryServices();
  const e = await startXsEngine({ bundleCode: BUNDLE, services, bootFrom: "snapshot" });
  const seen: unknown[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const r = await e.run();
      t.is(r.outcome, "done");
      seen.push(r.value);
      await e.reboot();
    }
    t.deepEqual(seen, ["none 1 1 present", "none 1 2 present", "none 1 3 present"]);
    t.deepEqual(e.bootMeter, {}, "the last boot started from the snapshot");
  } finally {
    await e.close();
  }
  // another boot configuration (a build without the legacy flash module) is not the same snapshot
  const other = await startXsEngine({ bundleCode: BUNDLE, services, bootFrom: "snapshot", omitModules: ["flash"] });
  try {
    await other.reboot();
    t.is((await other.run()).value, "none 1 4 absent");
  } finally {
    await other.close();
  }
});

test("snapshot boot: the trimmed initial heap is recognised and still grows to what a run needs", async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-trim-")), "boot.xss");
  const first = new XsWorker();
  await first.evaluate(`globalThis.kept = "from the snapshot"`);
  await first.writeSnapshot(file);
  await first.close();
  const before = fs.statSync(file).size;
  t.true(trimHeap(file), "xsnap's snapshot layout is the one boot-snapshot.ts expects");
  t.is(fs.statSync(file).size, before);
  const restored = new XsWorker({ snapshot: file });
  try {
    // 24 MiB live at once: beyond the trimmed 4 MiB initial chunk heap
    const r = await restored.evaluate(`
      const keep = [];
      for (let i = 0; i < 24 * 16; i++) keep.push(new ArrayBuffer(64 * 1024));
      const text = kept + " " + keep.length;
      const out = new ArrayBuffer(text.length);
      const view = new Uint8Array(out);
      for (let i = 0; i < text.length; i++) view[i] = text.charCodeAt(i);
      out`);
    t.is(replyText(r), "from the snapshot 384");
    t.true(r.meter.allocate > 24 * 1024 * 1024);
  } finally {
    await restored.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});
