// A multi-component plan on a simulated board: the app image (A/B slot, trial boot) and an
// "assets" data-partition image, each served by its own local server, applied in plan order
// across the reboot the app needs.

import { Agent } from "../../src/agent/agent.ts";
import { MultiComponentUpdater, type ComponentResult, type MultiOutcome } from "../../src/protocol/multi-component.ts";
import { SimBoard } from "../board.ts";
import { buildTestImage } from "../image-builder.ts";
import { NodeClock } from "../node-clock.ts";
import { nodeHttp } from "../node-http.ts";
import { UpdateServer, digestsOf } from "../server.ts";
import { ESP32_4MB_ASSETS } from "./sim-boards.ts";
import { SIM_STALL_MS } from "../sim-update.ts";

export interface SimMultiOptions {
  /** Plan order (default ["app", "assets"]). */
  order?: ("app" | "assets")[];
  appSize?: number;
  assetsSize?: number;
  /** The assets server flips this byte (the plan keeps the good digests). */
  corruptAssetsByte?: number;
  /** The app server flips this byte. */
  corruptAppByte?: number;
  failSelfTest?: boolean;
  maxBoots?: number;
}

export interface SimMultiReport {
  outcome: MultiOutcome | undefined;
  /** Component results in the order they were recorded. */
  applied: ComponentResult[];
  bootedVersion: string;
  imageState: string;
  boots: number;
  /** SHA-256 of the assets image and of the same number of bytes in the partition. */
  assetsSha256: string;
  partitionSha256: string;
  board: SimBoard;
}

/** Deterministic bytes for a data image. */
export function assetsImage(size: number, seed = 7): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export async function simMultiUpdate(o: SimMultiOptions = {}): Promise<SimMultiReport> {
  const board = SimBoard.create(ESP32_4MB_ASSETS, buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const app = buildTestImage({ version: "2.0.0", size: o.appSize ?? 128 * 1024, build: 1 });
  const assets = assetsImage(o.assetsSize ?? 40 * 1024);
  const appServer = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: app } }, { corruptByte: o.corruptAppByte });
  const assetsServer = new UpdateServer({ version: "1.1.0", build: { id: 1, bytes: assets } }, { corruptByte: o.corruptAssetsByte });
  await appServer.listen();
  await assetsServer.listen();
  const offers = { app: appServer.offer(), assets: { ...assetsServer.offer(), component: "assets" } };
  const plan = { taskId: "multi-1", components: (o.order ?? ["app", "assets"]).map((c) => offers[c]) };
  const applied: ComponentResult[] = [];
  let outcome: MultiOutcome | undefined;
  let bootedVersion = "";
  let imageState = "";
  let boots = 0;
  let started = false;
  let clock = new NodeClock(1);
  try {
    while (boots < (o.maxBoots ?? 10)) {
      boots++;
      clock.stopAll();
      clock = new NodeClock(boots);
      const booted = board.boot();
      const platform = board.platform(nodeHttp, clock);
      const agent = new Agent({
        platform,
        selfTest: () => !(o.failSelfTest && booted.image.appDesc.version === "2.0.0"),
        download: { stallMs: SIM_STALL_MS, backoffMs: 20, backoffMaxMs: 200 },
      });
      const report = await agent.boot();
      bootedVersion = report.version;
      imageState = report.imageState;
      if (board.restartRequested) {
        board.powerCycle();
        continue;
      }
      const updater = new MultiComponentUpdater({ platform, agent, onComponent: (r) => applied.push(r), download: { stallMs: SIM_STALL_MS, backoffMs: 20, backoffMaxMs: 200 } });
      if (!started) {
        started = true;
        outcome = await updater.apply(plan);
      } else {
        outcome = await updater.resume(report);
      }
      if (outcome?.status === "restarting") {
        board.powerCycle();
        continue;
      }
      break;
    }
  } finally {
    clock.stopAll();
    await appServer.close();
    await assetsServer.close();
  }
  const stored = board.partition("assets").read(0, assets.length);
  return {
    outcome, applied, bootedVersion, imageState, boots,
    assetsSha256: digestsOf(assets).sha256, partitionSha256: digestsOf(stored).sha256, board,
  };
}
