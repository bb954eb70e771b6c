// The device side of the server: the three dialects of src/protocol/ on one broker connection
// (Alibaba-style topics and QuecThing-style plans, with wildcard subscriptions for every
// device) and the HTTP manifest routes. Each turns device messages into Rollout calls and
// Rollout's offers into the dialect's messages, with the encoders and parsers the devices use.
// A device whose version is a delta package's source version gets the patch (Alibaba isDiff 1,
// a QuecThing package with delta, a manifest with delta); any other the full image.
// A plan of several components goes out whole in an HTTP manifest, and as one upgrade task per
// module on Alibaba topics (the app is the default module, each data component its own module),
// in plan order: the next task when the device informs the version of the module before it.
// On QuecThing plans, as the platform's FOTA does it, one plan per component in plan order: the
// next plan after the device's result for a data component (or, for the app, the request that
// follows its reboot); the device's data component versions come in request messages.

import type * as http from "node:http";
import { OtaError, errorMessage } from "../../src/errors.ts";
import { DEFAULT_MODULE, encodeUpgrade, parseInform, parseProgress, parseRequest, type ProgressMessage } from "../../src/protocol/alibaba-mqtt.ts";
import { QuecAction, QuecOtaEvent, encodePackage, encodePlan, parseDeviceMessage, type PackageInfo, type Plan as QuecPlan } from "../../src/protocol/quec-plan.ts";
import { upgradeFor, type PatchJson } from "../cloud/alibaba-cloud.ts";
import { connectMqtt, type NodeMqttPort } from "../cloud/node-mqtt.ts";
import { RETRY_DELAY_MS, type ComponentOffer, type DeviceOffer, type Rollout } from "./rollout.ts";
import { ApiError, bad, name, version as semver } from "./validate.ts";

export interface DialectLog {
  (line: string): void;
}

function offerJson(o: ComponentOffer) {
  return { component: o.component, version: o.version, size: o.size, url: o.url, md5: o.md5, crc32: o.crc32, sha256: o.sha256 };
}

/** The diff package of an Alibaba upgrade message (isDiff 1) for an offer with a delta. */
function alibabaPatch(o: ComponentOffer): PatchJson | undefined {
  const d = o.delta;
  if (!d) return undefined;
  return { offer: { ...offerJson(o), url: d.url, delta: { baseVersion: d.baseVersion, size: d.size } }, md5: d.md5, sha256: d.sha256 } as PatchJson;
}

/** One component of an HTTP manifest: the full image, or the patch with `delta`. */
function manifestEntry(o: ComponentOffer, thresholds: DeviceOffer): Record<string, unknown> {
  const doc: Record<string, unknown> = offerJson(o);
  if (o.delta) {
    doc.url = o.delta.url;
    doc.delta = { baseVersion: o.delta.baseVersion, size: o.delta.size };
  }
  if (thresholds.minBattery !== undefined) doc.minBattery = thresholds.minBattery;
  if (thresholds.minSignal !== undefined) doc.minSignal = thresholds.minSignal;
  return doc;
}

/** The HTTP manifest of an offer (src/protocol/http-manifest.ts): one image, or for a plan of
 * several components {taskId, components: [entry, ...]} in plan order. */
function manifestJson(o: DeviceOffer): Record<string, unknown> {
  if (!o.components) return manifestEntry(o, o);
  return { taskId: o.taskId, components: o.components.map((c) => manifestEntry(c, o)) };
}

/** Most components a device reports besides its app (multi-component plans take 5 in all). */
const MAX_REPORTED = 5;

/** `components=assets@1.1.0,fonts@1.0.0` of a manifest poll: the device's other components and
 * their running versions. Throws ApiError(400). */
export function parseComponentVersions(v: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === null || v === "") return out;
  const entries = v.split(",");
  if (entries.length > MAX_REPORTED) bad(`components lists ${entries.length} entries; at most ${MAX_REPORTED}`);
  for (const e of entries) {
    const at = e.indexOf("@");
    if (at < 0) bad(`components entry ${JSON.stringify(e)} must be component@version`);
    const c = name(e.slice(0, at), "components entry's component", 32);
    if (c === "app") bad("components must not name app: its version is ?version");
    if (out[c] !== undefined) bad(`components names ${c} twice`);
    out[c] = semver(e.slice(at + 1), `components entry ${c}'s version`);
  }
  return out;
}

/** Waits for the operator in manual mode on dialects without a confirm message. */
function held(o: DeviceOffer): boolean {
  return o.mode === "manual" && o.state === "pending";
}

/** Data component versions a QuecThing device reported before its app's request (a device
 * the server does not know yet has no row to hold them): kept until that request. */
class PendingVersions {
  private readonly map = new Map<string, Record<string, string>>();

  put(pk: string, dn: string, component: string, version: string): void {
    const k = `${pk}/${dn}`;
    const v = this.map.get(k) ?? {};
    if (Object.keys(v).length >= MAX_REPORTED && v[component] === undefined) return;
    v[component] = version;
    this.map.delete(k);
    // Devices that never send their app's request must not grow the map without bound.
    if (this.map.size >= PENDING_DEVICES) this.map.delete(this.map.keys().next().value as string);
    this.map.set(k, v);
  }

  take(pk: string, dn: string): Record<string, string> {
    const k = `${pk}/${dn}`;
    const v = this.map.get(k) ?? {};
    this.map.delete(k);
    return v;
  }
}

const PENDING_DEVICES = 1000;

export class MqttDialects {
  private seq = 1;
  private readonly quecVersions = new PendingVersions();
  private constructor(private readonly mqtt: NodeMqttPort, private readonly rollout: Rollout, private readonly log: DialectLog) {}

  static async connect(url: string, rollout: Rollout, log: DialectLog = () => undefined): Promise<MqttDialects> {
    const mqtt = await connectMqtt(url, `xs-ota-server-${process.pid}-${Date.now()}`);
    const d = new MqttDialects(mqtt, rollout, log);
    mqtt.onMessage((topic, payload) => d.onMessage(topic, payload));
    for (const t of ["/ota/device/inform/+/+", "/ota/device/request/+/+", "/ota/device/progress/+/+", "/quec/ota/+/+/up"]) mqtt.subscribe(t);
    await mqtt.settled();
    rollout.onChange((e) => {
      if (e.kind === "kick" && e.product) d.kick(e.product, e.device);
      // An MQTT device says nothing more after a failure: what is due next (the retry while
      // retries remain, else the next plan) is pushed to it once it settled.
      if (e.kind === "failed" && e.product && e.device) d.later(e.product, e.device);
    });
    return d;
  }

  private timers = new Set<ReturnType<typeof setTimeout>>();

  private later(product: string, device: string): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.kick(product, device);
    }, RETRY_DELAY_MS + 10);
    this.timers.add(t);
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return this.mqtt.close();
  }

  /** Offers what is due to the online MQTT devices of a product (a plan activated, resumed, a
   * new wave, an operator confirm). */
  kick(product: string, device?: string): void {
    for (const d of this.rollout.devices(product)) {
      if (device !== undefined && d.name !== device) continue;
      if (d.dialect === "alibaba") this.pushAlibaba(product, d.name);
      else if (d.dialect === "quec") this.sendQuecPlan(product, d.name);
    }
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const parts = topic.split("/");
    try {
      if (parts[1] === "ota" && parts[2] === "device" && parts.length === 6) this.onAlibaba(parts[3], parts[4], parts[5], payload);
      else if (parts[1] === "quec" && parts.length === 6 && parts[5] === "up") this.onQuec(parts[3], parts[4], payload);
    } catch (e) {
      this.log(`dialect: ${topic}: ${e instanceof OtaError ? e.reason : errorMessage(e)}`);
    }
  }

  // ---- Alibaba-style topics ------------------------------------------------------------------

  private onAlibaba(kind: string, pk: string, dn: string, payload: Uint8Array): void {
    if (kind === "inform" || kind === "request") {
      const m = kind === "inform" ? parseInform(payload) : parseRequest(payload);
      if (m.module === undefined || m.module === DEFAULT_MODULE) this.rollout.seen(pk, dn, "alibaba", m.version);
      else this.rollout.componentSeen(pk, dn, "alibaba", m.module, semver(m.version, "version"));
      this.pushAlibaba(pk, dn);
    } else if (kind === "progress") {
      progressReport(this.rollout, pk, dn, parseProgress(payload));
    }
  }

  private pushAlibaba(pk: string, dn: string): void {
    const o = this.rollout.offerFor(pk, dn);
    if (!o || held(o)) return;
    // One module task at a time, in plan order: the first component not reported at its version.
    const c = o.components ? o.components.find((x) => x.reported !== x.version) : o;
    if (!c) return;
    const module = c.component === "app" ? undefined : c.component;
    const m = upgradeFor({ offer: offerJson(c), patch: alibabaPatch(c), minBattery: o.minBattery, minSignal: o.minSignal, module }, ++this.seq, o.sourceVersion);
    if (c.isDiff) m.data.isDiff = 1;
    this.mqtt.publish(`/ota/device/upgrade/${pk}/${dn}`, encodeUpgrade(m));
  }

  // ---- QuecThing-style plans -----------------------------------------------------------------

  private onQuec(pk: string, dn: string, payload: Uint8Array): void {
    const m = parseDeviceMessage(payload);
    const planId = m.type === "request" ? undefined : planOf(m.taskId);
    // A data component's failure names it (its app's does not, as on a single-image device).
    const component = m.component === "app" ? undefined : m.component;
    switch (m.type) {
      case "request":
        if (component === undefined) {
          this.rollout.seen(pk, dn, "quec", m.version, {}, this.quecVersions.take(pk, dn));
          this.sendQuecPlan(pk, dn);
        } else {
          // A data component's version (the device's start-up report): no plan is asked for;
          // the app's request that follows asks, with every version known.
          const v = semver(m.version, "version");
          this.rollout.componentSeen(pk, dn, "quec", component, v);
          this.quecVersions.put(pk, dn, component, v);
        }
        break;
      case "confirm":
        this.rollout.confirmed(pk, dn, planId, m.action === QuecAction.Accept, m.reason);
        if (m.action === QuecAction.Accept) {
          const o = this.rollout.offerFor(pk, dn);
          const c = o?.components ? o.components.find((x) => x.component === m.component) : o;
          if (o && c && o.planId === planId) {
            const info: PackageInfo = { taskId: o.taskId, component: c.component, version: c.version, url: c.url, md5: c.md5, crc32: c.crc32, sha256: c.sha256, size: c.size };
            // A delta package: the patch's url and size; the base is the plan's sourceVersion.
            if (c.delta) Object.assign(info, { url: c.delta.url, delta: { size: c.delta.size } });
            this.mqtt.publish(`/quec/ota/${pk}/${dn}/down`, encodePackage(info));
          }
        }
        break;
      case "event":
        if (m.code === QuecOtaEvent.UpdateFail) this.rollout.failed(pk, dn, planId, m.errorCode ?? -1, m.reason ?? "update failed", component);
        else if (m.code === QuecOtaEvent.Updating || m.code === QuecOtaEvent.UpdateOk) this.rollout.progress(pk, dn, planId, 100, "updating", m.component);
        else if (m.code === QuecOtaEvent.Downloading || m.code === QuecOtaEvent.DownloadStart || m.code === QuecOtaEvent.Downloaded) this.rollout.progress(pk, dn, planId, m.percent ?? 0, "downloading", m.component);
        break;
      case "result":
        if (m.code === QuecOtaEvent.UpdateFail) this.rollout.failed(pk, dn, planId, m.errorCode, m.reason, component);
        if (component === undefined) {
          this.rollout.seen(pk, dn, "quec", m.version);
        } else if (m.code === QuecOtaEvent.UpdateOk) {
          // No reboot follows a data component: its result brings the next component's plan.
          this.rollout.componentResult(pk, dn, planId, component, true, m.reason);
          this.rollout.componentSeen(pk, dn, "quec", component, semver(m.version, "version"));
          this.sendQuecPlan(pk, dn);
        }
        break;
    }
  }

  /** The plan for the first component of the offer not at its target version (its source: the
   * device's version of it, 0.0.0 for a data component it never reported). */
  private sendQuecPlan(pk: string, dn: string): void {
    const o = this.rollout.offerFor(pk, dn);
    if (!o) return;
    const c = o.components ? o.components.find((x) => x.reported !== x.version) : o;
    if (!c) return;
    const sourceVersion = c.component === "app" || !o.components ? o.sourceVersion : c.reported ?? NO_VERSION;
    const plan: QuecPlan = { taskId: o.taskId, component: c.component, sourceVersion, targetVersion: c.version };
    if (o.minBattery !== undefined) plan.minBattery = o.minBattery;
    if (o.minSignal !== undefined) plan.minSignal = o.minSignal;
    this.mqtt.publish(`/quec/ota/${pk}/${dn}/down`, encodePlan(plan));
  }
}

/** A QuecThing plan's source version for a component the device reports no version of. */
const NO_VERSION = "0.0.0";

function planOf(taskId: string): number | undefined {
  const m = /^plan-([0-9]{1,15})$/.exec(taskId);
  return m ? Number(m[1]) : undefined;
}

/** Alibaba progress steps (also what HTTP devices POST): 1..98 downloading, 99 staged (the
 * device restarts into it), 100 confirmed after the reboot (success is judged by the version
 * the device reports next), -1..-4 failed. */
export function progressReport(rollout: Rollout, pk: string, dn: string, m: ProgressMessage): void {
  const component = m.module === DEFAULT_MODULE ? "app" : m.module;
  if (m.step < 0) {
    rollout.failed(pk, dn, undefined, m.step, m.desc, component);
    return;
  }
  // A data component's 100 is its result; the app's comes after its reboot.
  if (m.step === 100 && component !== undefined) rollout.componentResult(pk, dn, undefined, component, true, m.desc);
  // Progress without a module is the app's (a single-image device names none).
  if (m.step >= 99) rollout.progress(pk, dn, undefined, 100, "updating", component ?? "app");
  else rollout.progress(pk, dn, undefined, m.step, "downloading", component ?? "app");
}

/** HTTP manifest polling: GET /d/{product}/{device}/manifest.json?version=V answers the offer
 * due to that device (its thresholds included) or 304 when nothing is; POST
 * /d/{product}/{device}/report takes the progress reports (the Alibaba progress JSON).
 * Returns false when the URL is not one of these routes. */
export function handleHttpDialect(rollout: Rollout, req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: () => Promise<Uint8Array>): boolean {
  const m = /^\/d\/([A-Za-z0-9_.:-]{1,64})\/([A-Za-z0-9_.:-]{1,64})\/(manifest\.json|report)$/.exec(url.pathname);
  if (!m) return false;
  const [, pk, dn, what] = m;
  const reply = (status: number, text = "") => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
  };
  if (what === "manifest.json" && req.method === "GET") {
    const version = url.searchParams.get("version");
    if (version === null) return (reply(400, "manifest.json needs ?version=<running version>"), true);
    try {
      rollout.seen(pk, dn, "http", semver(version, "version"), {}, parseComponentVersions(url.searchParams.get("components")));
    } catch (e) {
      return (reply(e instanceof ApiError ? e.status : 400, errorMessage(e)), true);
    }
    const o = rollout.offerFor(pk, dn);
    if (!o || held(o)) return (res.writeHead(304).end(), true);
    const doc = manifestJson(o);
    const text = JSON.stringify(doc);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" }).end(text);
    return true;
  }
  if (what === "report" && req.method === "POST") {
    void body().then((bytes) => {
      try {
        progressReport(rollout, pk, dn, parseProgress(bytes));
        reply(204);
      } catch (e) {
        reply(400, e instanceof OtaError ? e.reason : errorMessage(e));
      }
    }, (e) => reply(413, errorMessage(e)));
    return true;
  }
  reply(405, `${req.method} is not allowed on ${url.pathname}`);
  return true;
}
