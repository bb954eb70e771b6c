// A simulated fleet updates from one server with staged rollout and the seeded fault mix
// (connection drops, clean restarts, power cuts inside flash operations, low battery and low
// signal that the strategy refuses): every board the policy did not refuse ends on the target
// version, read back from its own flash file.

import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runFleetDetailed } from "../host-sim/server/fleet.ts";
import { deviceFaults, FAULT_KINDS } from "../host-sim/server/fleet-faults.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";

const SIZE = 64 * 1024;

test("150 boards with every fault kind: all but the refused ones boot the target from their flash files", async (t) => {
  const data = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-")), "fleet");
  t.teardown(() => fs.rmSync(path.dirname(data), { recursive: true, force: true }));
  const { report: r, devices } = await runFleetDetailed({ devices: 150, faults: "mix", seed: 1, wavePercent: 25, imageSize: SIZE, data });

  // The plan is the seeded draw, device by device; every kind is in it, and so are both kinds of cut.
  const planned = devices.map((_, i) => deviceFaults(i, { mix: "mix", imageSize: SIZE, seed: 1 }));
  const count = (k: string) => planned.filter((f) => f.kinds.includes(k as never)).length;
  for (const k of FAULT_KINDS) t.true(count(k) >= 1, `${k} is injected`);
  t.true(planned.some((f) => f.powerCut?.during === "download") && planned.some((f) => f.powerCut?.during === "boot-flag"));
  t.true(planned.some((f) => f.powerCut?.torn) && planned.some((f) => f.powerCut && !f.powerCut.torn));
  // Every planned fault fired.
  t.deepEqual(r.faults, Object.fromEntries(FAULT_KINDS.map((k) => [k, count(k)])));

  const refused = planned.flatMap((f, i) => (f.kinds.includes("lowBattery") || f.kinds.includes("lowSignal") ? [devices[i].name] : []));
  t.deepEqual(devices.filter((d) => d.state === "rejected").map((d) => d.name), refused, "rejected = the low-battery and low-signal boards");
  t.is(r.rejected, refused.length);
  t.is(r.failed, 0);
  t.is(r.succeeded, 150 - refused.length);
  t.is(r.waves, 4);
  t.true(r.p50Seconds > 0 && r.p50Seconds <= r.p99Seconds);
  t.true(r.peakConcurrent >= 1 && r.peakConcurrent <= 150);
  t.true(r.bytesServed >= r.succeeded * SIZE);
  t.is(r.dataDir, data);

  // Each board's own file: reopened and powered on, it boots the version the fleet ended on.
  t.deepEqual(fs.readdirSync(path.join(data, "flash")).sort(), devices.map((d) => `${d.name}.bin`).sort());
  for (const [i, d] of devices.entries()) {
    t.is(path.dirname(d.flash), path.join(data, "flash"));
    const board = SimBoard.open(profile("esp32-4mb"), d.flash);
    try {
      const boot = board.boot();
      const want = refused.includes(d.name) ? "1.0.0" : "2.0.0";
      t.is(boot.image.appDesc.version, want, `${d.name} (${planned[i].kinds.join(",") || "no fault"}) boots ${want} from its file`);
      t.is(boot.slot, want === "2.0.0" ? "ota_1" : "ota_0");
    } finally {
      board.flash.close();
    }
  }
});

test("without a data folder the flash files live in a temporary folder that is removed, unless kept", async (t) => {
  const kept = await runFleetDetailed({ devices: 4, faults: "none", keep: true, imageSize: 16 * 1024 });
  t.teardown(() => fs.rmSync(kept.report.dataDir!, { recursive: true, force: true }));
  t.is(kept.report.succeeded, 4);
  t.deepEqual(kept.report.faults, { drops: 0, reboots: 0, powerCuts: 0, lowBattery: 0, lowSignal: 0 });
  t.true(kept.devices.every((d) => fs.existsSync(d.flash) && fs.statSync(d.flash).size === 4 * 1024 * 1024));
  const gone = await runFleetDetailed({ devices: 2, faults: "none", imageSize: 16 * 1024 });
  t.is(gone.report.dataDir, undefined);
  t.false(fs.existsSync(path.dirname(path.dirname(gone.devices[0].flash))));
  t.true(fs.existsSync(kept.report.dataDir!));
});

test("a data folder that is not empty is refused before anything runs", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, "old.bin"), "x");
  await t.throwsAsync(runFleetDetailed({ devices: 2, data: dir }), { message: /must be absent or empty/ });
  t.deepEqual(fs.readdirSync(dir), ["old.bin"]);
});

test("a device's faults depend only on the seed and its index; bad input is refused", (t) => {
  const a = deviceFaults(7, { mix: "mix", imageSize: SIZE, seed: 3 });
  t.deepEqual(deviceFaults(7, { mix: "mix", imageSize: SIZE, seed: 3 }), a);
  const many = Array.from({ length: 200 }, (_, i) => deviceFaults(i, { mix: "mix", imageSize: SIZE, seed: 3 }));
  t.true(new Set(many.map((f) => JSON.stringify(f))).size > 50, "devices draw differently");
  t.notDeepEqual(many, Array.from({ length: 200 }, (_, i) => deviceFaults(i, { mix: "mix", imageSize: SIZE, seed: 4 })));
  for (const f of many) {
    for (const b of [...f.dropAt, ...f.restartAt]) t.true(b >= 1 && b < SIZE);
    if (f.kinds.includes("lowBattery") || f.kinds.includes("lowSignal")) t.is(f.kinds.length, 1, "a refused board gets no other fault");
  }
  t.deepEqual(deviceFaults(7, { mix: "none", imageSize: SIZE }), { battery: 90, rssi: -60, dropAt: [], restartAt: [], kinds: [] });
  t.throws(() => deviceFaults(-1, { mix: "mix", imageSize: SIZE }), { message: /index must be a non-negative integer/ });
  t.throws(() => deviceFaults(0, { mix: "some" as never, imageSize: SIZE }), { message: /fault mix must be none or mix/ });
  t.throws(() => deviceFaults(0, { mix: "mix", imageSize: 0 }), { message: /image size must be a positive integer/ });
});
