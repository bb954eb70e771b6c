// Multi-component plans and local upgrades on simulated boards.

import test from "ava";
import { simLocalUpgrade } from "../host-sim/cloud/sim-local.ts";
import { simMultiUpdate } from "../host-sim/cloud/sim-multi.ts";
import { OtaError } from "../src/errors.ts";
import type { LocalSession } from "../src/agent/agent.ts";
import { LocalUpgrade, type LocalAgent } from "../src/protocol/local-upgrade.ts";
import { MultiComponentUpdater, parseMultiPlan } from "../src/protocol/multi-component.ts";
import { SimBoard } from "../host-sim/board.ts";
import { ESP32_4MB_ASSETS } from "../host-sim/cloud/sim-boards.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { nodeHttp } from "../host-sim/node-http.ts";

const MD5 = "0f9d2ca2dc64fb29780bc071ea0363b2";
const CRC = "6aa5642f";
const SHA = "b8117665ed681444af913a2209a08d1f9b82ddc6b0f9a75c36c73f077731d4e6";
const offer = (component: string) => ({ component, version: "1.1.0", url: "http://h/x.bin", size: 100, md5: MD5, crc32: CRC, sha256: SHA });

test("a multi-component plan applies the app and then the data partition, in plan order, across the reboot", async (t) => {
  const r = await simMultiUpdate({ order: ["app", "assets"] });
  t.is(r.outcome?.status, "done");
  t.deepEqual(r.applied.map((c) => [c.component, c.version, c.ok]), [["app", "2.0.0", true], ["assets", "1.1.0", true]]);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.imageState, "valid");
  t.is(r.partitionSha256, r.assetsSha256);
  t.is(r.boots, 2);
  t.is(r.board.kvStore.get("ota.multi"), undefined, "the plan state is gone once done");
});

test("the other order: data partition first, then the app", async (t) => {
  const r = await simMultiUpdate({ order: ["assets", "app"] });
  t.is(r.outcome?.status, "done");
  t.deepEqual(r.applied.map((c) => c.component), ["assets", "app"]);
  t.is(r.bootedVersion, "2.0.0");
  t.is(r.partitionSha256, r.assetsSha256);
});

test("a failure stops the plan and leaves the components already confirmed intact", async (t) => {
  const r = await simMultiUpdate({ order: ["assets", "app"], corruptAppByte: 5000 });
  t.is(r.outcome?.status, "failed");
  t.deepEqual(r.applied.map((c) => [c.component, c.errorCode]), [["assets", 0], ["app", -3]]);
  t.is(r.bootedVersion, "1.0.0");
  t.is(r.partitionSha256, r.assetsSha256, "assets kept the image it confirmed");
});

test("a data component that fails verification is reported with -3 and stops the plan before the app", async (t) => {
  const r = await simMultiUpdate({ order: ["assets", "app"], corruptAssetsByte: 10 });
  t.is(r.outcome?.status, "failed");
  t.deepEqual(r.applied.map((c) => [c.component, c.errorCode]), [["assets", -3]]);
  t.regex(r.applied[0].reason, /mismatch/);
  t.is(r.bootedVersion, "1.0.0", "the app was never touched");
});

test("an app that fails its trial boot is reported after the rollback; the plan stops there", async (t) => {
  const r = await simMultiUpdate({ order: ["app", "assets"], failSelfTest: true });
  t.is(r.outcome?.status, "failed");
  t.deepEqual(r.applied.map((c) => [c.component, c.errorCode]), [["app", -1]]);
  t.regex(r.applied[0].reason, /self-test/);
  t.is(r.bootedVersion, "1.0.0");
  t.not(r.partitionSha256, r.assetsSha256, "assets was not written");
});

test("capacity(): a data partition's size, none for partitions that take no data images", (t) => {
  const board = SimBoard.create(ESP32_4MB_ASSETS, buildTestImage({ version: "1.0.0", size: 16 * 1024 }));
  const clock = new NodeClock(1);
  const updater = new MultiComponentUpdater({ platform: board.platform(nodeHttp, clock), agent: { update: async () => t.fail() as never, runningVersion: () => "1.0.0" } });
  t.is(updater.capacity("assets"), 0x20000);
  for (const label of ["nvs", "otadata", "phy_init", "ota_1", "otajournal", "fonts"]) t.is(updater.capacity(label), undefined, label);
  clock.stopAll();
});

test("plans: 1..5 distinct components, each a valid offer", (t) => {
  t.is(parseMultiPlan({ components: ["app", "a", "b", "c", "d"].map(offer) }).components.length, 5);
  const bad: [unknown, RegExp][] = [
    [{ components: [] }, /1\.\.5 components, not 0/],
    [{ components: ["app", "a", "b", "c", "d", "e"].map(offer) }, /not 6/],
    [{ components: [offer("app"), offer("app")] }, /appears twice/],
    [{ components: [{ ...offer("a"), url: "ftp://x" }] }, /url must be http/],
    [{ components: [{ ...offer("a"), size: -1 }] }, /out of range/],
    [{ components: [{ ...offer("a/b") }] }, /characters outside/],
    [{ components: "app" }, /must be an array/],
    [[], /plan must be an object/],
  ];
  for (const [input, reason] of bad) {
    const e = t.throws(() => parseMultiPlan(input), { instanceOf: OtaError });
    t.regex(e!.reason, reason);
  }
});

test("local upgrade end to end: chunks in, flush, verify, reboot into 2.0.0 confirmed", async (t) => {
  const r = await simLocalUpgrade({ chunk: 997 });
  t.deepEqual([r.write, r.flush, r.verify], [0, 0, 0]);
  t.is(r.error, undefined);
  t.is(r.after.version, "2.0.0");
  t.is(r.after.slot, "ota_1");
  t.is(r.after.imageState, "valid");
  t.like(r.after.lastUpdate, { ok: true, errorCode: 0, fromVersion: "1.0.0", toVersion: "2.0.0" });
});

test("local upgrade: a corrupted byte fails verify() with -3 and the board stays on 1.0.0", async (t) => {
  const r = await simLocalUpgrade({ corruptByte: 4000 });
  t.deepEqual([r.write, r.flush, r.verify], [0, 0, -1]);
  t.is(r.error?.code, -3);
  t.regex(r.error!.reason, /mismatch/);
  t.is(r.after.version, "1.0.0");
  t.is(r.after.lastUpdate, undefined);
});

test("local upgrade: refusals and misuse are errors that change nothing", async (t) => {
  const notNewer = await simLocalUpgrade({ image: (g) => ({ ...g, version: "1.0.0" }) });
  t.is(notNewer.write, -1);
  t.regex(notNewer.error!.reason, /not newer/);
  t.is(notNewer.after.version, "1.0.0");
  const noDigest = await simLocalUpgrade({ image: (g) => ({ ...g, crc32: undefined as unknown as string }) });
  t.is(noDigest.write, -1);
  t.regex(noDigest.error!.reason, /missing digest crc32/);
  const badVersion = await simLocalUpgrade({ image: (g) => ({ ...g, version: "two" }) });
  t.is(badVersion.error?.code, -1);
  t.regex(badVersion.error!.reason, /not a SemVer 2.0 version/);
  const badName = await simLocalUpgrade({ image: (g) => ({ ...g, name: "http://evil" }) });
  t.regex(badName.error!.reason, /local offer's url/);
  const cancelled = await simLocalUpgrade({ cancelAt: 50_000 });
  t.is(cancelled.write, 0);
  t.is(cancelled.after.version, "1.0.0");
  t.is(cancelled.after.lastUpdate, undefined);
});

test("LocalUpgrade follows fota's call order: totalSize fixed, flush only when complete, verify after flush", (t) => {
  const written: number[] = [];
  let cancelled = 0;
  const agent: LocalAgent = {
    beginLocal: (input) => {
      const o = input as { size: number; url: string };
      t.is(o.url, "local:");
      let position = 0;
      return {
        offer: input as LocalSession["offer"],
        get position() {
          return position;
        },
        write: (c) => void (written.push(c.length), (position += c.length)),
        finish: () => ({ ok: true, errorCode: 0, reason: "staged", component: "app", fromVersion: "1.0.0", toVersion: "2.0.0" }),
        cancel: () => void cancelled++,
      };
    },
  };
  const image = { version: "2.0.0", md5: MD5, crc32: CRC, sha256: SHA };
  const a = new LocalUpgrade(agent, image);
  t.is(a.write(new Uint8Array(10), 30), 0);
  t.is(a.flush(), -1);
  t.is(a.error?.code, -3);
  t.regex(a.error!.reason, /flush after 10 of 30 bytes/);
  t.is(a.write(new Uint8Array(20), 30), -1, "nothing more after an error");
  t.is(cancelled, 1);
  const b = new LocalUpgrade(agent, image);
  b.write(new Uint8Array(10), 30);
  t.is(b.write(new Uint8Array(10), 31), -1);
  t.regex(b.error!.reason, /totalSize changed from 30 to 31/);
  const c = new LocalUpgrade(agent, image);
  t.is(c.verify(), -1);
  t.regex(c.error!.reason, /verify before flush/);
  const d = new LocalUpgrade(agent, image);
  t.is(d.write(new Uint8Array(30), 30), 0);
  t.is(d.flush(), 0);
  t.is(d.write(new Uint8Array(1), 30), -1);
  t.regex(d.error!.reason, /write after flush/);
  const e = new LocalUpgrade(agent, image);
  e.write(new Uint8Array(30), 30);
  e.flush();
  t.is(e.verify(), 0);
  t.true(e.result?.ok);
});
