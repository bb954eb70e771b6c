// The board class of a simulated fleet, by engine: SimDevice (the Agent and its dialect client in
// Node) or XsSimDevice (both inside an xsnap worker), and what the XS boards
// add to the fleet's report.

import type { Dialect } from "./rollout.ts";
import { SimDevice, type SimDeviceOptions } from "./sim-device.ts";
import { XsSimDevice } from "./xs-sim-device.ts";

export type FleetEngine = "node" | "xs";
export const FLEET_ENGINES: readonly FleetEngine[] = Object.freeze(["node", "xs"]);

export type FleetDevice = SimDevice | XsSimDevice;

export function createFleetDevice(engine: FleetEngine, o: SimDeviceOptions): FleetDevice {
  return engine === "xs" ? new XsSimDevice(o) : new SimDevice(o);
}

/** The dialect a fleet runs on `engine` (`asked` undefined: mix, a third on each dialect). */
export function fleetDialect(engine: FleetEngine, asked: Dialect | "mix" | undefined): Dialect | "mix" {
  if (!FLEET_ENGINES.includes(engine)) throw new Error(`fleet engine must be node or xs, not ${JSON.stringify(engine)}`);
  return asked ?? "mix";
}

export interface XsFleetStats {
  /** xsnap workers started (power-ons that reached the runtime), over all boards. */
  workerRuns: number;
  /** XS meter of the runtime's JS over the whole fleet. */
  compute: number;
  /** Largest and mean per-board peak resident memory of a worker (KiB). */
  peakRssKiB: number;
  meanPeakRssKiB: number;
  /** Largest XS machine allocation of a board (bytes). */
  maxAllocate: number;
  /** Runs that ended with an engine or runtime error. */
  errors: number;
  /** Power losses and connection drops the boards went through. */
  powerLosses: number;
  drops: number;
  /** The version each board ran last, counted. */
  versions: Record<string, number>;
}

/** The XS boards' figures, or undefined when the fleet ran on Node. */
export function xsFleetStats(devices: readonly FleetDevice[]): XsFleetStats | undefined {
  const xs = devices.filter((d): d is XsSimDevice => d instanceof XsSimDevice);
  if (xs.length === 0) return undefined;
  const s: XsFleetStats = { workerRuns: 0, compute: 0, peakRssKiB: 0, meanPeakRssKiB: 0, maxAllocate: 0, errors: 0, powerLosses: 0, drops: 0, versions: {} };
  for (const d of xs) {
    const r = d.report();
    s.powerLosses += d.powerLosses;
    s.drops += r.xs.drops;
    s.workerRuns += d.xs.runs;
    s.compute += d.xs.compute;
    s.peakRssKiB = Math.max(s.peakRssKiB, d.xs.peakRssKiB);
    s.meanPeakRssKiB += d.xs.peakRssKiB / xs.length;
    s.maxAllocate = Math.max(s.maxAllocate, d.xs.maxAllocate);
    s.errors += d.xs.errors;
    s.versions[d.version] = (s.versions[d.version] ?? 0) + 1;
  }
  s.meanPeakRssKiB = Math.round(s.meanPeakRssKiB);
  return s;
}
