// A simulated fleet: N boards (each its own flash file, bootloader and agent, node engine) update
// from one server through the broker and the HTTP routes, under a staged-rollout plan, with the
// fault mix of fleet-faults.ts, drawn per device from a seed: connection drops, clean restarts
// mid-download (reboots), power cuts inside a flash operation (during the download or the
// boot-flag write), and low battery or low signal that the plan's strategy refuses (rejected).
// Every board the policy did not refuse must end on the target version.
// The flash files (one per device, named by it) and the server's database live in one folder:
// `data`, kept; else a temporary one, removed at the end unless `keep`.
// Used by `xs-ota sim fleet` and bench/server.ts.

import { buildTestImage } from "../image-builder.ts";
import { dialectOf, type Dialect } from "./rollout.ts";
import { OtaServer } from "./service.ts";
import { createFleetDevice, fleetDialect, xsFleetStats, type FleetDevice, type FleetEngine, type XsFleetStats } from "./fleet-device.ts";
import { deviceFaults, emptyCounts, FLEET_STRATEGY, type FaultCounts, type FaultKind, type FaultMix } from "./fleet-faults.ts";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface FleetOptions {
  devices: number;
  dialect?: Dialect | "mix";
  /** Where each board's runtime and protocol client run (default node; fleet-device.ts). */
  engine?: FleetEngine;
  faults?: FaultMix;
  /** Seed of the fault mix (default 1). */
  seed?: number;
  /** Folder of the flash files and the server's database: must be absent or empty; kept. */
  data?: string;
  /** Keep the temporary folder (no `data`) and name it in the report. */
  keep?: boolean;
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
  /** Faults that fired (drops, reboots, powerCuts) and boards that read low (lowBattery,
   * lowSignal). */
  faults: FaultCounts;
  /** The folder of the flash files, when it stays after the run. */
  dataDir?: string;
  /** Engine xs: what the XS workers did and used. */
  xs?: XsFleetStats;
}

export interface FleetDeviceResult {
  name: string;
  /** Its flash image file (SimBoard.open). */
  flash: string;
  /** The plan's state for it (success, rejected, failed, ...), "" when never admitted. */
  state: string;
  /** The version it ran last. */
  version: string;
  faults: FaultKind[];
}

/** The fleet's flash files and database: `data` (absent or empty), or a fresh temporary folder. */
function fleetDir(data: string | undefined): string {
  if (data === undefined) return fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-fleet-"));
  if (fs.existsSync(data) && (!fs.statSync(data).isDirectory() || fs.readdirSync(data).length > 0)) {
    throw new Error(`fleet data folder ${data} must be absent or empty (it holds one flash file per device and the server's database)`);
  }
  fs.mkdirSync(data, { recursive: true });
  return data;
}

export async function runFleet(o: FleetOptions): Promise<FleetReport> {
  return (await runFleetDetailed(o)).report;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** runFleet, with each device's outcome. */
export async function runFleetDetailed(o: FleetOptions): Promise<{ report: FleetReport; devices: FleetDeviceResult[] }> {
  if (!Number.isInteger(o.devices) || o.devices < 1) throw new Error(`devices must be a positive integer, got ${o.devices}`);
  const dataDir = fleetDir(o.data);
  const keep = o.data !== undefined || o.keep === true;
  const flashDir = path.join(dataDir, "flash");
  fs.mkdirSync(flashDir);
  let server: OtaServer | undefined;
  const engine = o.engine ?? "node";
  const dialectChoice = fleetDialect(engine, o.dialect);
  const devices: FleetDevice[] = [];
  let runs: Promise<void>[] = [];
  const t0 = performance.now();
  try {
    server = await OtaServer.start({ dataDir: path.join(dataDir, "server") });
    const size = o.imageSize ?? 64 * 1024;
    const image = buildTestImage({ version: "2.0.0", size });
    const up = await fetch(`${server.base}/api/packages?product=fleet&filename=app-2.0.0.bin`, { method: "POST", body: image });
    const pkg = (await up.json()) as { id: number; error?: string };
    if (!up.ok) throw new Error(`package upload: ${pkg.error}`);
    const faults = o.faults ?? "mix";
    const plan = server.rollout.createPlan({
      product: "fleet", packages: [pkg.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"],
      strategy: { ...FLEET_STRATEGY },
      rollout: { wavePercent: o.wavePercent ?? 25, errorThresholdPercent: o.errorThresholdPercent ?? 50 },
    });
    const kinds: FaultKind[][] = [];
    for (let i = 0; i < o.devices; i++) {
      const dialect = dialectOf(dialectChoice, i);
      const f = deviceFaults(i, { mix: faults, imageSize: size, seed: o.seed });
      const name = `dev${String(i).padStart(4, "0")}`;
      kinds.push(f.kinds);
      devices.push(createFleetDevice(engine, {
        product: "fleet", name, dialect, serverBase: server.base, brokerUrl: server.broker.url,
        flash: path.join(flashDir, `${name}.bin`),
        battery: f.battery, rssi: f.rssi, dropAt: f.dropAt, restartAt: f.restartAt, powerCut: f.powerCut,
        pollMs: 200, seed: i + 1,
      }));
    }
    // Every board comes online (and reports its version) before the plan starts, so the first
    // wave is a share of the whole fleet.
    runs = devices.map((d) => d.run());
    const srv = server;
    await waitFor(() => srv.rollout.devices("fleet").length >= o.devices, 60_000);
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
    const counts = emptyCounts();
    for (const d of devices) {
      counts.drops += d.drops;
      counts.reboots += d.reboots;
      counts.powerCuts += d.powerCuts;
    }
    for (const k of kinds) {
      if (k.includes("lowBattery")) counts.lowBattery++;
      if (k.includes("lowSignal")) counts.lowSignal++;
    }
    const states = new Map(server.rollout.devices("fleet").map((d) => [d.name, d.plans[0]?.state ?? ""]));
    const results = devices.map((d, i): FleetDeviceResult => ({
      name: d.o.name, flash: d.o.flash!, state: states.get(d.o.name) ?? "", version: d.version, faults: kinds[i],
    }));
    const report: FleetReport = {
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
      faults: counts,
      ...(engine === "xs" ? { xs: xsFleetStats(devices) } : {}),
    };
    if (keep) report.dataDir = dataDir;
    return { report, devices: results };
  } finally {
    for (const d of devices) d.stop();
    // A board still running would write to a closed file.
    await Promise.allSettled(runs);
    for (const d of devices) d.board.flash.close();
    await server?.close();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`fleet: devices did not come online within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
