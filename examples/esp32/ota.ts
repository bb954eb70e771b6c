// The example's update logic, on any Platform: settle the previous update (confirm a trial boot
// after its self-test, or roll it back), then poll `xs-ota server` in its HTTP manifest dialect
// (HttpDevice: GET .../manifest.json?version=<running> with If-None-Match, progress and result
// POSTed to .../report), and install what it offers. main.ts runs it with the Moddable platform;
// test/esp32-example-server.test.ts runs it on a simulated board against the real server.

import { Agent, HttpDevice, MultiComponentUpdater } from "xs-ota";
import type { BootReport, Platform, Progress } from "xs-ota";

const DEFAULT_POLL_SECONDS = 3600;
const DEFAULT_PRODUCT = "pk1";
const DEFAULT_DEVICE = "esp32-1";

/** What the app reads from mc/config (the manifest's "config", overridden on mcconfig's command line). */
export interface OtaConfig {
  /** http://host:port of `xs-ota server`; without it the app only settles the last update. */
  serverUrl?: string;
  product: string;
  device: string;
  pollSeconds: number;
}

/** OtaConfig from mc/config's untyped values (mcconfig command-line values are strings). */
export function otaConfig(config: { readonly [key: string]: unknown }): OtaConfig {
  const text = (key: string): string | undefined => {
    const v = config[key];
    if (v === undefined || v === "") return undefined;
    if (typeof v !== "string") throw new Error(`config ${key} must be a string`);
    return v;
  };
  const poll = config.pollSeconds;
  const pollSeconds = poll === undefined || poll === "" ? DEFAULT_POLL_SECONDS : Number(poll);
  if (!Number.isFinite(pollSeconds) || pollSeconds <= 0) throw new Error(`config pollSeconds must be a positive number of seconds`);
  return { serverUrl: text("serverUrl"), product: text("product") ?? DEFAULT_PRODUCT, device: text("device") ?? DEFAULT_DEVICE, pollSeconds };
}

export interface OtaApp {
  agent: Agent;
  report: BootReport;
  /** Polling the server (undefined without serverUrl); stop() ends it. */
  device: HttpDevice | undefined;
}

export interface OtaHooks {
  /** The trial-boot check of the new image. */
  selfTest?: () => Promise<boolean>;
  print: (line: string) => void;
}

export async function runOta(platform: Platform, config: OtaConfig, hooks: OtaHooks): Promise<OtaApp> {
  let device: HttpDevice | undefined;
  const onProgress = (p: Progress): void => {
    hooks.print(`xs-ota: ${p.phase} ${p.percent}% (${p.bytes}/${p.total})`);
    device?.progress(p);
  };
  const agent = new Agent({ platform, selfTest: hooks.selfTest, onProgress });

  const report = await agent.boot();
  hooks.print(`xs-ota: running ${report.version} from ${report.slot} (${report.imageState})`);
  const u = report.lastUpdate;
  if (u) hooks.print(`xs-ota: last update ${u.fromVersion} -> ${u.toVersion}: ${u.ok ? "ok" : `error ${u.errorCode} ${u.reason}`}`);
  // A new image that failed its self-test was marked invalid and the chip restarts into the old
  // one (on a host the restart returns): it must not report its version to the server.
  if (config.serverUrl === undefined || report.imageState === "invalid") return { agent, report, device };

  device = new HttpDevice({
    http: platform.http,
    clock: platform.clock,
    server: config.serverUrl,
    product: config.product,
    device: config.device,
    report,
    readings: () => ({ batteryPercent: platform.system.batteryPercent(), rssi: platform.system.rssi(), freeSpace: agent.target().size }),
    // Downloads, verifies, stages and restarts on success; returns the failure otherwise.
    update: (offer) => agent.update(offer),
    // Multi-file packages: the app through the agent, other components into the data partition
    // of their name (partitions.csv has none: add one, type data, subtype 0x80..0xfe).
    multi: new MultiComponentUpdater({ platform, agent }),
    pollMs: config.pollSeconds * 1000,
    onPoll: (outcome) => {
      if (outcome.kind === "error") hooks.print(`xs-ota: poll failed: ${outcome.reason}`);
      else if (outcome.kind === "rejected") hooks.print(`xs-ota: refused ${outcome.offer.version}: ${outcome.reason}`);
      else if (outcome.kind === "updated" && !outcome.result.ok) hooks.print(`xs-ota: update failed: ${outcome.result.errorCode} ${outcome.result.reason}`);
    },
  });
  device.start();
  return { agent, report, device };
}
