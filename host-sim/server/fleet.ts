// A simulated fleet: N boards (each its own flash, bootloader and agent, node engine) update
// from one server through the broker and the HTTP routes, under a staged-rollout plan, with a
// mix of faults: connection drops, power losses mid-download, and low batteries that the plan's
// strategy refuses. Used by `xs-ota sim fleet` and bench/server.ts.

import { buildTestImage } from "../image-builder.ts";
import type { Dialect } from "./rollout.ts";
import { OtaServer } from "./service.ts";
import { createFleetDevice, fleetDialect, xsFleetStats, type FleetDevice, type FleetEngine, type XsFleetStats } from "./fleet-device.ts";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface FleetOptions {
  devices: number;
  /** Default mix: a third of the boards on each dialect. */
  dialect?: Dialect | "mix";
  /** Where each board's runtime and protocol client run (default node; fleet-device.ts). */
  engine?: FleetEngine;
  faults?: "none" | "mix";
  wavePercent?: number;
  errorThresholdPercent?: number;
  imageSize?: number;
  /** Give up after this long (default 10 min). */
  timeoutMs?: number;
  progress?: (line: string) => void;
}

export interface FleetReport {
  devices: number;
  succeeded: number;
  failed: number;
  rejected: number;
  seconds: number;
  bytesServed: number;
  /** Most devices downloading or staging at one sample (every 100 ms). */
  peakConcurrent: number;
  /** From a device's admission to the plan to its report of the target version. */
  p50Seconds: number;
  p99Seconds: number;
  devicesPerMinute: number;
  waves: number;
  /** Engine xs: what the XS workers did and used. */
  xs?: XsFleetStats;
}

const DIALECTS: Dialect[] = ["alibaba", "quec", "http"];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function runFleet(o: FleetOptions): Promise<FleetReport> {
  const engine = o.engine ?? "node";
  const fleetDialectChoice = fleetDialect(engine, o.dialect);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-fleet-"));
  const server = await OtaServer.start({ dataDir });
  const devices: FleetDevice[] = [];
  const t0 = performance.now();
  try {
    const size = o.imageSize ?? 64 * 1024;
    const image = buildTestImage({ version: "2.0.0", size });
    const up = await fetch(`${server.base}/api/packages?product=fleet&filename=app-2.0.0.bin`, { method: "POST", body: image });
    const pkg = (await up.json()) as { id: number; error?: string };
    if (!up.ok) throw new Error(`package upload: ${pkg.error}`);
    const faults = o.faults ?? "mix";
    const plan = server.rollout.createPlan({
      product: "fleet", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"],
      strategy: { minBattery: 20, retries: 2 },
      rollout: { wavePercent: o.wavePercent ?? 25, errorThresholdPercent: o.errorThresholdPercent ?? 50 },
    });
    for (let i = 0; i < o.devices; i++) {
      const dialect = fleetDialectChoice === "mix" ? DIALECTS[i % 3] : fleetDialectChoice;
      const f = faults === "mix" ? i % 20 : -1;
      devices.push(createFleetDevice(engine, {
        product: "fleet", name: `dev${String(i).padStart(4, "0")}`, dialect, serverBase: server.base, brokerUrl: server.broker.url,
        battery: f === 11 ? 10 : 90,
        dropAt: f === 3 || f === 13 ? [Math.floor(size / 3) + i] : undefined,
        rebootAt: f === 7 || f === 17 ? [Math.floor(size / 2) + i] : undefined,
        pollMs: 200, seed: i + 1,
      }));
    }
    // Every board comes online (and reports its version) before the plan starts, so the first
    // wave is a share of the whole fleet.
    const runs = devices.map((d) => d.run());
    await waitFor(() => server.rollout.devices("fleet").length >= o.devices, 60_000);
    server.rollout.setStatus(plan.id, "activate");
    let peak = 0;
    const deadline = Date.now() + (o.timeoutMs ?? 600_000);
    let lastLine = 0;
    for (;;) {
      const s = server.rollout.planStats(plan.id);
      const c = s.counts;
      peak = Math.max(peak, c.downloading + c.updating + c.confirmed);
      const finished = c.success + c.rejected + c.failed;
      if (o.progress && Date.now() - lastLine > 2000) {
        lastLine = Date.now();
        o.progress(`fleet: wave ${s.wave}, ${c.success} succeeded, ${c.failed} failed, ${c.rejected} rejected, ${c.downloading + c.updating} updating of ${o.devices}`);
      }
      if (finished >= o.devices) break;
      if (s.status === "paused") server.rollout.setStatus(plan.id, "resume");
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    if (process.env.XS_OTA_FLEET_DEBUG) {
      for (const d of server.rollout.devices("fleet")) {
        if (d.plans[0]?.state === "success") continue;
        const dev = devices.find((x) => x.o.name === d.name)!;
        console.error(JSON.stringify({ d, dev: dev.report(), dialect: dev.o.dialect, events: server.rollout.events({ device: d.name }) }));
      }
    }
    for (const d of devices) d.stop();
    await Promise.all(runs);
    const rows = server.rollout.devices("fleet").flatMap((d) => d.plans);
    const times = rows.filter((r) => r.state === "success" && r.finished_at !== null).map((r) => (r.finished_at! - r.started_at) / 1000).sort((a, b) => a - b);
    const s = server.rollout.planStats(plan.id);
    return {
      devices: o.devices,
      succeeded: s.counts.success,
      failed: s.counts.failed,
      rejected: s.counts.rejected,
      seconds: Math.round(seconds * 100) / 100,
      bytesServed: server.fileStats.bytesServed,
      peakConcurrent: peak,
      p50Seconds: Math.round(percentile(times, 50) * 1000) / 1000,
      p99Seconds: Math.round(percentile(times, 99) * 1000) / 1000,
      devicesPerMinute: Math.round((s.counts.success / seconds) * 60 * 10) / 10,
      waves: s.wave,
      ...(engine === "xs" ? { xs: xsFleetStats(devices) } : {}),
    };
  } finally {
    for (const d of devices) d.stop();
    for (const d of devices) d.board.flash.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`fleet: devices did not come online within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
