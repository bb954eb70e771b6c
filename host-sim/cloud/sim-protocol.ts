// `xs-ota sim update --protocol mqtt|plan|http`: the same full update as simUpdate (board, local
// image server, bootloader, reboots, faults), but the offer reaches the device through a cloud
// dialect and the device reports progress and the result back to the simulated cloud:
//   mqtt  Alibaba-style topics on a real broker (aedes embedded, or mosquitto): the device
//         informs its version and requests the package, the cloud pushes the upgrade message,
//         the device reports progress steps (and -1..-4), then 100 after the reboot.
//   plan  QuecThing-style plan on a real broker: request, plan, policy, confirm, package,
//         events 10700..10706, and the result after the reboot.
//   http  a JSON manifest polled over HTTP with backoff; progress reports POSTed to /report.
// Every boot opens a new device connection (the board lost power: so did its radio).
// With --delta the clouds hold the full image and the patch: a device running the patch's base
// gets the delta package (isDiff 1; a package with delta; a manifest's deltas entry), any other
// the full image (the server serves both).

import { existsSync } from "node:fs";
import type { Agent } from "../../src/agent/agent.ts";
import { ErrorCode, errorMessage } from "../../src/errors.ts";
import type { Offer } from "../../src/agent/offer.ts";
import type { Readings } from "../../src/agent/policy.ts";
import type { BootReport, Progress, UpdateResult } from "../../src/agent/types.ts";
import type { FlashPartition } from "../../src/ports.ts";
import { AlibabaOtaClient, ProgressReporter, encodeProgress, type SignMethod } from "../../src/protocol/alibaba-mqtt.ts";
import { HttpReporter, ManifestPoller, type PollOutcome } from "../../src/protocol/http-manifest.ts";
import { QuecPlanClient, connectQuecMqtt, mqttSender, type PlanMemo } from "../../src/protocol/quec-plan.ts";
import { profile as boardProfile } from "../boards/profiles.ts";
import { SimBoard } from "../board.ts";
import { buildTestImage } from "../image-builder.ts";
import { NodeClock } from "../node-clock.ts";
import { nodeHttp } from "../node-http.ts";
import type { OfferJson } from "../server.ts";
import { simUpdate, type DeltaAlternatives, type SimUpdateOptions, type SimUpdateReport } from "../sim-update.ts";
import { AlibabaCloud } from "./alibaba-cloud.ts";
import { ManifestServer } from "./manifest-server.ts";
import { startBroker, type Broker } from "./mqtt-broker.ts";
import { connectMqtt, type NodeMqttPort } from "./node-mqtt.ts";
import type { ProtocolLogEntry } from "./protocol-log.ts";
import { QuecCloud } from "./quec-cloud.ts";

export type Protocol = "mqtt" | "plan" | "http";
export const PROTOCOLS: readonly Protocol[] = ["mqtt", "plan", "http"];

export interface SimProtocolOptions extends SimUpdateOptions {
  protocol: Protocol;
  /** The board's readings (percent, dBm); defaults 90 and -60. */
  battery?: number;
  rssi?: number;
  /** Thresholds the cloud puts in its offer (extData, plan, manifest). */
  minBattery?: number;
  minSignal?: number;
  requiredSpace?: number;
  /** MQTT broker: "aedes" (embedded, default), "mosquitto", or an mqtt:// URL. */
  broker?: string;
  /** plan: manual mode; the application accepts the plan once it saw it. */
  manual?: boolean;
  /** mqtt: how the upgrade message signs the image (default SHA256). */
  signMethod?: SignMethod;
  /** Rewrites the cloud's message that carries the offer (the upgrade message, the plan's
   * package, the manifest) as JSON before it is sent: hostile-payload tests. */
  tamper?: (message: Record<string, unknown>) => unknown;
  /** plan: rewrites the plan itself. */
  tamperPlan?: (message: Record<string, unknown>) => unknown;
  /** A worn byte in ota_1 at this offset: it no longer programs (reads back erased), so the
   * slot writer's read-back fails and the update fails with -4. */
  stuckByteAt?: number;
  /** http: the first N polls get 503 (backoff). */
  manifestFailFirst?: number;
  productKey?: string;
  deviceName?: string;
  /** Progress messages: minimum interval (ms, default 20) and step (default 5). */
  progressIntervalMs?: number;
  progressMinStep?: number;
  /** How long a boot waits for the cloud's offer (default 10 s). */
  deliveryTimeoutMs?: number;
}

export interface SimProtocolReport extends SimUpdateReport {
  protocol: Protocol;
  /** Every message between the device and the simulated cloud, both directions, in order. */
  protocolLog: ProtocolLogEntry[];
  /** Broker the MQTT dialects used. */
  broker?: string;
}

/** One power-on of the device's cloud connection. */
interface Session {
  /** Delivers the offer the dialect's way and applies it. */
  deliver(agent: Agent, offer: OfferJson, delta?: DeltaAlternatives): Promise<UpdateResult>;
  progress(p: Progress): void;
  /** Waits until the cloud received everything sent, then closes the connection. */
  close(): Promise<void>;
}

/** The server's offer as the clouds hold it: the full image, and the patch next to it when the
 * server made one (offered to a device on the patch's base version only). */
function jobOffers(offer: OfferJson, delta: DeltaAlternatives | undefined): { full: OfferJson; patch?: OfferJson & { delta: NonNullable<OfferJson["delta"]> } } {
  if (!offer.delta || !delta) return { full: offer };
  return { full: delta.full, patch: { ...offer, delta: offer.delta } };
}

function refused(reason: string, offer: OfferJson | Offer, from: string): UpdateResult {
  return { ok: false, errorCode: ErrorCode.UpdateFailed, reason, component: offer.component, fromVersion: from, toVersion: offer.version };
}

/** A partition view whose byte at `at` no longer programs: writes leave it erased. */
function stuckByte(p: FlashPartition, at: number): FlashPartition {
  return {
    label: p.label,
    geometry: p.geometry,
    read: (offset, length) => p.read(offset, length),
    erase: (offset, length) => p.erase(offset, length),
    write: (offset, data) => {
      if (at >= offset && at < offset + data.length) {
        const worn = data.slice();
        worn[at - offset] = p.geometry.erasedValue;
        p.write(offset, worn);
      } else {
        p.write(offset, data);
      }
    },
  };
}

async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

function withTimeout(p: Promise<UpdateResult>, ms: number, fallback: () => UpdateResult): Promise<UpdateResult> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<UpdateResult>((resolve) => (t = setTimeout(() => resolve(fallback()), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export async function simProtocolUpdate(o: SimProtocolOptions): Promise<SimProtocolReport> {
  if (!PROTOCOLS.includes(o.protocol)) throw new Error(`unknown protocol ${o.protocol}: ${PROTOCOLS.join(", ")}`);
  if (o.engine === "xs") throw new Error("--protocol needs engine node: the dialect clients drive the agent in this process");
  const fromVersion = o.fromVersion ?? "1.0.0";
  const prof = boardProfile(o.board ?? "esp32-4mb");
  const board = o.existing ?? (o.flash && existsSync(o.flash)
    ? SimBoard.open(prof, o.flash)
    : SimBoard.create(prof, buildTestImage({ version: fromVersion, size: o.baseSize ?? 64 * 1024 }), o.flash));
  board.readings = { battery: o.battery ?? 90, rssi: o.rssi ?? -60 };
  if (o.stuckByteAt !== undefined) {
    const at = o.stuckByteAt;
    const open = board.partition.bind(board);
    board.partition = (label: string) => (label === "ota_1" ? stuckByte(open(label), at) : open(label));
  }
  const pk = o.productKey ?? "pk1";
  const dn = o.deviceName ?? "dev1";
  const progress = { minIntervalMs: o.progressIntervalMs ?? 20, minStep: o.progressMinStep ?? 5 };
  const deliveryMs = o.deliveryTimeoutMs ?? 10_000;
  const readings = (agent: Agent): Readings => ({ batteryPercent: board.readings.battery, rssi: board.readings.rssi, freeSpace: agent.target().size });

  let broker: Broker | undefined;
  let alibaba: AlibabaCloud | undefined;
  let quec: QuecCloud | undefined;
  let manifest: ManifestServer | undefined;
  let session: Session | undefined;
  let boot = 0;
  /** Device messages sent over every boot, and how many the cloud logged. */
  let sent = 0;
  const received = () => (alibaba?.log ?? quec?.log ?? manifest?.log)!.entries.filter((e) => e.dir === "device->cloud").length;

  // A board without power sends nothing: its radio went down with it.
  const counting = (mqtt: NodeMqttPort): NodeMqttPort => ({
    ...mqtt,
    publish: (topic, payload) => {
      if (board.flash.isDead) return;
      sent++;
      mqtt.publish(topic, payload);
    },
  });

  /** Waits until both sides saw every message, then closes the device's connection. */
  const closeMqttSession = async (mqtt: { settled(): Promise<void>; close(): Promise<void> }, clock: NodeClock) => {
    await mqtt.settled();
    await until(() => received() >= sent, 3000);
    clock.stopAll();
    await mqtt.close();
  };

  const mqttSession = async (report: BootReport, agent: Agent): Promise<Session> => {
    const clock = new NodeClock(boot);
    const mqtt = counting(await connectMqtt(broker!.url, `device-${dn}-boot${boot}`));
    let settle: ((r: UpdateResult) => void) | undefined;
    const client = new AlibabaOtaClient({
      mqtt, clock, productKey: pk, deviceName: dn,
      version: () => report.version,
      update: (offer) => agent.update(offer),
      progress,
      onRefused: (reason) => {
        if (!client.busy) settle?.(refused(reason, { component: "app", version: "" } as OfferJson, agent.runningVersion()));
      },
      onResult: (r) => settle?.(r),
    });
    client.start(report);
    await mqtt.settled();
    return {
      deliver: (_agent, offer, delta) => {
        const cloud = alibaba!;
        const { full, patch } = jobOffers(offer, delta);
        cloud.job ??= { offer: full, patch: patch && delta ? { offer: patch, md5: delta.patch.md5, sha256: delta.patch.sha256 } : undefined, signMethod: o.signMethod, minBattery: o.minBattery, minSignal: o.minSignal, requiredSpace: o.requiredSpace, tamper: o.tamper };
        const result = new Promise<UpdateResult>((resolve) => (settle = resolve));
        client.request();
        return withTimeout(result, deliveryMs, () => refused(`no upgrade message within ${deliveryMs} ms`, offer, fromVersion));
      },
      progress: (p) => client.progress(p),
      close: () => closeMqttSession(mqtt, clock),
    };
  };

  const planSession = async (report: BootReport, agent: Agent): Promise<Session> => {
    const clock = new NodeClock(boot);
    const mqtt = counting(await connectMqtt(broker!.url, `device-${dn}-boot${boot}`));
    const topics = quec!.topics;
    let settle: ((r: UpdateResult) => void) | undefined;
    let offerSeen: OfferJson | undefined;
    const client: QuecPlanClient = new QuecPlanClient({
      send: mqttSender(mqtt, topics.up),
      clock,
      version: () => report.version,
      readings: () => readings(agent),
      update: (offer) => agent.update(offer),
      manual: o.manual,
      downloading: { minIntervalMs: progress.minIntervalMs, minStep: 10 },
      onPlan: (plan, decision) => {
        if (!decision.accept) settle?.(refused(decision.reason, { component: plan.component, version: plan.targetVersion } as OfferJson, agent.runningVersion()));
        else if (o.manual) queueMicrotask(() => client.accept());
      },
      onRefused: (reason) => {
        if (client.state !== "updating") settle?.(refused(reason, offerSeen ?? ({ component: "app", version: "" } as OfferJson), agent.runningVersion()));
      },
      onResult: (r) => {
        // The application keeps the task across the reboot, to report its result after it.
        if (r.ok && client.memo) board.kvStore.set("quec.memo", Buffer.from(JSON.stringify(client.memo)));
        settle?.(r);
      },
    });
    connectQuecMqtt(mqtt, topics, client);
    const memoBytes = board.kvStore.get("quec.memo");
    if (memoBytes && report.lastUpdate) {
      client.start(report, JSON.parse(Buffer.from(memoBytes).toString("utf8")) as PlanMemo);
      board.kvStore.delete("quec.memo");
    }
    await mqtt.settled();
    return {
      deliver: (_agent, offer, delta) => {
        offerSeen = offer;
        const { full, patch } = jobOffers(offer, delta);
        quec!.job ??= {
          offer: full, patch, sourceVersion: agent.runningVersion(), minBattery: o.minBattery, minSignal: o.minSignal, requiredSpace: o.requiredSpace,
          tamperPackage: o.tamper, tamperPlan: o.tamperPlan,
        };
        const result = new Promise<UpdateResult>((resolve) => (settle = resolve));
        client.request();
        return withTimeout(result, deliveryMs, () => refused(`no plan within ${deliveryMs} ms`, offer, fromVersion));
      },
      progress: (p) => client.progress(p),
      close: () => closeMqttSession(mqtt, clock),
    };
  };

  const httpSession = async (report: BootReport, agent: Agent): Promise<Session> => {
    const clock = new NodeClock(boot);
    const server = manifest!;
    const reporter = new HttpReporter(nodeHttp, clock, server.reportUrl);
    const post = (step: number, desc: string) => {
      if (board.flash.isDead) return;
      sent++;
      reporter.send(encodeProgress({ id: String(sent), step, desc }));
    };
    const last = report.lastUpdate;
    if (last) post(last.ok ? 100 : last.errorCode, last.reason);
    let steps: ProgressReporter | undefined;
    return {
      deliver: async (_agent, offer, delta) => {
        if (server.document === undefined) {
          // A static manifest: the full image, and the patch listed for its base version.
          const { full, patch } = jobOffers(offer, delta);
          const doc: Record<string, unknown> = { ...full };
          if (patch) {
            const entry: Record<string, unknown> = { baseVersion: patch.delta.baseVersion, size: patch.delta.size, url: patch.url };
            if (patch.delta.baseSha256 !== undefined) entry.baseSha256 = patch.delta.baseSha256;
            doc.deltas = [entry];
          }
          if (o.minBattery !== undefined) doc.minBattery = o.minBattery;
          if (o.minSignal !== undefined) doc.minSignal = o.minSignal;
          if (o.requiredSpace !== undefined) doc.requiredSpace = o.requiredSpace;
          server.document = o.tamper ? o.tamper(doc) : doc;
        }
        const poller = new ManifestPoller({
          http: nodeHttp, clock, url: server.manifestUrl,
          version: () => report.version,
          readings: () => readings(agent),
          update: async (accepted) => {
            steps = new ProgressReporter({ clock, send: post, ...progress });
            const r = await agent.update(accepted);
            steps.stop();
            if (!r.ok) steps.fail(r.errorCode === 0 ? ErrorCode.UpdateFailed : r.errorCode, r.reason);
            else if (steps.last < 99) post(99, r.reason);
            return r;
          },
          intervalMs: 10, backoffMs: 20, backoffMaxMs: 200, timeoutMs: 2000,
        });
        let outcome: PollOutcome = await poller.pollOnce();
        for (let tries = 1; outcome.kind === "error" && tries < 8; tries++) {
          await new Promise<void>((resolve) => clock.setTimeout(resolve, poller.delayAfter(outcome)));
          outcome = await poller.pollOnce();
        }
        switch (outcome.kind) {
          case "updated":
            return outcome.result;
          case "rejected":
            post(ErrorCode.UpdateFailed, outcome.reason);
            return refused(outcome.reason, outcome.offer, agent.runningVersion());
          case "current":
            return refused(`the manifest names ${outcome.version}, not newer than the running ${agent.runningVersion()}`, offer, agent.runningVersion());
          case "not-modified":
            return refused("the manifest did not change", offer, agent.runningVersion());
          case "error":
            post(ErrorCode.UpdateFailed, outcome.reason);
            return refused(outcome.reason, offer, agent.runningVersion());
          case "updated-plan":
            // This poller has no updatePlan: a components manifest is an error outcome.
            return refused("a components manifest", offer, agent.runningVersion());
        }
      },
      progress: (p) => steps?.report(p.percent, p.phase),
      close: async () => {
        await reporter.idle();
        await until(() => received() >= sent, 3000);
        clock.stopAll();
      },
    };
  };

  const open = { mqtt: mqttSession, plan: planSession, http: httpSession }[o.protocol];
  try {
    if (o.protocol === "http") {
      manifest = new ManifestServer(undefined, { failFirst: o.manifestFailFirst });
      await manifest.listen();
    } else {
      broker = await startBroker(o.broker ?? "aedes");
      if (o.protocol === "mqtt") alibaba = await AlibabaCloud.connect(broker.url, pk, dn);
      else quec = await QuecCloud.connect(broker.url, pk, dn);
    }
    const report = await simUpdate({
      ...o,
      existing: board,
      onProgress: (p) => {
        session?.progress(p);
        o.onProgress?.(p);
      },
      onBootReport: async (r, agent) => {
        await session?.close();
        boot++;
        session = await open(r, agent);
        await o.onBootReport?.(r, agent);
      },
      deliver: (agent, offer, delta) => {
        if (!session) return Promise.resolve(refused("no cloud session", offer, fromVersion));
        return session.deliver(agent, offer, delta).catch((e) => refused(errorMessage(e), offer, fromVersion));
      },
    });
    await session?.close();
    session = undefined;
    const log = (alibaba?.log ?? quec?.log ?? manifest?.log)!;
    return { ...report, protocol: o.protocol, protocolLog: log.entries.slice(), broker: broker?.kind };
  } finally {
    await session?.close().catch(() => undefined);
    await alibaba?.close().catch(() => undefined);
    await quec?.close().catch(() => undefined);
    await manifest?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    if (!o.existing) board.flash.close();
  }
}
