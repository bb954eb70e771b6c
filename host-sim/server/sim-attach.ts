// `xs-ota sim devices`: simulated boards that join a server already running (`xs-ota server`),
// so a developer watches them on its page next to real boards: each a SimDevice (its own flash,
// in memory or a file per board in --flash-dir, bootloader and agent on the node engine) on one
// of the three dialects, reaching the broker the server reports at /api/status. They run until
// every board reports `until` (when given), the timeout passes, or the caller stops them.

import * as fs from "node:fs";
import * as path from "node:path";
import { dialectOf, type Dialect } from "./rollout.ts";
import { SimDevice, type SimDeviceReport } from "./sim-device.ts";

export interface AttachOptions {
  /** http://host:port of the running server. */
  url: string;
  product: string;
  count: number;
  /** Device names are `${prefix}${index}` (default "sim-"). */
  prefix?: string;
  dialect: Dialect | "mix";
  fromVersion?: string;
  /** A flash file per board in this folder (written factory-fresh at the start, kept after). */
  flashDir?: string;
  battery?: number;
  rssi?: number;
  /** Stop once every board runs this version. */
  until?: string;
  timeoutMs?: number;
  /** HTTP dialect poll interval (default 1 s). */
  pollMs?: number;
  progress?: (line: string) => void;
  /** Resolves to stop the boards early (e.g. on SIGINT). */
  stop?: Promise<void>;
}

export interface AttachReport {
  devices: SimDeviceReport[];
  /** Every board reached `until` (true when no `until` was given and the boards were stopped). */
  reached: boolean;
}

/** The broker URL a device should use, from the server's status route. */
async function brokerOf(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/status`);
  } catch (e) {
    throw new Error(`cannot reach the server at ${url} (${(e as Error).message}); start it with \`xs-ota server\` or pass --url`);
  }
  const status = (await res.json().catch(() => undefined)) as { broker?: unknown } | undefined;
  if (!res.ok || typeof status?.broker !== "string") throw new Error(`${url} is not an xs-ota server: GET /api/status gave HTTP ${res.status}`);
  return status.broker;
}

export async function attachDevices(o: AttachOptions): Promise<AttachReport> {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 1000) throw new Error(`--count must be 1..1000, got ${o.count}`);
  const url = o.url.replace(/\/+$/, "");
  const brokerUrl = await brokerOf(url);
  if (o.flashDir) fs.mkdirSync(o.flashDir, { recursive: true });
  const prefix = o.prefix ?? "sim-";
  const devices: SimDevice[] = [];
  for (let i = 0; i < o.count; i++) {
    const name = `${prefix}${i}`;
    devices.push(new SimDevice({
      product: o.product, name, dialect: dialectOf(o.dialect, i),
      serverBase: url, brokerUrl, fromVersion: o.fromVersion, battery: o.battery, rssi: o.rssi,
      flash: o.flashDir ? path.join(o.flashDir, `${o.product}-${name}.bin`) : undefined,
      pollMs: o.pollMs ?? 1000, seed: i + 1,
    }));
  }
  const seen = new Map<string, string>();
  const runs = devices.map((d) => d.run());
  const deadline = Date.now() + (o.timeoutMs ?? 600_000);
  let stopped = false;
  void o.stop?.then(() => (stopped = true));
  let reached = false;
  try {
    for (;;) {
      for (const d of devices) {
        if (d.version && seen.get(d.o.name) !== d.version) {
          seen.set(d.o.name, d.version);
          o.progress?.(`${d.o.name} (${d.o.dialect}): running ${d.version}`);
        }
      }
      reached = o.until !== undefined && devices.every((d) => d.version === o.until);
      if (reached || stopped || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const d of devices) d.stop();
    await Promise.all(runs);
    for (const d of devices) d.board.flash.close();
  }
  return { devices: devices.map((d) => d.report()), reached: o.until === undefined ? stopped : reached };
}
