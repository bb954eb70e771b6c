// The cloud side of the Alibaba-style dialect on a real broker: records the device's inform,
// progress and request messages, and pushes the upgrade message of its job when a device that
// runs an older version asks for the latest package (request), until the job reaches a final
// step (100, or -1..-4). push() sends it at any time (a job created while the device is online).
// A job with a patch sends the diff package (isDiff 1) to a device whose version is the patch's
// base, and the full image to any other.

import {
  alibabaTopics, encodeUpgrade, parseInform, parseProgress, parseRequest,
  type AlibabaTopics, type InformMessage, type ProgressMessage, type SignMethod, type UpgradeMessage,
} from "../../src/protocol/alibaba-mqtt.ts";
import { OtaError } from "../../src/errors.ts";
import { compareVersions } from "../../src/agent/version.ts";
import type { OfferJson } from "../server.ts";
import { connectMqtt, type NodeMqttPort } from "./node-mqtt.ts";
import { ProtocolLog } from "./protocol-log.ts";

/** A delta package next to the full image: offered (isDiff 1) to a device that reports the
 * patch's base version; any other device gets the full image. */
export interface PatchJson {
  /** The patch's offer: url serves the patch, size and digests are the target image's, delta
   * names the base version and the patch's size. */
  offer: OfferJson & { delta: NonNullable<OfferJson["delta"]> };
  /** Digests of the patch bytes (sign and md5 of a diff message). */
  md5: string;
  sha256: string;
}

export interface AlibabaJob {
  /** The full image. */
  offer: OfferJson;
  patch?: PatchJson;
  /** Default SHA256: sign carries the SHA-256, extData the MD5 and CRC-32. */
  signMethod?: SignMethod;
  module?: string;
  /** Policy thresholds, passed to the device in extData. */
  minBattery?: number;
  minSignal?: number;
  requiredSpace?: number;
  /** Rewrites the upgrade message (as JSON) before it is sent: hostile-payload tests. A string
   * or bytes result is sent as is. */
  tamper?: (message: Record<string, unknown>) => unknown;
}

/** The upgrade message a job sends to a device that reports `deviceVersion`: the diff package
 * (isDiff 1) when the job has a patch from that version, the full image otherwise. */
export function upgradeFor(job: AlibabaJob, id: number, deviceVersion?: string): UpgradeMessage {
  const method = job.signMethod ?? "SHA256";
  const p = job.patch;
  if (p && deviceVersion === p.offer.delta.baseVersion) {
    // Diff package: size and sign describe the download (the patch); extData the target image
    // and the source version (src/protocol/alibaba-mqtt.ts).
    const o = p.offer;
    const extData: Record<string, unknown> = { size: o.size, md5: o.md5, crc32: o.crc32, sha256: o.sha256, srcVersion: o.delta.baseVersion };
    if (o.delta.baseSha256 !== undefined) extData.srcSha256 = o.delta.baseSha256;
    thresholds(job, extData);
    return {
      id,
      data: {
        size: o.delta.size, version: o.version, url: o.url, signMethod: method, sign: method === "Md5" ? p.md5 : p.sha256,
        md5: method === "Md5" ? p.md5 : undefined, module: job.module, isDiff: 1, extData,
      },
    };
  }
  const o = job.offer;
  const extData: Record<string, unknown> = method === "Md5" ? { crc32: o.crc32, sha256: o.sha256 } : { md5: o.md5, crc32: o.crc32 };
  thresholds(job, extData);
  return {
    id,
    data: {
      size: o.size, version: o.version, url: o.url, signMethod: method, sign: method === "Md5" ? o.md5 : o.sha256,
      md5: method === "Md5" ? o.md5 : undefined, module: job.module, isDiff: 0, extData,
    },
  };
}

function thresholds(job: AlibabaJob, extData: Record<string, unknown>): void {
  if (job.minBattery !== undefined) extData.minBattery = job.minBattery;
  if (job.minSignal !== undefined) extData.minSignal = job.minSignal;
  if (job.requiredSpace !== undefined) extData.requiredSpace = job.requiredSpace;
}

export class AlibabaCloud {
  readonly topics: AlibabaTopics;
  readonly log = new ProtocolLog();
  readonly informs: InformMessage[] = [];
  readonly progress: ProgressMessage[] = [];
  readonly requests: InformMessage[] = [];
  /** Device messages the cloud could not parse, with the reason. */
  readonly malformed: { topic: string; reason: string }[] = [];
  job: AlibabaJob | undefined;
  /** The job's last step: 100 or -1..-4 end it. */
  finalStep: number | undefined;
  private seq = 1000;
  /** The version the device last informed or requested with. */
  deviceVersion: string | undefined;

  private constructor(private readonly mqtt: NodeMqttPort, productKey: string, deviceName: string) {
    this.topics = alibabaTopics(productKey, deviceName);
  }

  static async connect(url: string, productKey = "pk1", deviceName = "dev1"): Promise<AlibabaCloud> {
    const mqtt = await connectMqtt(url, `cloud-alibaba-${productKey}-${deviceName}-${process.pid}`);
    const cloud = new AlibabaCloud(mqtt, productKey, deviceName);
    mqtt.onMessage((topic, payload) => cloud.onDeviceMessage(topic, payload));
    for (const t of [cloud.topics.inform, cloud.topics.progress, cloud.topics.request]) mqtt.subscribe(t);
    await mqtt.settled();
    return cloud;
  }

  /** Publishes the job's upgrade message now. */
  push(): void {
    const job = this.job;
    if (!job) throw new Error("no job to push");
    const message = JSON.parse(Buffer.from(encodeUpgrade(upgradeFor(job, ++this.seq, this.deviceVersion))).toString("utf8")) as Record<string, unknown>;
    const tampered = job.tamper ? job.tamper(message) : message;
    const payload = typeof tampered === "string" ? Buffer.from(tampered) : tampered instanceof Uint8Array ? tampered : Buffer.from(JSON.stringify(tampered));
    this.log.add("cloud->device", this.topics.upgrade, payload);
    this.mqtt.publish(this.topics.upgrade, payload);
  }

  settled(): Promise<void> {
    return this.mqtt.settled();
  }

  close(): Promise<void> {
    return this.mqtt.close();
  }

  private pending(version: string): boolean {
    const job = this.job;
    if (!job || this.finalStep !== undefined) return false;
    try {
      return compareVersions(version, job.offer.version) < 0;
    } catch {
      return false;
    }
  }

  private onDeviceMessage(topic: string, payload: Uint8Array): void {
    this.log.add("device->cloud", topic, payload);
    try {
      if (topic === this.topics.inform) {
        const m = parseInform(payload);
        this.informs.push(m);
        this.deviceVersion = m.version;
      } else if (topic === this.topics.request) {
        const m = parseRequest(payload);
        this.requests.push(m);
        this.deviceVersion = m.version;
        if (this.pending(m.version)) this.push();
      } else if (topic === this.topics.progress) {
        const m = parseProgress(payload);
        this.progress.push(m);
        if (m.step === 100 || m.step < 0) this.finalStep = m.step;
      }
    } catch (e) {
      this.malformed.push({ topic, reason: e instanceof OtaError ? e.reason : String(e) });
    }
  }
}
