// The cloud side of the QuecThing-style plan flow on a real broker: answers a device's request
// with the plan of its job, sends the package once the device confirms, and records events and
// the result after the reboot. A refusal, a failure event (10706) or the result ends the job.

import { OtaError } from "../../src/errors.ts";
import {
  QuecAction, QuecOtaEvent, encodePackage, encodePlan, parseDeviceMessage, quecTopics,
  type DeviceMessage, type PackageInfo, type Plan,
} from "../../src/protocol/quec-plan.ts";
import type { OfferJson } from "../server.ts";
import { connectMqtt, type NodeMqttPort } from "./node-mqtt.ts";
import { ProtocolLog } from "./protocol-log.ts";

export interface QuecJob {
  taskId?: string;
  /** The full image. */
  offer: OfferJson;
  /** A delta package: sent instead of the full image when the plan's sourceVersion is the
   * patch's base version. */
  patch?: OfferJson & { delta: NonNullable<OfferJson["delta"]> };
  sourceVersion: string;
  minBattery?: number;
  minSignal?: number;
  requiredSpace?: number;
  /** Rewrites the plan or the package (as JSON) before it is sent: hostile-payload tests. */
  tamperPlan?: (message: Record<string, unknown>) => unknown;
  tamperPackage?: (message: Record<string, unknown>) => unknown;
}

export function planFor(job: QuecJob): Plan {
  const p: Plan = { taskId: job.taskId ?? "task-1", component: job.offer.component, sourceVersion: job.sourceVersion, targetVersion: job.offer.version };
  if (job.minBattery !== undefined) p.minBattery = job.minBattery;
  if (job.minSignal !== undefined) p.minSignal = job.minSignal;
  if (job.requiredSpace !== undefined) p.requiredSpace = job.requiredSpace;
  return p;
}

/** The package of a job: the delta package when the plan starts from the patch's base version,
 * the full image otherwise. */
export function packageFor(job: QuecJob): PackageInfo {
  const p = job.patch;
  const o = p && p.delta.baseVersion === job.sourceVersion ? p : job.offer;
  const info: PackageInfo = { taskId: job.taskId ?? "task-1", component: o.component, version: o.version, url: o.url, md5: o.md5, crc32: o.crc32, sha256: o.sha256, size: o.size };
  if (o.delta) {
    info.delta = { size: o.delta.size };
    if (o.delta.baseSha256 !== undefined) info.delta.baseSha256 = o.delta.baseSha256;
  }
  return info;
}

function tampered(bytes: Uint8Array, f: ((m: Record<string, unknown>) => unknown) | undefined): Uint8Array {
  if (!f) return bytes;
  const out = f(JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, unknown>);
  if (typeof out === "string") return Buffer.from(out);
  if (out instanceof Uint8Array) return out;
  return Buffer.from(JSON.stringify(out));
}

export class QuecCloud {
  readonly topics: { down: string; up: string };
  readonly log = new ProtocolLog();
  readonly messages: DeviceMessage[] = [];
  readonly malformed: string[] = [];
  job: QuecJob | undefined;
  /** Set when the job ended: "refused", "failed" or "result". */
  ended: "refused" | "failed" | "result" | undefined;

  private constructor(private readonly mqtt: NodeMqttPort, productKey: string, deviceName: string) {
    this.topics = quecTopics(productKey, deviceName);
  }

  static async connect(url: string, productKey = "pk1", deviceName = "dev1"): Promise<QuecCloud> {
    const mqtt = await connectMqtt(url, `cloud-quec-${productKey}-${deviceName}-${process.pid}`);
    const cloud = new QuecCloud(mqtt, productKey, deviceName);
    mqtt.onMessage((topic, payload) => {
      if (topic === cloud.topics.up) cloud.onDeviceMessage(payload);
    });
    mqtt.subscribe(cloud.topics.up);
    await mqtt.settled();
    return cloud;
  }

  sendPlan(): void {
    if (!this.job) throw new Error("no job");
    this.send(tampered(encodePlan(planFor(this.job)), this.job.tamperPlan));
  }

  sendPackage(): void {
    if (!this.job) throw new Error("no job");
    this.send(tampered(encodePackage(packageFor(this.job)), this.job.tamperPackage));
  }

  close(): Promise<void> {
    return this.mqtt.close();
  }

  private send(payload: Uint8Array): void {
    this.log.add("cloud->device", this.topics.down, payload);
    this.mqtt.publish(this.topics.down, payload);
  }

  private onDeviceMessage(payload: Uint8Array): void {
    this.log.add("device->cloud", this.topics.up, payload);
    let m: DeviceMessage;
    try {
      m = parseDeviceMessage(payload);
    } catch (e) {
      this.malformed.push(e instanceof OtaError ? e.reason : String(e));
      return;
    }
    this.messages.push(m);
    if (m.type === "request") {
      if (this.job && this.ended === undefined && m.component === this.job.offer.component && m.version !== this.job.offer.version) this.sendPlan();
    } else if (m.type === "confirm") {
      if (m.action === QuecAction.Accept) this.sendPackage();
      else this.ended = "refused";
    } else if (m.type === "event") {
      if (m.code === QuecOtaEvent.UpdateFail) this.ended = "failed";
    } else if (m.type === "result") {
      this.ended = "result";
    }
  }
}
