// The agent reaches the bootloader only through AgentOptions.target (src/targets/boot-target.ts):
// a target that records the calls it gets (delegating to the ESP-IDF target) sees the whole
// update and the trial boot, in the order the interface documents; and src/agent/ holds no
// ESP-IDF format or boot-control code.

import test from "ava";
import * as fs from "node:fs";
import { Agent } from "../src/agent/agent.ts";
import type { BootTarget } from "../src/targets/boot-target.ts";
import { EspIdfTarget } from "../src/targets/esp-idf/esp-idf-target.ts";
import type { Platform } from "../src/ports.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { nodeRig } from "./helpers/node-rig.ts";

const WRITES = ["releaseSlot", "stage", "confirm", "markInvalid"] as const;
const CHECKS = ["checkHead", "checkImage"] as const;

/** An EspIdfTarget whose state-changing calls and checks are recorded in `calls`. */
function recording(platform: Platform, calls: string[]): BootTarget {
  const inner = new EspIdfTarget({ partitions: platform.partitions, digests: platform.digests, chip: platform.chip });
  const target = Object.create(inner) as BootTarget;
  for (const name of [...WRITES, ...CHECKS]) {
    const method = (inner[name] as (...a: unknown[]) => unknown).bind(inner);
    Object.defineProperty(target, name, {
      value: (...args: unknown[]) => {
        calls.push(typeof args[0] === "string" ? `${name} ${args[0]}` : name);
        return method(...args);
      },
    });
  }
  return target;
}

test("the agent updates, stages and confirms through the BootTarget it is given", async (t) => {
  const { board, server, clock } = await nodeRig(t, buildTestImage({ version: "2.0.0", size: 64 * 1024 }));
  const calls: string[] = [];
  const run = async () => {
    board.boot();
    const platform = board.platform(nodeHttp, clock);
    const agent = new Agent({ platform, target: recording(platform, calls) });
    return { agent, report: await agent.boot() };
  };
  const first = await run();
  t.is(first.report.imageState, "valid");
  const result = await first.agent.update(server.offer());
  t.true(result.ok, result.reason);
  t.deepEqual(calls, ["releaseSlot ota_1", "checkHead", "checkImage", "stage ota_1"]);
  calls.length = 0;
  const second = await run();
  t.like(second.report, { version: "2.0.0", slot: "ota_1", imageState: "valid" });
  t.deepEqual(calls, ["confirm"]);
});

test("src/agent/ imports no ESP-IDF format or boot control, only the default target", (t) => {
  const dir = new URL("../src/agent/", import.meta.url);
  for (const file of fs.readdirSync(dir)) {
    const source = fs.readFileSync(new URL(file, dir), "utf8");
    const imports = [...source.matchAll(/from "([^"]+)"/g)].map((m) => m[1]).filter((p) => p.includes("targets/"));
    // The BootTarget interface is target-neutral (the agent's helper modules use it too); only
    // agent.ts names the default ESP-IDF target.
    const allowed = file === "agent.ts" ? ["../targets/boot-target.ts", "../targets/esp-idf/esp-idf-target.ts"] : ["../targets/boot-target.ts"];
    t.deepEqual(imports.filter((p) => !allowed.includes(p)), [], file);
    t.notRegex(source, /EspBootControl|OtaState|checkEspImage|AppDesc|OTA_SUBTYPE/, file);
  }
});

test("a target that settles at boot (dual bank) makes boot() restart before anything else", async (t) => {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  t.teardown(() => board.flash.close());
  board.boot();
  const platform = board.platform(nodeHttp, new NodeClock(1));
  const calls: string[] = [];
  const target = recording(platform, calls);
  let settles = 0;
  target.settleAtBoot = () => ++settles === 1;
  const agent = new Agent({ platform, target });
  t.like(await agent.boot(), { version: "1.0.0", slot: "ota_0" });
  t.true(board.restartRequested);
  board.restartRequested = false;
  t.like(await agent.boot(), { version: "1.0.0", slot: "ota_0", imageState: "valid" });
  t.false(board.restartRequested);
  t.is(settles, 2);
  t.deepEqual(calls, []);
});
