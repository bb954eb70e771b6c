// Alibaba-style OTA over MQTT (the Alibaba Cloud IoT Platform's "/ota/device/..." topics):
//   /ota/device/inform/{pk}/{dn}    device -> cloud  {"id":"1","params":{"version":"1.0.1","module":"MCU"}}
//   /ota/device/upgrade/{pk}/{dn}   cloud -> device  {"code":"1000","data":{"size":…,"version":"…","url":"…",
//                                                    "signMethod":"Md5"|"SHA256","sign":"…","md5":"…",
//                                                    "module":"…","isDiff":0|1,"extData":{…}},"id":…,"message":"success"}
//   /ota/device/progress/{pk}/{dn}  device -> cloud  {"id":"1","params":{"step":"1".."100","desc":"…","module":"MCU"}}
//   /ota/device/request/{pk}/{dn}   device -> cloud  {"id":"1","params":{"version":"1.0.0","module":"MCU"}}
// Steps -1, -2, -3, -4 report update failed, download failed, verification failed, flash write
// failed: the runtime's ErrorCode values, unchanged.
//
// Digests: the upgrade message signs the image with one digest (signMethod/sign: Md5 or SHA256;
// `md5` repeats the MD5 when there is one). The agent checks all three of MD5, CRC-32 and
// SHA-256, so the other two come from the job's extData, which the platform passes through
// unchanged: extData.md5, extData.crc32, extData.sha256 (lower- or upper-case hex). A digest that
// no field carries refuses the message ("missing digest …"); two fields that disagree refuse it
// too. extData.minBattery, extData.minSignal and extData.requiredSpace, when present, become the
// offer's policy thresholds.
//
// Differential packages (isDiff 1): as on the platform, size and sign (and md5) describe the file
// the device downloads, here the patch (src/agent/delta-intake.ts). What the patch must produce,
// and from what, the platform does not carry, so extData does: extData.size (the target image's
// bytes), extData.md5, extData.crc32, extData.sha256 (the target image's digests, all three) and
// extData.srcVersion (the version the patch applies to: the batch's source version, SrcVersion
// in the platform's CreateOTAFirmware), optionally extData.srcSha256 (SHA-256 of that image as
// esp_partition_get_sha256 gives it). The offer gets `delta: {baseVersion, baseSha256?, size}`.
//
// Modules: the app image is the device's module (DEFAULT_MODULE unless configured); given a
// MultiComponentUpdater (`multi`), any other module names a data partition, one task per module
// as the platform sends them: the device writes it in place (full images only), reports its
// progress step with the module, and informs the module's version after it and at start-up, so
// the cloud moves on to the next module and judges success by all of them.

import { ErrorCode, OtaError, errorMessage, type ErrorCodeValue } from "../errors.ts";
import { parseOffer, type Offer } from "../agent/offer.ts";
import type { BootReport, Progress, UpdateResult } from "../agent/types.ts";
import { compareVersions } from "../agent/version.ts";
import type { ClockPort, MqttPort, TimerHandle } from "../ports.ts";
import { charClass } from "../util/char-class.ts";
import type { PlanUpdater } from "./multi-component.ts";
import { NAME, VERSION_CHARS as VERSION, decodeJson, encodeJson, integer, optText, orderableVersion, record, refuse, text, type Json } from "./payload.ts";

/** `code` of an upgrade message that carries a package. */
export const UPGRADE_OK_CODE = "1000";
/** The module name Alibaba uses when a product has a single firmware. */
export const DEFAULT_MODULE = "default";

export interface AlibabaTopics {
  inform: string;
  upgrade: string;
  progress: string;
  request: string;
}

const TOPIC_NAME = charClass("A-Za-z0-9_.:@-");
const TOPIC_NAME_MAX = 64;

/** The four OTA topics of a device. Refuses keys that would break the topic (/, +, #, empty). */
export function alibabaTopics(productKey: string, deviceName: string): AlibabaTopics {
  for (const [k, v] of [["productKey", productKey], ["deviceName", deviceName]] as const) {
    if (v.length > TOPIC_NAME_MAX || !TOPIC_NAME.test(v)) refuse("bad device identity", `${k} must be 1..${TOPIC_NAME_MAX} characters of ${TOPIC_NAME.source}`);
  }
  const t = (kind: string) => `/ota/device/${kind}/${productKey}/${deviceName}`;
  return { inform: t("inform"), upgrade: t("upgrade"), progress: t("progress"), request: t("request") };
}

// ---- device -> cloud ------------------------------------------------------------------------

export interface InformMessage {
  id: string;
  version: string;
  module?: string;
}

export interface ProgressMessage {
  id: string;
  /** 1..100, or -1..-4 on failure. */
  step: number;
  desc: string;
  module?: string;
}

/** A request for the latest package: the same shape as an inform. */
export type RequestMessage = InformMessage;

function withModule(params: Json, module: string | undefined): Json {
  if (module !== undefined) params.module = module;
  return params;
}

export function encodeInform(m: InformMessage): Uint8Array {
  return encodeJson({ id: m.id, params: withModule({ version: m.version }, m.module) });
}

export function encodeRequest(m: RequestMessage): Uint8Array {
  return encodeJson({ id: m.id, params: withModule({ version: m.version }, m.module) });
}

export function encodeProgress(m: ProgressMessage): Uint8Array {
  return encodeJson({ id: m.id, params: withModule({ step: String(m.step), desc: m.desc }, m.module) });
}

function parseVersionMessage(payload: Uint8Array | string, what: string): InformMessage {
  const o = decodeJson(payload, what);
  const id = text(o, "id", what, 64);
  const p = record(o.params, what, "params");
  const m: InformMessage = { id, version: text(p, "version", what, 31, VERSION) };
  const module = optText(p, "module", what, 32, NAME);
  if (module !== undefined) m.module = module;
  return m;
}

/** Cloud side: an inform message. Throws OtaError(-1) on anything else. */
export function parseInform(payload: Uint8Array | string): InformMessage {
  return parseVersionMessage(payload, "bad inform message");
}

/** Cloud side: a request message. */
export function parseRequest(payload: Uint8Array | string): RequestMessage {
  return parseVersionMessage(payload, "bad request message");
}

/** Cloud side: a progress message; step must be 1..100 or -1..-4. */
export function parseProgress(payload: Uint8Array | string): ProgressMessage {
  const what = "bad progress message";
  const o = decodeJson(payload, what);
  const id = text(o, "id", what, 64);
  const p = record(o.params, what, "params");
  const s = text(p, "step", what, 4, /^-?\d+$/);
  const step = Number(s);
  if (!((step >= 1 && step <= 100) || (step >= -4 && step <= -1)) || String(step) !== s) refuse(what, `step ${s} is not 1..100 or -1..-4`);
  if (p.desc !== undefined && typeof p.desc !== "string") refuse(what, "desc must be a string");
  const m: ProgressMessage = { id, step, desc: typeof p.desc === "string" ? p.desc : "" };
  const module = optText(p, "module", what, 32, NAME);
  if (module !== undefined) m.module = module;
  return m;
}

// ---- cloud -> device ------------------------------------------------------------------------

export type SignMethod = "Md5" | "SHA256";

/** The data of an upgrade message as the cloud sends it. */
export interface UpgradeData {
  size: number;
  version: string;
  url: string;
  signMethod: SignMethod;
  sign: string;
  md5?: string;
  module?: string;
  isDiff?: 0 | 1;
  extData?: Record<string, unknown>;
}

export interface UpgradeMessage {
  id: number | string;
  data: UpgradeData;
  code?: string;
  message?: string;
}

/** Cloud side: the upgrade message, fields in the platform's order. */
export function encodeUpgrade(m: UpgradeMessage): Uint8Array {
  const d = m.data;
  const data: Json = { size: d.size, version: d.version, url: d.url, signMethod: d.signMethod, sign: d.sign };
  if (d.md5 !== undefined) data.md5 = d.md5;
  if (d.module !== undefined) data.module = d.module;
  if (d.isDiff !== undefined) data.isDiff = d.isDiff;
  if (d.extData !== undefined) data.extData = d.extData;
  return encodeJson({ code: m.code ?? UPGRADE_OK_CODE, data, id: m.id, message: m.message ?? "success" });
}

export interface ParsedUpgrade {
  id: number | string;
  /** The module the package is for (DEFAULT_MODULE when the message names none). */
  module: string;
  offer: Offer;
}

export interface ParseUpgradeOptions {
  /** The module whose packages are this device's app image (default DEFAULT_MODULE). Packages
   * for any other module are refused unless dataModules. */
  appModule?: string;
  /** Packages for other modules are data-partition images: the offer's component is the module. */
  dataModules?: boolean;
}

const UPGRADE = "bad upgrade message";
const HEX = charClass("0-9a-fA-F");

function digestField(o: Json, key: string, length: number, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length !== length || !HEX.test(v)) refuse(UPGRADE, `${where}${key} must be ${length} hex digits`);
  return v.toLowerCase();
}

function merge(name: string, values: (string | undefined)[]): string | undefined {
  let found: string | undefined;
  for (const v of values) {
    if (v === undefined) continue;
    if (found !== undefined && found !== v) refuse(UPGRADE, `conflicting ${name} digests ${found} and ${v}`);
    found = v;
  }
  return found;
}

function threshold(ext: Json, key: string): number | undefined {
  const v = ext[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) refuse(UPGRADE, `extData.${key} must be a number`);
  return v;
}

/** Device side: an upgrade message to a validated Offer. Throws OtaError(-1) with the reason on
 * anything malformed, hostile or not for this device; nothing else escapes. */
export function parseUpgrade(payload: Uint8Array | string, options: ParseUpgradeOptions = {}): ParsedUpgrade {
  const appModule = options.appModule ?? DEFAULT_MODULE;
  const o = decodeJson(payload, UPGRADE);
  if (o.code !== UPGRADE_OK_CODE) refuse(UPGRADE, `code ${JSON.stringify(o.code)} is not "${UPGRADE_OK_CODE}"`);
  const id = o.id;
  if (!(typeof id === "string" && id.length > 0 && id.length <= 64) && !(typeof id === "number" && Number.isSafeInteger(id))) {
    refuse(UPGRADE, "id must be an integer or a string of 1..64 characters");
  }
  const d = record(o.data, UPGRADE, "data");
  const module = optText(d, "module", UPGRADE, 32, NAME) ?? DEFAULT_MODULE;
  if (module !== appModule && !options.dataModules) refuse(UPGRADE, `module ${module} is not handled by this device (it updates ${appModule})`);
  const diff = d.isDiff === undefined ? 0 : integer(d, "isDiff", UPGRADE, 0, 1);
  if (module !== appModule && diff === 1) refuse(UPGRADE, `module ${module} is a data partition: it takes full images, not isDiff 1`);
  const method = d.signMethod;
  if (method !== "Md5" && method !== "SHA256") refuse(UPGRADE, `signMethod must be "Md5" or "SHA256", got ${JSON.stringify(method)}`);
  const sign = digestField(d, "sign", method === "Md5" ? 32 : 64, "") ?? refuse(UPGRADE, "missing digest: sign");
  const ext = d.extData === undefined ? {} : record(d.extData, UPGRADE, "extData");
  // A diff package's sign/md5 are the patch's: the image's digests are extData's alone.
  const patchMd5 = merge("md5", [method === "Md5" ? sign : undefined, digestField(d, "md5", 32, "")]);
  const md5 = diff === 1 ? digestField(ext, "md5", 32, "extData.") : merge("md5", [patchMd5, digestField(ext, "md5", 32, "extData.")]);
  const sha256 = diff === 1 ? digestField(ext, "sha256", 64, "extData.") : merge("sha256", [method === "SHA256" ? sign : undefined, digestField(ext, "sha256", 64, "extData.")]);
  const crc32 = digestField(ext, "crc32", 8, "extData.");
  for (const [name, v] of [["md5", md5], ["crc32", crc32], ["sha256", sha256]] as const) {
    if (v === undefined) {
      refuse(UPGRADE, diff === 1
        ? `missing digest ${name}: a differential package (isDiff 1) carries the target image's digests in extData`
        : `missing digest ${name}: signMethod ${method} gives only one; put ${name} in extData`);
    }
  }
  const candidate: Json = { component: module === appModule ? "app" : module, version: d.version, url: d.url, size: d.size, md5, crc32, sha256 };
  if (diff === 1) {
    const delta: Json = { baseVersion: orderableVersion(text(ext, "srcVersion", UPGRADE, 31, VERSION), UPGRADE, "extData.srcVersion"), size: d.size };
    const srcSha256 = digestField(ext, "srcSha256", 64, "extData.");
    if (srcSha256 !== undefined) delta.baseSha256 = srcSha256;
    candidate.size = integer(ext, "size", UPGRADE, 1, Number.MAX_SAFE_INTEGER);
    candidate.delta = delta;
  }
  // "sign" is a digest; a real signature is not supported yet and parseOffer refuses it.
  if (d.signature !== undefined) candidate.signature = d.signature;
  for (const k of ["minBattery", "minSignal", "requiredSpace"]) {
    const v = threshold(ext, k);
    if (v !== undefined) candidate[k] = v;
  }
  const offer = parseOffer(candidate);
  orderableVersion(offer.version, UPGRADE);
  return { id: id as number | string, module, offer };
}

// ---- progress -------------------------------------------------------------------------------

export interface ProgressReporterOptions {
  clock: ClockPort;
  send: (step: number, desc: string) => void;
  /** At most one message per this many ms (default 1000); the latest held step follows. */
  minIntervalMs?: number;
  /** Steps closer than this to the last sent one are dropped (default 5). */
  minStep?: number;
}

/** Progress steps for a slow link: never backwards, at most one per interval, and only when
 * they moved by minStep; 100 and the failure steps -1..-4 are always sent, and end the report. */
export class ProgressReporter {
  private readonly o: ProgressReporterOptions;
  private lastStep = 0;
  private lastAt: number | undefined;
  private held: { step: number; desc: string } | undefined;
  private timer: TimerHandle | undefined;
  private ended = false;

  constructor(options: ProgressReporterOptions) {
    this.o = options;
  }

  /** The last step sent (0 before the first). */
  get last(): number {
    return this.lastStep;
  }

  get finished(): boolean {
    return this.ended;
  }

  /** An intermediate step: percent is floored and clamped to 1..99 (100 is done()'s). */
  report(percent: number, desc: string): void {
    if (this.ended || !Number.isFinite(percent)) return;
    const step = Math.min(99, Math.floor(percent));
    if (step < 1 || step <= this.lastStep) return;
    if (this.lastAt !== undefined && step - this.lastStep < (this.o.minStep ?? 5)) return;
    const wait = this.lastAt === undefined ? 0 : this.lastAt + (this.o.minIntervalMs ?? 1000) - this.o.clock.now();
    if (wait <= 0) {
      this.send(step, desc);
      return;
    }
    this.held = { step, desc };
    if (!this.timer) {
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = undefined;
        const h = this.held;
        this.held = undefined;
        if (h && !this.ended && h.step > this.lastStep) this.send(h.step, h.desc);
      }, wait);
    }
  }

  /** Step 100: the update completed. */
  done(desc: string): void {
    this.end(100, desc);
  }

  /** A failure step, -1..-4. */
  fail(code: ErrorCodeValue, desc: string): void {
    this.end(code, desc);
  }

  /** Cancels a held step without sending it. */
  stop(): void {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.held = undefined;
  }

  private end(step: number, desc: string): void {
    if (this.ended) return;
    this.stop();
    this.ended = true;
    this.send(step, desc);
  }

  private send(step: number, desc: string): void {
    this.lastStep = Math.max(this.lastStep, step);
    this.lastAt = this.o.clock.now();
    this.o.send(step, desc);
  }
}

// ---- the device client ----------------------------------------------------------------------

export interface AlibabaOtaClientOptions {
  mqtt: MqttPort;
  clock: ClockPort;
  productKey: string;
  deviceName: string;
  /** The module this device updates and names in its messages. Undefined: messages carry no
   * module and only upgrades for DEFAULT_MODULE are taken. */
  module?: string;
  /** The running version (reported by inform and request). */
  version: () => string;
  /** Applies an offer: Agent.update, or anything with its contract. */
  update: (offer: Offer) => Promise<UpdateResult>;
  progress?: { minIntervalMs?: number; minStep?: number };
  /** An upgrade message was refused (malformed, hostile, not newer, busy): nothing changed. */
  onRefused?: (reason: string) => void;
  /** An update finished on this boot (it failed, or it staged and the device restarts; a data
   * module's: written, or failed). */
  onResult?: (result: UpdateResult) => void;
  /** Takes upgrades of other modules as data partitions of this name (see the file comment). */
  multi?: PlanUpdater;
}

/** The device end of the dialect: subscribes to upgrade, informs its version at start-up and
 * after an update, reports progress, and the failure step when an update fails. */
export class AlibabaOtaClient {
  readonly topics: AlibabaTopics;
  private readonly o: AlibabaOtaClientOptions;
  private seq = 0;
  private reporter: ProgressReporter | undefined;
  private running: Promise<UpdateResult> | undefined;

  constructor(options: AlibabaOtaClientOptions) {
    this.o = options;
    this.topics = alibabaTopics(options.productKey, options.deviceName);
  }

  /** Subscribes, reports how the update before this boot ended (step 100 or its failure step),
   * then informs the running version. Pass agent.boot()'s report. */
  start(boot?: BootReport): void {
    this.o.mqtt.onMessage((topic, payload) => {
      if (topic === this.topics.upgrade) this.onUpgrade(payload);
    });
    this.o.mqtt.subscribe(this.topics.upgrade);
    const last = boot?.lastUpdate;
    if (last) {
      if (last.ok) this.publishProgress(100, last.reason);
      else this.publishProgress(last.errorCode, last.reason);
    }
    this.inform();
    const versions = this.o.multi?.components() ?? {};
    for (const m in versions) this.informModule(m, versions[m]);
  }

  inform(): void {
    this.o.mqtt.publish(this.topics.inform, encodeInform({ id: this.nextId(), version: this.o.version(), module: this.o.module }));
  }

  /** Informs the installed version of a data module. */
  informModule(module: string, version: string): void {
    this.o.mqtt.publish(this.topics.inform, encodeInform({ id: this.nextId(), version, module }));
  }

  /** Asks the cloud for the latest package. */
  request(): void {
    this.o.mqtt.publish(this.topics.request, encodeRequest({ id: this.nextId(), version: this.o.version(), module: this.o.module }));
  }

  /** Feed the agent's progress here (AgentOptions.onProgress). */
  progress(p: Progress): void {
    this.reporter?.report(p.percent, p.phase === "download" ? "downloading" : p.phase);
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** The update in progress, if any. */
  current(): Promise<UpdateResult> | undefined {
    return this.running;
  }

  /** Handles one upgrade payload (also called by the subscription). */
  onUpgrade(payload: Uint8Array): void {
    if (this.running) {
      this.o.onRefused?.("an update is already in progress");
      return;
    }
    let offer: Offer;
    const multi = this.o.multi;
    try {
      offer = parseUpgrade(payload, { appModule: this.o.module ?? DEFAULT_MODULE, dataModules: multi !== undefined }).offer;
      if (multi && offer.component !== "app") {
        const have = multi.installed(offer.component);
        if (have !== undefined && compareVersions(offer.version, have) <= 0) {
          throw new OtaError(ErrorCode.UpdateFailed, `module ${offer.component} ${offer.version} is not newer than the installed ${have}`);
        }
        this.running = this.applyModule(multi, offer);
        return;
      }
      const running = this.o.version();
      if (compareVersions(offer.version, running) <= 0) {
        throw new OtaError(ErrorCode.UpdateFailed, `version ${offer.version} is not newer than the running ${running}`);
      }
    } catch (e) {
      const reason = e instanceof OtaError ? e.reason : errorMessage(e);
      this.o.onRefused?.(reason);
      this.publishProgress(ErrorCode.UpdateFailed, reason);
      return;
    }
    this.running = this.apply(offer);
  }

  /** One data module's task: written in place; its result and, once written, its version. */
  private async applyModule(multi: PlanUpdater, offer: Offer): Promise<UpdateResult> {
    const from = multi.installed(offer.component) ?? "";
    let code: number = ErrorCode.UpdateFailed;
    let reason: string;
    try {
      const steps = new ProgressReporter({ clock: this.o.clock, send: (step, desc) => this.publish(offer.component, step, desc), ...this.o.progress });
      const outcome = await multi.apply({ taskId: "module", components: [offer] }, (_c, p) => steps.report(p.percent, "downloading")).finally(() => steps.stop());
      const r = outcome.results[0];
      code = r ? r.errorCode : ErrorCode.UpdateFailed;
      reason = r ? r.reason : `module ${offer.component}: no result`;
    } catch (e) {
      code = e instanceof OtaError ? e.code : ErrorCode.UpdateFailed;
      reason = e instanceof OtaError ? e.reason : errorMessage(e);
    }
    this.running = undefined;
    const ok = code === 0;
    try {
      this.publish(offer.component, ok ? 100 : code, ok ? reason : `${offer.component} ${offer.version}: ${reason}`);
      if (ok) this.informModule(offer.component, offer.version);
    } catch {
      // The link went away: the next start() informs the module's version.
    }
    const r: UpdateResult = { ok, errorCode: code as UpdateResult["errorCode"], reason, component: offer.component, fromVersion: from, toVersion: offer.version };
    this.o.onResult?.(r);
    return r;
  }

  private publish(module: string, step: number, desc: string): void {
    this.o.mqtt.publish(this.topics.progress, encodeProgress({ id: this.nextId(), step, desc, module }));
  }

  private async apply(offer: Offer): Promise<UpdateResult> {
    const reporter = new ProgressReporter({
      clock: this.o.clock,
      send: (step, desc) => this.publishProgress(step, desc),
      ...this.o.progress,
    });
    this.reporter = reporter;
    let r: UpdateResult;
    try {
      r = await this.o.update(offer);
    } catch (e) {
      r = { ok: false, errorCode: ErrorCode.UpdateFailed, reason: errorMessage(e), component: offer.component, fromVersion: this.o.version(), toVersion: offer.version };
    }
    this.reporter = undefined;
    this.running = undefined;
    try {
      if (r.ok) {
        // Staged: the device restarts; 100 follows from start() once the new image confirmed.
        reporter.stop();
        if (reporter.last < 99) this.publishProgress(99, r.reason);
      } else {
        reporter.fail(r.errorCode === 0 ? ErrorCode.UpdateFailed : r.errorCode, r.reason);
        this.inform();
      }
    } catch {
      // The link (or the board) went away with the update: the next start() reports the outcome.
    }
    this.o.onResult?.(r);
    return r;
  }

  private publishProgress(step: number, desc: string): void {
    this.o.mqtt.publish(this.topics.progress, encodeProgress({ id: this.nextId(), step, desc, module: this.o.module }));
  }

  private nextId(): string {
    return String(++this.seq);
  }
}
