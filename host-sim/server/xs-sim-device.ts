// A simulated fleet board whose runtime AND protocol client run in the real XS engine
// (`xs-ota sim fleet --engine xs`), as examples/esp32 runs on an ESP32: every power-on is the
// bootloader here, then a fresh xsnap worker (started from the boot snapshot) running the
// runtime bundle in device mode (host-sim/xs/runtime-device.ts): agent.boot(), then its dialect
// client talking to the server through the http, mqtt and timer shims on the real clock, until the runtime
// restarts (System.restart kills the worker), the power is lost, or stop().
// Same public surface as SimDevice (fleet.ts builds either, fleet-device.ts). Every dialect: HTTP
// polling, and the MQTT ones over the mqtt shim to the server's broker (xs-mqtt-service.ts).
// Faults: connection drops and power losses through the same HttpMeter as SimDevice (a loss
// halts the worker once the chunk already handed over was delivered, as in sim-update's xs
// engine); battery and RSSI are the board's readings (the runtime's args and the net shim).

import { readFileSync } from "node:fs";
import type { SimBoard } from "../board.ts";
import { NoBootableImage } from "../bootloader/esp-idf.ts";
import { PowerCut } from "../flash/nor-flash.ts";
import { HttpMeter } from "../http-meter.ts";
import { nodeHttp } from "../node-http.ts";
import type { XsRunResult } from "../xs/host.ts";
import type { RuntimeArgs, RuntimeEvent } from "../xs/runtime-protocol.ts";
import { XsBoardEngine } from "../xs/sim-engine.ts";
import { deviceBoard, type SimDeviceOptions, type SimDeviceReport } from "./sim-device.ts";
import { brokerMqttService } from "./xs-mqtt-service.ts";

/** A powered board can run for as long as the fleet does. */
const RUN_TIMEOUT_MS = 24 * 3600_000;
const RSS_SAMPLE_MS = 500;

/** What the XS engine did for one board, over all its power-ons. */
export interface XsDeviceStats {
  /** Worker runs (power-ons that reached the runtime). */
  runs: number;
  /** XS meter (runtime JS only, the shims excluded) summed over the runs. */
  compute: number;
  deliveries: number;
  /** Largest XS machine allocation seen (bytes). */
  maxAllocate: number;
  /** Largest resident set of the board's xsnap-worker sampled while it ran (KiB; 0 where /proc
   * is missing). */
  peakRssKiB: number;
  /** Runs that ended with an engine or runtime error (each followed by a power cycle). */
  errors: number;
  lastError?: string;
  /** --drop-at entries that fired (connections the meter closed). */
  drops: number;
}

export interface XsSimDeviceReport extends SimDeviceReport {
  xs: XsDeviceStats;
}

type PowerOnEnd = "restart" | "lost" | "stop" | "done" | "bricked" | "error";

export class XsSimDevice {
  readonly board: SimBoard;
  readonly meter = new HttpMeter();
  version = "";
  boots = 0;
  updates = 0;
  failures = 0;
  powerLosses = 0;
  readonly xs: XsDeviceStats = { runs: 0, compute: 0, deliveries: 0, maxAllocate: 0, peakRssKiB: 0, errors: 0, drops: 0 };
  private stopped = false;
  private engine: XsBoardEngine | undefined;
  private t0 = 0;
  private msToNew: number | undefined;
  private startVersion = "";
  /** False from a power loss until the next power-on: the board sends nothing more. */
  private powered = false;
  private readonly dropsArmed: number;
  private readonly mqtt = brokerMqttService(() => this.powered);
  /** The runtime's boot event of the current power-on arrived. */
  private booted = false;
  /** Resolves stop()'s wait for a board that sits idle (main() settled). */
  private wake: (() => void) | undefined;

  constructor(readonly o: SimDeviceOptions) {
    this.board = deviceBoard(o);
    // On this engine a restart or power-cut fault is a power loss once the board received that
    // many bytes (between flash operations, not inside one: the cut-inside-an-operation mix is
    // the node engine's).
    this.meter.rebootAt = [...(o.restartAt ?? []), ...(o.powerCut ? [o.powerCut.lossAt] : [])].sort((a, b) => a - b);
    this.meter.dropAt = [...(o.dropAt ?? [])];
    this.dropsArmed = this.meter.dropAt.length;
  }

  get drops(): number {
    return this.dropsArmed - this.meter.dropAt.length;
  }

  /** Restarts and power cuts both end as power losses on this engine (counted as power cuts). */
  readonly reboots = 0;

  get powerCuts(): number {
    return this.powerLosses;
  }

  report(): XsSimDeviceReport {
    return {
      name: this.o.name, version: this.version, boots: this.boots, updates: this.updates, failures: this.failures,
      drops: this.dropsArmed - this.meter.dropAt.length, reboots: 0, powerCuts: this.powerLosses,
      bytesReceived: this.meter.received, msToNewVersion: this.msToNew,
      xs: { ...this.xs, drops: this.dropsArmed - this.meter.dropAt.length },
    };
  }

  /** Runs power-ons until stop(). */
  async run(): Promise<void> {
    this.t0 = performance.now();
    const engine = await XsBoardEngine.start(this.board, { network: nodeHttp, wrap: (port) => this.meter.wrap(port) }, () => undefined, {
      clock: "real",
      runTimeoutMs: RUN_TIMEOUT_MS,
      name: `xs-ota-${this.o.name}`,
      mqtt: this.mqtt,
      bundle: "device",
    });
    this.engine = engine;
    try {
      while (!this.stopped && this.boots < 100) {
        const why = await this.powerOn(engine);
        if (why === "bricked") break;
        if (why === "done") await new Promise<void>((resolve) => (this.stopped ? resolve() : (this.wake = resolve)));
        await this.mqtt.idle();
        this.board.powerCycle();
      }
    } finally {
      this.engine = undefined;
      await engine.close();
      await this.mqtt.idle();
    }
  }

  stop(): void {
    this.stopped = true;
    this.engine?.powerOff("stopped");
    this.wake?.();
  }

  private async powerOn(engine: XsBoardEngine): Promise<PowerOnEnd> {
    this.boots++;
    this.meter.revive();
    this.powered = true;
    let slot: string;
    try {
      slot = this.board.boot().slot;
    } catch (e) {
      if (e instanceof NoBootableImage) return "bricked";
      if (e instanceof PowerCut || this.board.flash.isDead) return "lost";
      throw e;
    }
    this.meter.onPowerLoss = () => {
      this.powerLosses++;
      this.powered = false;
      // The chunk handed over before the loss is still delivered; then the worker stops.
      engine.haltAfterQueued("power lost");
    };
    engine.onEvent = (e) => this.onEvent(e);
    this.booted = false;
    const sampler = setInterval(() => this.sampleRss(engine), RSS_SAMPLE_MS);
    let r: XsRunResult;
    try {
      r = await engine.powerOn(this.args(slot));
    } finally {
      clearInterval(sampler);
    }
    this.xs.runs++;
    this.xs.compute += r.stats.compute;
    this.xs.deliveries += r.stats.deliveries;
    this.xs.maxAllocate = Math.max(this.xs.maxAllocate, r.stats.maxAllocate);
    switch (r.outcome) {
      case "restart":
        // After the boot report, a restart ends an update that staged its image: the worker dies
        // inside it, before HttpDevice's onResult (a rollback restarts inside boot()).
        if (this.booted) this.updates++;
        return "restart";
      case "halted":
        return r.reason === "power lost" ? "lost" : "stop";
      case "done":
        return "done";
      case "error":
        // A watchdog would reset the board: power-cycle it, and count the error for the report.
        this.xs.errors++;
        this.xs.lastError = `${r.error?.name}: ${r.error?.message}`;
        return "error";
    }
  }

  private args(slot: string): RuntimeArgs {
    const b = this.board;
    const broker = new URL(this.o.brokerUrl);
    return {
      layout: b.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
      runningSlot: slot,
      chip: b.chip(),
      offer: null,
      battery: b.readings.battery,
      download: { stallMs: 5000, backoffMs: 20, backoffMaxMs: 200 },
      device: {
        dialect: this.o.dialect,
        server: this.o.serverBase,
        broker: { host: broker.hostname, port: Number(broker.port || 1883) },
        product: this.o.product,
        device: this.o.name,
        pollMs: this.o.pollMs ?? 100,
        backoffMs: 50,
        backoffMaxMs: 500,
        timeoutMs: 5000,
        progress: { minIntervalMs: 50, minStep: 10 },
      },
    };
  }

  private onEvent(e: RuntimeEvent): void {
    // Runs shorter than the sampling period are measured at their events.
    if (this.engine) this.sampleRss(this.engine);
    if (e.kind === "boot") {
      this.booted = true;
      this.version = e.report.version;
      if (!this.startVersion) this.startVersion = e.report.version;
      if (this.msToNew === undefined && e.report.version !== this.startVersion) this.msToNew = performance.now() - this.t0;
    } else if (e.kind === "result") {
      this.updates++;
      if (!e.result.ok) this.failures++;
    }
  }

  private sampleRss(engine: XsBoardEngine): void {
    const pid = engine.xs.alive ? engine.xs.xs.pid : undefined;
    if (pid === undefined) return;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) this.xs.peakRssKiB = Math.max(this.xs.peakRssKiB, Number(m[1]));
    } catch {
      // the worker exited between the check and the read, or no /proc
    }
  }
}
