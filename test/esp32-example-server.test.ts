// examples/esp32's update logic (examples/esp32/ota.ts, which main.ts runs with the Moddable
// platform) on a simulated ESP32 (SimBoard, node engine) against the real `xs-ota server` on
// loopback: it polls the HTTP manifest dialect with its running version, reports progress, is
// restarted into the new image, confirms it, and the server judges the plan a success from the
// version the device polls with after the reboot. "xs-ota" resolves to the bundle's portable
// part (src/platform/moddable/api.ts), as the example's own bundle import would.

import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { ESP32_4MB_ASSETS } from "../host-sim/cloud/sim-boards.ts";
import { assetsImage } from "../host-sim/cloud/sim-multi.ts";
import { digestsOf } from "../host-sim/server.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NodeClock } from "../host-sim/node-clock.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import type { OtaServer } from "../host-sim/server/service.ts";
import type { BootReport } from "../src/agent/types.ts";
import type { Platform } from "../src/ports.ts";
import type { HttpDevice } from "../src/protocol/http-device.ts";
import { call, startServer, until, uploadImage } from "./helpers/ota-server.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** examples/esp32/ota.ts's exports, described here: the root tsconfig does not resolve "xs-ota",
 * so the test must not follow the example's imports (its own tsconfig checks it). */
interface OtaConfig {
  serverUrl?: string;
  product: string;
  device: string;
  pollSeconds: number;
}
interface OtaModule {
  otaConfig(config: { readonly [key: string]: unknown }): OtaConfig;
  runOta(platform: Platform, config: OtaConfig, hooks: { selfTest?: () => Promise<boolean>; print: (line: string) => void }): Promise<{ report: BootReport; device: HttpDevice | undefined }>;
}
let exampleModule: Promise<OtaModule> | undefined;
/** examples/esp32/ota.ts bundled with esbuild, "xs-ota" mapped to the library's portable API. */
function loadExample(): Promise<OtaModule> {
  exampleModule ??= (async () => {
    const { build } = await import("esbuild");
    const out = path.join(mkdtempSync(path.join(tmpdir(), "xs-ota-example-")), "ota.mjs");
    await build({
      entryPoints: [path.join(root, "examples/esp32/ota.ts")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "neutral",
      logLevel: "silent",
      alias: { "xs-ota": path.join(root, "src/platform/moddable/api.ts") },
    });
    return (await import(pathToFileURL(out).href)) as OtaModule;
  })();
  return exampleModule;
}

/** One power-on of the board running the example's logic (until off()). */
async function powerOn(board: SimBoard, server: OtaServer, lines: string[], selfTest?: () => Promise<boolean>) {
  const { otaConfig, runOta } = await loadExample();
  board.boot();
  const clock = new NodeClock(board.running.length);
  const config = otaConfig({ serverUrl: server.base, product: "pk1", device: "esp32-1", pollSeconds: "0.05" });
  const app = await runOta(board.platform(nodeHttp, clock), config, { selfTest, print: (l) => lines.push(l) });
  return {
    app,
    async off() {
      app.device?.stop();
      await app.device?.idle();
      clock.stopAll();
      board.powerCycle();
    },
  };
}

/** The first power-on: the example downloads and stages what the server offers, and restarts. */
async function firstPowerOn(b: SimBoard, server: OtaServer, lines: string[]) {
  const first = await powerOn(b, server, lines);
  await until(() => b.restartRequested, 30_000, "the example to stage the update and restart");
  await first.off();
  return first;
}

async function planWithImage(server: OtaServer): Promise<number> {
  const pkg = await uploadImage(server, "pk1", "2.0.0", 48 * 1024);
  if (pkg.status !== 201) throw new Error(JSON.stringify(pkg.json));
  const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.json.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
  if (plan.status !== 201) throw new Error(JSON.stringify(plan.json));
  const activated = await call(server, "POST", `/api/plans/${plan.json.id}/activate`);
  if (activated.status !== 200) throw new Error(JSON.stringify(activated.json));
  return plan.json.id as number;
}

const board = () => SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 16 * 1024 }));

test("the ESP32 example updates from xs-ota server over HTTP and the server judges it a success after the reboot", async (t) => {
  const server = await startServer();
  const lines: string[] = [];
  try {
    const planId = await planWithImage(server);
    const b = board();
    const first = await firstPowerOn(b, server, lines);
    t.is(first.app.report.version, "1.0.0");
    let dev = (await call(server, "GET", "/api/devices/pk1/esp32-1")).json;
    t.is(dev.dialect, "http");
    t.is(dev.version, "1.0.0", "the server has not seen the new version yet");
    t.is(dev.plans[0].state, "updating", "staged (step 99) is not success: the server waits for the reboot");
    const kinds = dev.events.map((e: { kind: string }) => e.kind);
    t.true(kinds.includes("progress") && kinds.includes("updating"), `download progress and the staged step were reported: ${kinds}`);

    const second = await powerOn(b, server, lines);
    t.is(second.app.report.version, "2.0.0");
    t.is(second.app.report.imageState, "valid", "the trial boot was confirmed");
    await until(async () => (await call(server, "GET", `/api/plans/${planId}`)).json.counts.success === 1, 10_000, "the plan's success");
    await second.off();
    dev = (await call(server, "GET", "/api/devices/pk1/esp32-1")).json;
    t.is(dev.version, "2.0.0");
    t.is(dev.plans[0].state, "success");
    t.true(lines.some((l) => l.includes("last update 1.0.0 -> 2.0.0: ok")), lines.join("\n"));
  } finally {
    await server.close();
  }
});

test("a new image that fails the example's self-test is rolled back, and the server records the failure with its code", async (t) => {
  const server = await startServer();
  const lines: string[] = [];
  try {
    const planId = await planWithImage(server);
    const b = board();
    await firstPowerOn(b, server, lines);
    const trial = await powerOn(b, server, lines, async () => false);
    t.is(trial.app.report.imageState, "invalid");
    t.true(b.restartRequested, "the failed trial image restarts at once");
    t.is(trial.app.device, undefined, "and polls nothing with its version");
    await trial.off();
    t.not((await call(server, "GET", "/api/devices/pk1/esp32-1")).json.version, "2.0.0", "the server never saw 2.0.0");
    const second = await powerOn(b, server, lines);
    t.is(second.app.report.version, "1.0.0", "rolled back to the old image");
    const last = second.app.report.lastUpdate;
    t.false(last?.ok);
    await until(async () => (await call(server, "GET", `/api/plans/${planId}`)).json.counts.failed === 1, 10_000, "the plan's failure");
    await second.off();
    const dev = (await call(server, "GET", "/api/devices/pk1/esp32-1")).json;
    t.is(dev.version, "1.0.0");
    t.is(dev.plans[0].state, "failed");
    t.is(dev.plans[0].error_code, last?.errorCode, JSON.stringify(dev.plans[0]));
    t.is(dev.plans[0].reason, last?.reason);
  } finally {
    await server.close();
  }
});

test("the example's config: strings from mcconfig's command line, defaults, and a clear error for a bad poll period", async (t) => {
  const { otaConfig } = await loadExample();
  t.deepEqual(otaConfig({ serverUrl: "http://192.168.1.10:8383", pollSeconds: "60" }), { serverUrl: "http://192.168.1.10:8383", product: "pk1", device: "esp32-1", pollSeconds: 60 });
  t.is(otaConfig({ serverUrl: "" }).serverUrl, undefined, "an empty serverUrl only settles the last update");
  t.throws(() => otaConfig({ pollSeconds: "soon" }), { message: /pollSeconds must be a positive number/ });
  t.throws(() => otaConfig({ device: 7 }), { message: /config device must be a string/ });
});

test("the example takes a multi-file package (app + assets) on a board with an assets data partition", async (t) => {
  const server = await startServer();
  const lines: string[] = [];
  try {
    const assets = assetsImage(24 * 1024);
    const form = new FormData();
    form.append("product", "pk1");
    form.append("versions", "assets:1.1.0");
    form.append("app", new Blob([buildTestImage({ version: "2.0.0", size: 48 * 1024 })]), "app.bin");
    form.append("assets", new Blob([assets]), "assets.bin");
    const pkg = (await (await fetch(`${server.base}/api/packages`, { method: "POST", body: form })).json()) as { id: number };
    const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] });
    t.is(plan.status, 201, JSON.stringify(plan.json));
    await call(server, "POST", `/api/plans/${plan.json.id}/activate`);
    const b = SimBoard.create(ESP32_4MB_ASSETS, buildTestImage({ version: "1.0.0", size: 16 * 1024 }));
    await firstPowerOn(b, server, lines);
    const second = await powerOn(b, server, lines);
    t.is(second.app.report.version, "2.0.0");
    await until(async () => (await call(server, "GET", `/api/plans/${plan.json.id}`)).json.counts.success === 1, 20_000, "the plan's success");
    await second.off();
    const dev = (await call(server, "GET", "/api/devices/pk1/esp32-1")).json;
    t.deepEqual(dev.components, { assets: "1.1.0" });
    t.is(digestsOf(b.partition("assets").read(0, assets.length)).sha256, digestsOf(assets).sha256);
  } finally {
    await server.close();
  }
});
