// A simulated device that updates from the server: a SimBoard (own flash, own bootloader) with
// the Agent on the node engine, talking to the server through one dialect of src/protocol/
// (alibaba: Alibaba-style topics, quec: QuecThing-style plans, http: manifest polling). Every
// power-on opens a new connection and reports the running version; the device stays online
// until told to stop, so later waves and retries reach it. Faults (fleet-faults.ts): connection
// drops at image bytes, clean restarts mid-download, power cuts inside a flash operation, a
// battery or signal below the plan's strategy.

import { Agent } from "../../src/agent/agent.ts";
import type { BootReport, Progress, UpdateResult } from "../../src/agent/types.ts";
import { AlibabaOtaClient } from "../../src/protocol/alibaba-mqtt.ts";
import { HttpDevice } from "../../src/protocol/http-device.ts";
import { QuecPlanClient, connectQuecMqtt, mqttSender, quecTopics, type PlanMemo } from "../../src/protocol/quec-plan.ts";
import { profile as boardProfile, type BoardProfile } from "../boards/profiles.ts";
import { MultiComponentUpdater } from "../../src/protocol/multi-component.ts";
import { SimBoard } from "../board.ts";
import { connectMqtt, type NodeMqttPort } from "../cloud/node-mqtt.ts";
import { HttpMeter } from "../http-meter.ts";
import { buildTestImage } from "../image-builder.ts";
import { NodeClock } from "../node-clock.ts";
import { nodeHttp } from "../node-http.ts";
import { PowerCut } from "../flash/nor-flash.ts";
import { NoBootableImage } from "../bootloader/esp-idf.ts";
import { armPowerCut, type PowerCutFault } from "./fleet-faults.ts";
import type { Dialect } from "./rollout.ts";

export interface SimDeviceOptions {
  product: string;
  name: string;
  dialect: Dialect;
  /** http://host:port of the server (HTTP dialect) and the broker's mqtt:// URL. */
  serverBase: string;
  brokerUrl: string;
  fromVersion?: string;
  baseSize?: number;
  flash?: string;
  /** The board (default esp32-4mb); one with data partitions takes multi-component plans. */
  profile?: BoardProfile;
  battery?: number;
  rssi?: number;
  /** QuecThing manual mode: the application accepts a plan after this many ms (never: undefined). */
  manualAcceptMs?: number;
  manual?: boolean;
  dropAt?: number[];
  /** Image bytes written after which the board restarts (watchdog; flash intact), ascending. */
  restartAt?: number[];
  /** Power lost inside a flash operation (fleet-faults.ts). */
  powerCut?: PowerCutFault;
  /** HTTP dialect: poll interval (default 100 ms). */
  pollMs?: number;
  seed?: number;
}

export interface SimDeviceReport {
  name: string;
  version: string;
  boots: number;
  updates: number;
  failures: number;
  /** Faults that fired: connections closed, restarts, power cuts. */
  drops: number;
  reboots: number;
  powerCuts: number;
  bytesReceived: number;
  /** ms from start() to the first boot on a newer version. */
  msToNewVersion?: number;
}

interface Session {
  progress(p: Progress): void;
  close(): Promise<void>;
}

/** A fleet or attached device's board, whatever engine runs it: the profile (default
 * esp32-4mb) factory-flashed with fromVersion (in memory, or the `flash` file), its readings. */
export function deviceBoard(o: SimDeviceOptions): SimBoard {
  const board = SimBoard.create(o.profile ?? boardProfile("esp32-4mb"), buildTestImage({ version: o.fromVersion ?? "1.0.0", size: o.baseSize ?? 16 * 1024 }), o.flash);
  board.readings = { battery: o.battery ?? 90, rssi: o.rssi ?? -60 };
  return board;
}

export class SimDevice {
  readonly board: SimBoard;
  readonly meter = new HttpMeter();
  version = "";
  boots = 0;
  updates = 0;
  failures = 0;
  reboots = 0;
  powerCuts = 0;
  private stopped = false;
  private restartAt: number[];
  /** Ends the current power-on (restart, power cut, stop). */
  private halt: ((why: string) => void) | undefined;
  private wake: (() => void) | undefined;
  private t0 = 0;
  private msToNew: number | undefined;
  private startVersion = "";
  /** Resolves when the current power-on should end (restart, power loss, stop). */
  private done: Promise<string> | undefined;

  constructor(readonly o: SimDeviceOptions) {
    this.board = deviceBoard(o);
    this.meter.dropAt = [...(o.dropAt ?? [])];
    this.restartAt = [...(o.restartAt ?? [])];
    const cut = o.powerCut;
    if (cut) {
      armPowerCut(this.board, cut, () => {
        this.powerCuts++;
        // The operation throws PowerCut right after this; whoever catches it, this power-on ends.
        const halt = this.halt;
        setImmediate(() => halt?.("cut"));
      });
    }
  }

  get drops(): number {
    return (this.o.dropAt?.length ?? 0) - this.meter.dropAt.length;
  }

  report(): SimDeviceReport {
    return {
      name: this.o.name, version: this.version, boots: this.boots, updates: this.updates, failures: this.failures,
      drops: this.drops, reboots: this.reboots, powerCuts: this.powerCuts, bytesReceived: this.meter.received, msToNewVersion: this.msToNew,
    };
  }

  /** Runs power-ons until stop(). */
  async run(): Promise<void> {
    this.t0 = performance.now();
    while (!this.stopped && this.boots < 100) {
      const why = await this.powerOn();
      if (why === "bricked") break;
      this.board.powerCycle();
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async powerOn(): Promise<string> {
    this.boots++;
    const clock = new NodeClock((this.o.seed ?? 1) * 1000 + this.boots);
    this.meter.revive();
    // Cleared when this power-on ends: its program (a session still closing) sends nothing more.
    const power = { on: true };
    let resolveDone!: (why: string) => void;
    this.done = new Promise<string>((resolve) => (resolveDone = resolve));
    const end = (why: string) => {
      power.on = false;
      resolveDone(why);
    };
    this.halt = end;
    this.wake = () => end("stop");
    let session: Session | undefined;
    const progress = (p: Progress) => {
      if (!power.on) return;
      session?.progress(p);
      if (p.phase === "download" && this.restartAt.length > 0 && p.bytes >= this.restartAt[0]) {
        this.restartAt.shift();
        this.reboots++;
        this.meter.halt();
        end("restart");
      }
    };
    try {
      const boot = this.board.boot();
      const agent = new Agent({
        platform: this.board.platform(this.meter.wrap(nodeHttp), clock),
        onProgress: progress,
        download: { stallMs: 5000, backoffMs: 20, backoffMaxMs: 200 },
      });
      void boot;
      const r = await agent.boot();
      this.version = r.version;
      if (!this.startVersion) this.startVersion = r.version;
      if (this.msToNew === undefined && r.version !== this.startVersion) this.msToNew = performance.now() - this.t0;
      if (this.board.restartRequested) return "restart";
      const onResult = (u: UpdateResult) => {
        this.updates++;
        if (!u.ok) this.failures++;
        if (this.board.restartRequested) end("restart");
      };
      session = await this.open(r, agent, clock, onResult, power);
      if (this.stopped) end("stop");
      const why = await this.done;
      return why;
    } catch (e) {
      if (e instanceof NoBootableImage) return "bricked";
      if (e instanceof PowerCut || this.board.flash.isDead) return "lost";
      throw e;
    } finally {
      clock.stopAll();
      await session?.close().catch(() => undefined);
    }
  }

  private readings(agent: Agent) {
    return { batteryPercent: this.board.readings.battery, rssi: this.board.readings.rssi, freeSpace: agent.target().size };
  }

  private async mqtt(power: { on: boolean }): Promise<NodeMqttPort> {
    const m = await connectMqtt(this.o.brokerUrl, `dev-${this.o.product}-${this.o.name}-${this.boots}-${process.pid}`);
    // A board without power, or restarting, sends nothing.
    return { ...m, publish: (t, p) => (!power.on || this.board.flash.isDead ? undefined : m.publish(t, p)) };
  }

  private async open(report: BootReport, agent: Agent, clock: NodeClock, onResult: (r: UpdateResult) => void, power: { on: boolean }): Promise<Session> {
    const { product: pk, name: dn } = this.o;
    const progress = { minIntervalMs: 50, minStep: 10 };
    // Multi-component plans: data partitions of the board (HTTP components, Alibaba modules, QuecThing component plans).
    const multi = new MultiComponentUpdater({ platform: this.board.platform(this.meter.wrap(nodeHttp), clock), agent, download: { stallMs: 5000, backoffMs: 20, backoffMaxMs: 200 } });
    if (this.o.dialect === "alibaba") {
      const mqtt = await this.mqtt(power);
      // The device's policy: the plan's thresholds travel in extData; the readings are the board's.
      const client = new AlibabaOtaClient({
        mqtt, clock, productKey: pk, deviceName: dn, version: () => report.version, progress,
        update: (offer) => agent.update(offer),
        onResult, multi,
      });
      client.start(report);
      return { progress: (p) => client.progress(p), close: async () => (await mqtt.settled().catch(() => undefined), await mqtt.close()) };
    }
    if (this.o.dialect === "quec") {
      const mqtt = await this.mqtt(power);
      const topics = quecTopics(pk, dn);
      const manual = this.o.manual === true;
      const client: QuecPlanClient = new QuecPlanClient({
        send: mqttSender(mqtt, topics.up), clock, version: () => report.version,
        readings: () => this.readings(agent), update: (offer) => agent.update(offer), manual,
        downloading: progress, multi,
        onPlan: (_plan, decision) => {
          if (decision.accept && manual && this.o.manualAcceptMs !== undefined) {
            clock.setTimeout(() => client.state === "awaiting-accept" && client.accept(), this.o.manualAcceptMs);
          }
        },
        onResult: (r) => {
          if (r.ok && client.memo) this.board.kvStore.set("quec.memo", new TextEncoder().encode(JSON.stringify(client.memo)));
          onResult(r);
        },
      });
      connectQuecMqtt(mqtt, topics, client);
      const memo = this.board.kvStore.get("quec.memo");
      // The result of the update before this boot (with its memo), then the data components' versions.
      client.start(report, memo && report.lastUpdate ? (JSON.parse(new TextDecoder().decode(memo)) as PlanMemo) : undefined);
      if (memo && report.lastUpdate) this.board.kvStore.delete("quec.memo");
      await mqtt.settled();
      client.request();
      return { progress: (p) => client.progress(p), close: async () => (await mqtt.settled().catch(() => undefined), await mqtt.close()) };
    }
    // HTTP manifest polling (the dialect examples/esp32 speaks)
    const device = new HttpDevice({
      http: this.meter.wrap(nodeHttp), clock, server: this.o.serverBase, product: pk, device: dn, report,
      readings: () => this.readings(agent), update: (offer) => agent.update(offer),
      multi,
      pollMs: this.o.pollMs ?? 100, backoffMs: 50, backoffMaxMs: 500, timeoutMs: 5000, progress,
      canSend: () => power.on && !this.board.flash.isDead, onResult,
    });
    device.start();
    return {
      progress: (p) => device.progress(p),
      close: async () => {
        device.stop();
        // A board that lost power sends nothing more; its clock (the reporter's timeouts) stopped.
        if (power.on && !this.board.flash.isDead) await Promise.race([device.idle(), new Promise((r) => setTimeout(r, 2000))]);
      },
    };
  }
}
