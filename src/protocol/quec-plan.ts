// QuecThing-style OTA plans: the cloud announces a plan (component, source and target version,
// minimum battery, minimum signal, required space); the device's policy accepts or refuses it
// and says why; an accepted plan is followed by the package (component, version, url, md5,
// crc32, sha256, size); the device reports events in QuecThing's order and, after the reboot,
// the result.
//
// Event codes are QuecThing's OTA event codes (+QIOTEVT: 7,<code>), as QuecPython's quecsdk
// defines them in cloud/Ql_iotApi.h:
//   10700 QIOT_OTA_TASK_NOTIFY  there is an upgrade task (the plan arrived)
//   10701 QIOT_OTA_START        the device starts downloading the package
//   10702 QIOT_OTA_DOWNLOADING  downloading (carries the percentage)
//   10703 QIOT_OTA_DOWNLOADED   the package is downloaded (and verified)
//   10704 QIOT_OTA_UPDATING     the package is being applied (boot flag)
//   10705 QIOT_OTA_UPDATE_OK    the update succeeded (here: staged, the device restarts)
//   10706 QIOT_OTA_UPDATE_FAIL  the update failed (with the runtime's -1..-4 error code)
//   10707 QIOT_OTA_UPDATE_FLAG  the first result after the update (here: the "result" message
//                               after the reboot: confirmed, or rolled back)
// QuecThing carries these fields as TTLV data points (ql_iotCmdOTA.h: URL 1, size 2, MD5 3,
// component 4, source version 5, target version 6, battery limit 8, space 9, min signal 10,
// CRC 15, SHA-256 16); this module carries the same fields as JSON, one object per message, so
// that any transport (an MqttPort, a serial link, a test) can move them:
//   cloud -> device  {"type":"plan","taskId","component","sourceVersion","targetVersion",
//                     "minBattery"?,"minSignal"?,"requiredSpace"?}
//                    {"type":"package","taskId","component","version","url","md5","crc32","sha256","size",
//                     "delta"?:{"size","baseSha256"?}}   (a delta package: url serves a patch of
//                     delta.size bytes from the plan's sourceVersion; md5, crc32, sha256 and size
//                     stay the target image's, as the offer's: src/agent/offer.ts)
//   device -> cloud  {"type":"confirm","taskId","component","action":1|0,"reason"}   (1 accept, 0 refuse,
//                                                     as QuecThing's Ql_iotCmdOtaAction)
//                    {"type":"event","taskId","component","code":10700..10706,"percent"?,"errorCode"?,"reason"?}
//                    {"type":"result","taskId","component","version","code":10705|10706,"errorCode","reason"}
//                    {"type":"request","component","version"}   (asks for a plan, as AT+QIOTOTAREQ)
//
// Components: QuecThing's FOTA names a component in every message and sends one plan per
// component. Given a MultiComponentUpdater (`multi`), a plan for a component other than "app"
// names a data partition: it is decided against the version that partition holds (any, when it
// holds none the device knows: the image is written whole), its space is the partition's size,
// and its package is written in place (full images only) with events 10701, 10702, 10703 and
// 10705 or 10706, then a result with the component's new version; there is no reboot, so the
// cloud sends the next component's plan on that result. At start-up the device reports each
// data component's version: QuecThing devices report their other components' versions with
// AT+QIOTMCUVER=<id>,<version> when they connect, and the platform matches plans against them;
// here a request message per data component carries the same pair, before the application's
// request() for the app asks for a plan.

import { ErrorCode, OtaError, errorMessage, type ErrorCodeValue } from "../errors.ts";
import { parseOffer, type Offer } from "../agent/offer.ts";
import { decide, type PolicyDecision, type Readings } from "../agent/policy.ts";
import type { BootReport, Progress, UpdateResult } from "../agent/types.ts";
import { compareVersions } from "../agent/version.ts";
import { printable } from "../util/printable.ts";
import type { ClockPort, MqttPort } from "../ports.ts";
import { ProgressReporter } from "./alibaba-mqtt.ts";
import type { PlanUpdater } from "./multi-component.ts";
import { NAME, VERSION_CHARS as VERSION, decodeJson, encodeJson, integer, optInteger, orderableVersion, record, refuse, text, type Json } from "./payload.ts";

export const QuecOtaEvent = Object.freeze({
  TaskNotify: 10700,
  DownloadStart: 10701,
  Downloading: 10702,
  Downloaded: 10703,
  Updating: 10704,
  UpdateOk: 10705,
  UpdateFail: 10706,
} as const);
export type QuecOtaEventCode = (typeof QuecOtaEvent)[keyof typeof QuecOtaEvent];

/** QuecThing's Ql_iotCmdOtaAction values for the plan answer. */
export const QuecAction = Object.freeze({ Refuse: 0, Accept: 1 } as const);

export interface Plan {
  taskId: string;
  component: string;
  sourceVersion: string;
  targetVersion: string;
  /** Percent. */
  minBattery?: number;
  /** dBm. */
  minSignal?: number;
  /** Bytes. */
  requiredSpace?: number;
}

export interface PackageInfo {
  taskId: string;
  component: string;
  version: string;
  url: string;
  md5: string;
  crc32: string;
  sha256: string;
  size: number;
  /** A delta package: a patch of `size` bytes that turns the plan's sourceVersion (whose image
   * has SHA-256 `baseSha256` when given) into the image the other fields describe. */
  delta?: { size: number; baseSha256?: string };
}

export interface Confirm {
  taskId: string;
  component: string;
  action: 0 | 1;
  reason: string;
}

export interface PlanEvent {
  taskId: string;
  component: string;
  code: QuecOtaEventCode;
  percent?: number;
  errorCode?: number;
  reason?: string;
}

export interface PlanResult {
  taskId: string;
  component: string;
  version: string;
  code: typeof QuecOtaEvent.UpdateOk | typeof QuecOtaEvent.UpdateFail;
  errorCode: number;
  reason: string;
}

export type CloudMessage = ({ type: "plan" } & Plan) | ({ type: "package" } & PackageInfo);
/** The device asks for a plan for a component it runs at this version. */
export interface PlanRequest {
  component: string;
  version: string;
}

export type DeviceMessage =
  | ({ type: "confirm" } & Confirm)
  | ({ type: "event" } & PlanEvent)
  | ({ type: "result" } & PlanResult)
  | ({ type: "request" } & PlanRequest);

const MAX_SPACE = 0x100000000;

// ---- encoders (fields in a fixed order: the golden tests compare strings) --------------------

export function encodePlan(p: Plan): Uint8Array {
  const o: Json = { type: "plan", taskId: p.taskId, component: p.component, sourceVersion: p.sourceVersion, targetVersion: p.targetVersion };
  if (p.minBattery !== undefined) o.minBattery = p.minBattery;
  if (p.minSignal !== undefined) o.minSignal = p.minSignal;
  if (p.requiredSpace !== undefined) o.requiredSpace = p.requiredSpace;
  return encodeJson(o);
}

export function encodePackage(p: PackageInfo): Uint8Array {
  const o: Json = {
    type: "package", taskId: p.taskId, component: p.component, version: p.version, url: p.url,
    md5: p.md5, crc32: p.crc32, sha256: p.sha256, size: p.size,
  };
  if (p.delta !== undefined) {
    const d: Json = { size: p.delta.size };
    if (p.delta.baseSha256 !== undefined) d.baseSha256 = p.delta.baseSha256;
    o.delta = d;
  }
  return encodeJson(o);
}

export function encodeConfirm(c: Confirm): Uint8Array {
  return encodeJson({ type: "confirm", taskId: c.taskId, component: c.component, action: c.action, reason: c.reason });
}

export function encodeEvent(e: PlanEvent): Uint8Array {
  const o: Json = { type: "event", taskId: e.taskId, component: e.component, code: e.code };
  if (e.percent !== undefined) o.percent = e.percent;
  if (e.errorCode !== undefined) o.errorCode = e.errorCode;
  if (e.reason !== undefined) o.reason = e.reason;
  return encodeJson(o);
}

export function encodePlanRequest(r: PlanRequest): Uint8Array {
  return encodeJson({ type: "request", component: r.component, version: r.version });
}

export function encodeResult(r: PlanResult): Uint8Array {
  return encodeJson({ type: "result", taskId: r.taskId, component: r.component, version: r.version, code: r.code, errorCode: r.errorCode, reason: r.reason });
}

// ---- parsers: OtaError(-1) on anything malformed -------------------------------------------

const CLOUD = "bad plan message";
const DEVICE = "bad device message";

function base(o: Json, what: string): { taskId: string; component: string } {
  return { taskId: text(o, "taskId", what, 64, NAME), component: text(o, "component", what, 32, NAME) };
}

function parsePlanFields(o: Json): Plan {
  const p: Plan = {
    ...base(o, CLOUD),
    sourceVersion: orderableVersion(text(o, "sourceVersion", CLOUD, 31, VERSION), CLOUD, "sourceVersion"),
    targetVersion: orderableVersion(text(o, "targetVersion", CLOUD, 31, VERSION), CLOUD, "targetVersion"),
  };
  const minBattery = optInteger(o, "minBattery", CLOUD, 0, 100);
  const minSignal = optInteger(o, "minSignal", CLOUD, -200, 0);
  const requiredSpace = optInteger(o, "requiredSpace", CLOUD, 0, MAX_SPACE);
  if (minBattery !== undefined) p.minBattery = minBattery;
  if (minSignal !== undefined) p.minSignal = minSignal;
  if (requiredSpace !== undefined) p.requiredSpace = requiredSpace;
  return p;
}

function parsePackageFields(o: Json): PackageInfo {
  const b = base(o, CLOUD);
  // The offer checks (scheme, size range, digests) are parseOffer's, in one place.
  // signature goes along so that parseOffer refuses it (not supported yet) instead of dropping it.
  // The base version is the plan's (checked when the package meets its plan): a placeholder here.
  let delta: Json | undefined;
  if (o.delta !== undefined) {
    const d = record(o.delta, CLOUD, "delta");
    delta = { baseVersion: "plan", size: d.size, baseSha256: d.baseSha256 };
  }
  const offer = parseOffer({ component: b.component, version: o.version, url: o.url, size: o.size, md5: o.md5, crc32: o.crc32, sha256: o.sha256, signature: o.signature, delta });
  orderableVersion(offer.version, CLOUD);
  const p: PackageInfo = { ...b, version: offer.version, url: offer.url, md5: offer.md5, crc32: offer.crc32, sha256: offer.sha256, size: offer.size };
  if (offer.delta !== undefined) {
    p.delta = { size: offer.delta.size };
    if (offer.delta.baseSha256 !== undefined) p.delta.baseSha256 = offer.delta.baseSha256;
  }
  return p;
}

/** Device side: a plan or a package. */
export function parseCloudMessage(payload: Uint8Array | string): CloudMessage {
  const o = decodeJson(payload, CLOUD);
  if (o.type === "plan") return { type: "plan", ...parsePlanFields(o) };
  if (o.type === "package") return { type: "package", ...parsePackageFields(o) };
  return refuse(CLOUD, `type must be "plan" or "package", got ${JSON.stringify(o.type)?.slice(0, 40)}`);
}

/** Cloud side: a confirm, an event or a result. */
export function parseDeviceMessage(payload: Uint8Array | string): DeviceMessage {
  const o = decodeJson(payload, DEVICE);
  const b = () => base(o, DEVICE);
  const optReason = (): string | undefined => (o.reason === undefined ? undefined : text(o, "reason", DEVICE, 512));
  if (o.type === "confirm") {
    const action = integer(o, "action", DEVICE, 0, 1) as 0 | 1;
    return { type: "confirm", ...b(), action, reason: optReason() ?? "" };
  }
  if (o.type === "event") {
    const code = integer(o, "code", DEVICE, QuecOtaEvent.TaskNotify, QuecOtaEvent.UpdateFail) as QuecOtaEventCode;
    const e: PlanEvent = { ...b(), code };
    const percent = optInteger(o, "percent", DEVICE, 0, 100);
    const errorCode = optInteger(o, "errorCode", DEVICE, -4, 0);
    const reason = optReason();
    if (percent !== undefined) e.percent = percent;
    if (errorCode !== undefined) e.errorCode = errorCode;
    if (reason !== undefined) e.reason = reason;
    return { type: "event", ...e };
  }
  if (o.type === "result") {
    const code = integer(o, "code", DEVICE, QuecOtaEvent.UpdateOk, QuecOtaEvent.UpdateFail) as PlanResult["code"];
    return {
      type: "result", ...b(), version: text(o, "version", DEVICE, 31, VERSION), code,
      errorCode: integer(o, "errorCode", DEVICE, -4, 0), reason: optReason() ?? "",
    };
  }
  if (o.type === "request") {
    return { type: "request", component: text(o, "component", DEVICE, 32, NAME), version: text(o, "version", DEVICE, 31, VERSION) };
  }
  return refuse(DEVICE, `type must be "confirm", "event", "result" or "request", got ${JSON.stringify(o.type)?.slice(0, 40)}`);
}

// ---- policy ---------------------------------------------------------------------------------

/** Whether the device takes a plan: the component is one it updates, the plan starts from the
 * running version and goes to a newer one, and battery, signal and space meet the plan. */
export function decidePlan(plan: Plan, runningVersion: string, readings: Readings, components: readonly string[] = ["app"]): PolicyDecision {
  if (!components.includes(plan.component)) return { accept: false, reason: `component ${plan.component} is not updated by this device` };
  if (plan.sourceVersion !== runningVersion) {
    return { accept: false, reason: `plan is for version ${plan.sourceVersion}, the device runs ${printable(runningVersion)}` };
  }
  let newer: number;
  try {
    newer = compareVersions(plan.targetVersion, runningVersion);
  } catch (e) {
    return { accept: false, reason: errorMessage(e) };
  }
  if (newer <= 0) return { accept: false, reason: `version ${plan.targetVersion} is not newer than the running ${printable(runningVersion)}` };
  return decide(thresholds(plan), readings);
}

/** Whether the device takes a plan for a data component whose partition holds `installed`
 * (undefined: no version the device knows, so any source version does: the image is written
 * whole): the plan starts from that version and goes to a newer one, and battery, signal and
 * space (readings.freeSpace: the partition's size) meet the plan. */
export function decideComponentPlan(plan: Plan, installed: string | undefined, readings: Readings): PolicyDecision {
  if (installed !== undefined) {
    if (plan.sourceVersion !== installed) {
      return { accept: false, reason: `plan is for ${plan.component} ${plan.sourceVersion}, the device holds ${printable(installed)}` };
    }
    let newer: number;
    try {
      newer = compareVersions(plan.targetVersion, installed);
    } catch (e) {
      return { accept: false, reason: errorMessage(e) };
    }
    if (newer <= 0) return { accept: false, reason: `${plan.component} ${plan.targetVersion} is not newer than the installed ${printable(installed)}` };
  }
  return decide(thresholds(plan), readings);
}

/** The plan's policy thresholds as an offer (the plan has no package yet: its size is checked
 * when the package arrives). */
function thresholds(plan: Plan): Offer {
  return {
    component: plan.component, version: plan.targetVersion, url: "", size: 0, md5: "", crc32: "", sha256: "",
    minBattery: plan.minBattery, minSignal: plan.minSignal, requiredSpace: plan.requiredSpace,
  };
}

// ---- the device client ----------------------------------------------------------------------

export type PlanState = "idle" | "awaiting-accept" | "awaiting-package" | "updating";

export interface QuecPlanClientOptions {
  /** Sends one device message (an MqttPort publish, a serial frame...). */
  send: (payload: Uint8Array) => void;
  clock: ClockPort;
  version: () => string;
  readings: () => Readings;
  update: (offer: Offer) => Promise<UpdateResult>;
  /** Components this device updates (default ["app"]). */
  components?: readonly string[];
  /** Manual mode: an accepted plan waits for accept() (or refuse()) from the application. */
  manual?: boolean;
  /** Every plan, with the policy's decision (in manual mode: call accept() or refuse()). */
  onPlan?: (plan: Plan, decision: PolicyDecision) => void;
  /** A cloud message was refused or ignored; nothing changed. */
  onRefused?: (reason: string) => void;
  onResult?: (result: UpdateResult) => void;
  /** Downloading events: at most one per interval and per step (defaults 1000 ms, 10 %). */
  downloading?: { minIntervalMs?: number; minStep?: number };
  /** Takes plans for other components as data partitions of this name (see the file comment). */
  multi?: PlanUpdater;
}

/** What the client remembers across the reboot that ends an update: persist it (KeyValuePort)
 * and hand it back to start(). */
export interface PlanMemo {
  taskId: string;
  component: string;
  version: string;
}

export class QuecPlanClient {
  private readonly o: QuecPlanClientOptions;
  private st: PlanState = "idle";
  private plan: Plan | undefined;
  private phaseSeen = new Set<string>();
  private reporter: ProgressReporter | undefined;
  private running: Promise<UpdateResult> | undefined;
  /** Set when an update staged: persist it to report the result after the reboot. */
  memo: PlanMemo | undefined;

  constructor(options: QuecPlanClientOptions) {
    this.o = options;
  }

  get state(): PlanState {
    return this.st;
  }

  /** The plan being handled. */
  get current(): Plan | undefined {
    return this.plan;
  }

  /** At start-up: reports the result of the update the memo names (after the reboot that
   * ended it: agent.boot()'s report), then each data component's installed version. */
  start(boot?: BootReport, memo?: PlanMemo): void {
    const last = boot?.lastUpdate;
    if (last && memo) {
      this.o.send(encodeResult({
        taskId: memo.taskId,
        component: memo.component,
        version: boot.version,
        code: last.ok ? QuecOtaEvent.UpdateOk : QuecOtaEvent.UpdateFail,
        errorCode: last.errorCode,
        reason: last.reason,
      }));
    }
    const versions = this.o.multi?.components() ?? {};
    for (const c in versions) this.o.send(encodePlanRequest({ component: c, version: versions[c] }));
  }

  /** Asks the cloud for a plan (QuecThing's AT+QIOTOTAREQ), naming a component and the version
   * it runs (a data component's: the installed one). */
  request(component = "app"): void {
    const version = component === "app" ? this.o.version() : this.o.multi?.installed(component);
    if (version === undefined) throw new OtaError(ErrorCode.UpdateFailed, `component ${component} has no installed version to report`);
    this.o.send(encodePlanRequest({ component, version }));
  }

  /** One cloud message (plan or package). */
  receive(payload: Uint8Array | string): void {
    let m: CloudMessage;
    try {
      m = parseCloudMessage(payload);
    } catch (e) {
      this.o.onRefused?.(e instanceof OtaError ? e.reason : errorMessage(e));
      return;
    }
    if (m.type === "plan") this.onPlanMessage(m);
    else this.onPackage(m);
  }

  /** Manual mode: take the plan that waits. */
  accept(): void {
    if (this.st !== "awaiting-accept" || !this.plan) throw new OtaError(ErrorCode.UpdateFailed, "no plan is waiting for an accept");
    this.confirm(this.plan, QuecAction.Accept, "accepted by the application");
  }

  /** Manual mode: turn the waiting plan down. */
  refuse(reason = "refused by the application"): void {
    if (this.st !== "awaiting-accept" || !this.plan) throw new OtaError(ErrorCode.UpdateFailed, "no plan is waiting for an answer");
    this.confirm(this.plan, QuecAction.Refuse, reason);
  }

  /** Feed the agent's progress here (AgentOptions.onProgress). */
  progress(p: Progress): void {
    const plan = this.plan;
    // A data component's progress is the MultiComponentUpdater's, not the agent's.
    if (this.st !== "updating" || !plan || this.isData(plan)) return;
    if (p.phase === "download" || p.phase === "check") {
      this.once("start", () => this.event(plan, QuecOtaEvent.DownloadStart, { percent: 0 }));
      if (p.phase === "download") this.reporter?.report(p.total > 0 ? Math.floor((100 * p.bytes) / p.total) : 0, "");
    } else if (p.phase === "verify") {
      this.once("start", () => this.event(plan, QuecOtaEvent.DownloadStart, { percent: 0 }));
      if (p.bytes >= p.total) this.once("downloaded", () => this.downloaded(plan));
    } else if (p.phase === "stage") {
      this.once("downloaded", () => this.downloaded(plan));
      this.once("updating", () => this.event(plan, QuecOtaEvent.Updating, {}));
    }
  }

  /** The update in progress, if any. */
  result(): Promise<UpdateResult> | undefined {
    return this.running;
  }

  private onPlanMessage(plan: Plan): void {
    if (this.st !== "idle") {
      this.o.onRefused?.(`plan ${plan.taskId} ignored: the device is ${this.st}`);
      return;
    }
    this.plan = plan;
    this.event(plan, QuecOtaEvent.TaskNotify, {});
    const decision = this.decide(plan);
    this.o.onPlan?.(plan, decision);
    if (!decision.accept) {
      this.confirm(plan, QuecAction.Refuse, decision.reason);
      return;
    }
    if (this.o.manual) {
      this.st = "awaiting-accept";
      return;
    }
    this.confirm(plan, QuecAction.Accept, decision.reason);
  }

  private isData(plan: Plan): boolean {
    return this.o.multi !== undefined && plan.component !== "app";
  }

  private decide(plan: Plan): PolicyDecision {
    const multi = this.o.multi;
    if (!multi || !this.isData(plan)) return decidePlan(plan, this.o.version(), this.o.readings(), this.o.components ?? ["app"]);
    const space = multi.capacity(plan.component);
    if (space === undefined) return { accept: false, reason: `component ${plan.component} is not updated by this device: no data partition takes it` };
    return decideComponentPlan(plan, multi.installed(plan.component), { ...this.o.readings(), freeSpace: space });
  }

  private confirm(plan: Plan, action: 0 | 1, reason: string): void {
    this.o.send(encodeConfirm({ taskId: plan.taskId, component: plan.component, action, reason }));
    if (action === QuecAction.Accept) {
      this.st = "awaiting-package";
    } else {
      this.st = "idle";
      this.plan = undefined;
    }
  }

  private onPackage(pkg: PackageInfo): void {
    const plan = this.plan;
    if (this.st !== "awaiting-package" || !plan) {
      this.o.onRefused?.(`package for task ${pkg.taskId} ignored: no accepted plan waits for it`);
      return;
    }
    if (pkg.taskId !== plan.taskId || pkg.component !== plan.component || pkg.version !== plan.targetVersion) {
      this.o.onRefused?.(`package ${pkg.taskId}/${pkg.component}/${pkg.version} does not match plan ${plan.taskId}/${plan.component}/${plan.targetVersion}`);
      return;
    }
    let offer: Offer;
    try {
      offer = parseOffer({
        component: pkg.component, version: pkg.version, url: pkg.url, size: pkg.size, md5: pkg.md5, crc32: pkg.crc32, sha256: pkg.sha256,
        minBattery: plan.minBattery, minSignal: plan.minSignal, requiredSpace: plan.requiredSpace,
        delta: pkg.delta === undefined ? undefined : { baseVersion: plan.sourceVersion, size: pkg.delta.size, baseSha256: pkg.delta.baseSha256 },
      });
    } catch (e) {
      this.o.onRefused?.(e instanceof OtaError ? e.reason : errorMessage(e));
      return;
    }
    this.st = "updating";
    this.phaseSeen.clear();
    this.reporter = new ProgressReporter({
      clock: this.o.clock,
      minIntervalMs: this.o.downloading?.minIntervalMs ?? 1000,
      minStep: this.o.downloading?.minStep ?? 10,
      send: (step) => {
        if (step >= 1 && step <= 100) this.event(plan, QuecOtaEvent.Downloading, { percent: step });
      },
    });
    const multi = this.o.multi;
    this.running = multi && this.isData(plan) ? this.applyComponent(multi, plan, offer) : this.apply(plan, offer);
  }

  /** A data component's package: written in place, then its result with the new version (no
   * reboot). A failure's reason names the component and version, as the cloud shows it. */
  private async applyComponent(multi: PlanUpdater, plan: Plan, offer: Offer): Promise<UpdateResult> {
    const from = multi.installed(offer.component) ?? "";
    let code: 0 | ErrorCodeValue = ErrorCode.UpdateFailed;
    let reason: string;
    try {
      if (offer.delta) throw new OtaError(ErrorCode.UpdateFailed, "a data partition takes full images, not a delta package");
      this.once("start", () => this.event(plan, QuecOtaEvent.DownloadStart, { percent: 0 }));
      const outcome = await multi.apply({ taskId: plan.taskId, components: [offer] }, (_c, p) => this.reporter?.report(p.percent, ""));
      const r = outcome.results[0];
      code = r ? r.errorCode : ErrorCode.UpdateFailed;
      reason = r ? r.reason : "no result";
    } catch (e) {
      code = e instanceof OtaError ? e.code : ErrorCode.UpdateFailed;
      reason = e instanceof OtaError ? e.reason : errorMessage(e);
    }
    this.reporter?.stop();
    this.reporter = undefined;
    const ok = code === 0;
    try {
      if (ok) {
        this.downloaded(plan);
        this.event(plan, QuecOtaEvent.UpdateOk, { reason });
        this.o.send(encodeResult({ taskId: plan.taskId, component: plan.component, version: offer.version, code: QuecOtaEvent.UpdateOk, errorCode: 0, reason }));
      } else {
        this.event(plan, QuecOtaEvent.UpdateFail, { errorCode: code, reason: `${offer.component} ${offer.version}: ${reason}` });
      }
    } catch {
      // The link went away: start() reports the component's version on the next connection.
    }
    this.st = "idle";
    this.plan = undefined;
    this.running = undefined;
    const r: UpdateResult = { ok, errorCode: code, reason, component: offer.component, fromVersion: from, toVersion: offer.version };
    this.o.onResult?.(r);
    return r;
  }

  private async apply(plan: Plan, offer: Offer): Promise<UpdateResult> {
    let r: UpdateResult;
    try {
      r = await this.o.update(offer);
    } catch (e) {
      r = { ok: false, errorCode: ErrorCode.UpdateFailed, reason: errorMessage(e), component: offer.component, fromVersion: this.o.version(), toVersion: offer.version };
    }
    this.reporter?.stop();
    this.reporter = undefined;
    if (r.ok) this.memo = { taskId: plan.taskId, component: plan.component, version: offer.version };
    try {
      if (r.ok) {
        this.once("downloaded", () => this.downloaded(plan));
        this.once("updating", () => this.event(plan, QuecOtaEvent.Updating, {}));
        this.event(plan, QuecOtaEvent.UpdateOk, { reason: r.reason });
      } else {
        this.event(plan, QuecOtaEvent.UpdateFail, { errorCode: r.errorCode, reason: r.reason });
      }
    } catch {
      // The link (or the board) went away with the update: start() reports the outcome later.
    }
    this.st = "idle";
    this.plan = undefined;
    this.running = undefined;
    this.o.onResult?.(r);
    return r;
  }

  private downloaded(plan: Plan): void {
    this.reporter?.stop();
    this.event(plan, QuecOtaEvent.Downloaded, { percent: 100 });
  }

  private once(key: string, f: () => void): void {
    if (this.phaseSeen.has(key)) return;
    this.phaseSeen.add(key);
    f();
  }

  private event(plan: Plan, code: QuecOtaEventCode, extra: Omit<PlanEvent, "taskId" | "component" | "code">): void {
    this.o.send(encodeEvent({ taskId: plan.taskId, component: plan.component, code, ...extra }));
  }
}

/** Topics of the JSON plan messages on an MQTT broker (a simulator convention, not QuecThing's
 * own TTLV topics). */
export function quecTopics(productKey: string, deviceName: string): { down: string; up: string } {
  for (const v of [productKey, deviceName]) if (!/^[A-Za-z0-9_.:@-]{1,64}$/.test(v)) refuse("bad device identity", `${JSON.stringify(v)} cannot be part of a topic`);
  return { down: `/quec/ota/${productKey}/${deviceName}/down`, up: `/quec/ota/${productKey}/${deviceName}/up` };
}

/** Wires a client to an MqttPort: device messages go up, cloud messages come down. */
export function connectQuecMqtt(mqtt: MqttPort, topics: { down: string; up: string }, client: QuecPlanClient): void {
  mqtt.onMessage((topic, payload) => {
    if (topic === topics.down) client.receive(payload);
  });
  mqtt.subscribe(topics.down);
}

/** A send callback for QuecPlanClientOptions over an MqttPort. */
export function mqttSender(mqtt: MqttPort, topic: string): (payload: Uint8Array) => void {
  return (payload) => mqtt.publish(topic, payload);
}
