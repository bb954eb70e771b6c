// HTTP manifest polling, for devices without MQTT: a JSON document at a URL names the current
// image with the fields of an offer (component, version, url, size, md5, crc32, sha256, and the
// optional minBattery, minSignal, requiredSpace), e.g.
//   {"component":"app","version":"2.0.0","url":"https://…/app-2.0.0.bin","size":1048576,
//    "md5":"…","crc32":"…","sha256":"…","minBattery":30}
// A delta package is a manifest whose `url` serves a patch, with `delta: {baseVersion, baseSha256?,
// size}` as in an offer (a server that knows the device's version answers it: ?version=...). A
// static manifest may instead list patches for several running versions next to the full image:
//   {…the full image's fields…, "deltas":[{"baseVersion":"1.0.0","baseSha256":"…"?,"size":4096,
//    "url":"https://…/app-1.0.0-2.0.0.patch"}, …]}   (at most MAX_DELTAS entries)
// The device takes the entry whose baseVersion is the version it runs, and the full image when no
// entry is; every entry is checked either way (a malformed one refuses the manifest).
// A plan of several components (the app and data partitions, src/protocol/multi-component.ts)
// is a manifest of their offers in the order they are applied, and nothing else:
//   {"taskId":"plan-3","components":[{"component":"app",…offer…},{"component":"assets",…}]}
// (1..5 distinct components; an entry holds only offer fields; `deltas` is not allowed). The
// device applies the components newer than what it has, through the `updatePlan` option.
// The poller fetches it on a schedule (If-None-Match with the last ETag), validates it with
// parseOffer, asks the policy, and hands a newer, accepted offer to the update function. A poll
// that fails (network, status, malformed document) is retried with capped exponential backoff
// and jitter; a successful poll waits the normal interval. Timers are the ClockPort's.

import { ErrorCode, OtaError, errorMessage } from "../errors.ts";
import { OFFER_FIELDS, parseOffer, type Offer } from "../agent/offer.ts";
import { decide, type Readings } from "../agent/policy.ts";
import type { UpdateResult } from "../agent/types.ts";
import { compareVersions } from "../agent/version.ts";
import type { ClockPort, HttpExchange, HttpHeaders, HttpPort, TimerHandle } from "../ports.ts";
import { MAX_PAYLOAD, decodeJson, orderableVersion, record, refuse, type Json } from "./payload.ts";
import { concatBytes } from "../util/bytes.ts";
import { parseMultiPlan, type MultiOutcome, type MultiPlan } from "./multi-component.ts";

/** Most patches one manifest lists (`deltas`). */
export const MAX_DELTAS = 16;

const MANIFEST = "bad manifest";

/** The offer a manifest document makes to a device running `running`: the patch listed for that
 * version in `deltas`, else the document itself (a full image, or one `delta`). Throws
 * OtaError(-1) on anything malformed. */
export function manifestOffer(doc: Json, running: string): Offer {
  if (doc.deltas === undefined) return parseOffer(doc);
  if (doc.delta !== undefined) refuse(MANIFEST, "a manifest has delta or deltas, not both");
  const list = doc.deltas;
  if (!Array.isArray(list) || list.length > MAX_DELTAS) refuse(MANIFEST, `deltas must be an array of at most ${MAX_DELTAS} entries`);
  const full: Json = {};
  for (const k of ["component", "version", "url", "size", "md5", "crc32", "sha256", "signature", "minBattery", "minSignal", "requiredSpace"]) {
    if (doc[k] !== undefined) full[k] = doc[k];
  }
  const offer = parseOffer(full);
  let chosen: Offer | undefined;
  const seen: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const e = record(list[i], MANIFEST, `deltas[${i}]`);
    const delta: Json = { baseVersion: e.baseVersion, size: e.size };
    if (e.baseSha256 !== undefined) delta.baseSha256 = e.baseSha256;
    const patch = parseOffer({ ...full, url: e.url, delta });
    const base = patch.delta!.baseVersion;
    orderableVersion(base, MANIFEST, `deltas[${i}].baseVersion`);
    if (seen.includes(base)) refuse(MANIFEST, `deltas lists two patches from ${base}`);
    seen.push(base);
    if (base === running) chosen = patch;
  }
  return chosen ?? offer;
}

const PLAN_KEYS = Object.freeze(["taskId", "components"]);

/** A manifest of several components (it has `components`): the plan, checked strictly. Throws
 * OtaError(-1) on anything malformed. */
export function manifestPlan(doc: Json): MultiPlan {
  for (const k in doc) if (PLAN_KEYS.indexOf(k) < 0) refuse(MANIFEST, `a manifest with components holds only taskId and components, not ${k}`);
  const list = doc.components;
  if (!Array.isArray(list)) refuse(MANIFEST, "components must be an array");
  for (let i = 0; i < list.length; i++) {
    const e = record(list[i], MANIFEST, `components[${i}]`);
    for (const k in e) if (OFFER_FIELDS.indexOf(k as (typeof OFFER_FIELDS)[number]) < 0) refuse(MANIFEST, `components[${i}] has ${k}, which is not an offer field`);
  }
  return parseMultiPlan(doc);
}

export type PollOutcome =
  /** The manifest names the running version, or an older one. */
  | { kind: "current"; version: string }
  /** 304: the manifest did not change since the last poll. */
  | { kind: "not-modified" }
  /** A newer offer the policy turned down (battery, signal, space): nothing changed. */
  | { kind: "rejected"; offer: Offer; reason: string }
  /** The update ran: ok means staged (the device restarts), else its error. */
  | { kind: "updated"; offer: Offer; result: UpdateResult }
  /** A components manifest ran (those newer than what the device has, in plan order). */
  | { kind: "updated-plan"; plan: MultiPlan; outcome: MultiOutcome }
  /** The poll failed (network, status, malformed or hostile document): retried with backoff. */
  | { kind: "error"; reason: string };

export interface ManifestPollerOptions {
  http: HttpPort;
  clock: ClockPort;
  url: string;
  version: () => string;
  readings: () => Readings;
  update: (offer: Offer) => Promise<UpdateResult>;
  /** Applies a components manifest's plan (MultiComponentUpdater.apply); without it such a
   * manifest is refused. */
  updatePlan?: (plan: MultiPlan) => Promise<MultiOutcome>;
  /** The installed version of a component other than the app (undefined: none known). */
  installed?: (component: string) => string | undefined;
  /** More query parameters for each poll (e.g. the components' versions), without `?` or `&`. */
  query?: () => string;
  /** The component this device takes from the manifest (default "app"). */
  component?: string;
  /** Between successful polls (default one hour). */
  intervalMs?: number;
  /** First retry delay after a failed poll, doubled each time up to backoffMaxMs (defaults 30 s, 1 h). */
  backoffMs?: number;
  backoffMaxMs?: number;
  /** A poll that receives nothing for this long fails (default 15 s). */
  timeoutMs?: number;
  /** Largest manifest accepted (default 16 KiB). */
  maxBytes?: number;
  onPoll?: (outcome: PollOutcome) => void;
}

export class ManifestPoller {
  private readonly o: ManifestPollerOptions;
  private timer: TimerHandle | undefined;
  private etag: string | undefined;
  private failuresInRow = 0;
  private stopped = true;
  private polling: Promise<PollOutcome> | undefined;

  constructor(options: ManifestPollerOptions) {
    if (!/^https?:\/\/[^\s]+$/.test(options.url)) throw new OtaError(ErrorCode.UpdateFailed, `manifest url must be http:// or https://`);
    this.o = options;
  }

  /** Consecutive failed polls (the backoff exponent). */
  get failures(): number {
    return this.failuresInRow;
  }

  /** Polls now, then on the schedule until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The delay before the next poll after this outcome. */
  delayAfter(outcome: PollOutcome): number {
    if (outcome.kind !== "error") return this.o.intervalMs ?? 3600_000;
    const base = this.o.backoffMs ?? 30_000;
    const cap = this.o.backoffMaxMs ?? 3600_000;
    const exp = Math.min(cap, base * 2 ** Math.max(0, this.failuresInRow - 1));
    return Math.floor(exp / 2 + this.o.clock.random() * (exp / 2));
  }

  /** One poll (at most one runs at a time). */
  pollOnce(): Promise<PollOutcome> {
    if (!this.polling) {
      this.polling = this.poll().then((outcome) => {
        this.polling = undefined;
        this.failuresInRow = outcome.kind === "error" ? this.failuresInRow + 1 : 0;
        this.o.onPoll?.(outcome);
        return outcome;
      });
    }
    return this.polling;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.pollOnce().then((outcome) => {
        // A staged update restarts the device; on a host the restart returns, so stop here.
        if ((outcome.kind === "updated" && outcome.result.ok) || (outcome.kind === "updated-plan" && outcome.outcome.status === "restarting")) this.stop();
        else this.schedule(this.delayAfter(outcome));
      });
    }, ms);
  }

  private async poll(): Promise<PollOutcome> {
    let body: Uint8Array | undefined;
    try {
      body = await this.fetch();
    } catch (e) {
      return { kind: "error", reason: e instanceof OtaError ? e.reason : errorMessage(e) };
    }
    if (body === undefined) return { kind: "not-modified" };
    let offer: Offer;
    try {
      const doc = decodeJson(body, "bad manifest", this.o.maxBytes ?? MAX_PAYLOAD);
      if (doc.components !== undefined) return await this.plan(manifestPlan(doc));
      offer = manifestOffer(doc, this.o.version());
      orderableVersion(offer.version, "bad manifest");
      const component = this.o.component ?? "app";
      if (offer.component !== component) throw new OtaError(ErrorCode.UpdateFailed, `bad manifest: component ${offer.component}, this device updates ${component}`);
      if (compareVersions(offer.version, this.o.version()) <= 0) return { kind: "current", version: offer.version };
    } catch (e) {
      this.etag = undefined; // fetch it whole next time
      return { kind: "error", reason: e instanceof OtaError ? e.reason : errorMessage(e) };
    }
    const decision = decide(offer, this.o.readings());
    if (!decision.accept) return { kind: "rejected", offer, reason: decision.reason };
    let result: UpdateResult;
    try {
      result = await this.o.update(offer);
    } catch (e) {
      result = { ok: false, errorCode: ErrorCode.UpdateFailed, reason: errorMessage(e), component: offer.component, fromVersion: this.o.version(), toVersion: offer.version };
    }
    return { kind: "updated", offer, result };
  }

  /** A components manifest: applies those newer than installed, in plan order. The app's offer
   * goes through the policy here; data components through the updater's. */
  private async plan(all: MultiPlan): Promise<PollOutcome> {
    const update = this.o.updatePlan;
    if (!update) refuse(MANIFEST, "it lists components; this device takes one image (no updatePlan)");
    const installed = (c: string) => (c === "app" ? this.o.version() : this.o.installed?.(c));
    const due: Offer[] = [];
    for (const c of all.components) {
      orderableVersion(c.version, MANIFEST);
      const have = installed(c.component);
      if (have === undefined || compareVersions(c.version, have) > 0) due.push(c);
    }
    if (due.length === 0) return { kind: "current", version: this.o.version() };
    const plan: MultiPlan = { taskId: all.taskId, components: due };
    for (const c of due) {
      if (c.component !== "app") continue;
      const decision = decide(c, this.o.readings());
      if (!decision.accept) return { kind: "rejected", offer: c, reason: decision.reason };
    }
    let outcome: MultiOutcome;
    try {
      outcome = await update(plan);
    } catch (e) {
      const first = due[0];
      const reason = e instanceof OtaError ? e.reason : errorMessage(e);
      outcome = { status: "failed", results: [{ component: first.component, version: first.version, ok: false, errorCode: e instanceof OtaError ? e.code : ErrorCode.UpdateFailed, reason }] };
    }
    return { kind: "updated-plan", plan, outcome };
  }

  private url(): string {
    const extra = this.o.query?.() ?? "";
    if (extra === "") return this.o.url;
    return `${this.o.url}${this.o.url.indexOf("?") < 0 ? "?" : "&"}${extra}`;
  }

  /** GETs the manifest: its bytes, or undefined on 304. Throws OtaError(-2) on failure. */
  private fetch(): Promise<Uint8Array | undefined> {
    const max = this.o.maxBytes ?? MAX_PAYLOAD;
    const headers: HttpHeaders = { accept: "application/json" };
    if (this.etag !== undefined) headers["if-none-match"] = this.etag;
    return new Promise((resolve, reject) => {
      const parts: Uint8Array[] = [];
      let length = 0;
      let settled = false;
      let status = 0;
      let etag: string | undefined;
      const timeoutMs = this.o.timeoutMs ?? 15_000;
      let timer = this.o.clock.setTimeout(() => fail(`no answer for ${timeoutMs} ms`), timeoutMs);
      let exchange: HttpExchange | undefined;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        this.o.clock.clearTimeout(timer);
        f();
      };
      const fail = (reason: string) => finish(() => {
        exchange?.abort();
        reject(new OtaError(ErrorCode.DownloadFailed, `manifest ${this.o.url}: ${reason}`));
      });
      exchange = this.o.http.request({ url: this.url(), method: "GET", headers }, {
        response: (s, h) => {
          status = s;
          etag = h["etag"];
          if (s === 304) return finish(() => {
            exchange?.abort();
            resolve(undefined);
          });
          if (s !== 200) fail(`HTTP ${s}`);
          const declared = h["content-length"];
          if (declared !== undefined && Number(declared) > max) fail(`manifest of ${declared} bytes is larger than ${max}`);
        },
        data: (chunk) => {
          if (settled) return;
          length += chunk.length;
          if (length > max) return fail(`manifest larger than ${max} bytes`);
          parts.push(chunk.slice());
          this.o.clock.clearTimeout(timer);
          timer = this.o.clock.setTimeout(() => fail(`stalled for ${timeoutMs} ms`), timeoutMs);
        },
        end: () => finish(() => {
          if (status !== 200) return reject(new OtaError(ErrorCode.DownloadFailed, `manifest ${this.o.url}: HTTP ${status}`));
          this.etag = etag;
          resolve(concatBytes(...parts));
        }),
        error: (reason) => fail(reason),
      });
    });
  }
}

/** Reports for devices without MQTT: POSTs each payload (JSON) to a URL, one at a time and in
 * order, so a progress report never overtakes the one before it. Failures are dropped (a report
 * is advisory; the next poll shows the version). */
export class HttpReporter {
  private queue: Uint8Array[] = [];
  private busy = false;
  private idleWaiters: (() => void)[] = [];

  private readonly http: HttpPort;
  private readonly clock: ClockPort;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(http: HttpPort, clock: ClockPort, url: string, timeoutMs = 5000) {
    this.http = http;
    this.clock = clock;
    this.url = url;
    this.timeoutMs = timeoutMs;
  }

  send(payload: Uint8Array): void {
    this.queue.push(payload);
    if (!this.busy) this.next();
  }

  /** Resolves when every queued report was sent (or dropped). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const body = this.queue.shift();
    if (!body) {
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.busy = true;
    let done = false;
    let exchange: HttpExchange | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      this.clock.clearTimeout(timer);
      this.next();
    };
    const timer = this.clock.setTimeout(() => {
      exchange?.abort();
      finish();
    }, this.timeoutMs);
    exchange = this.http.request(
      { url: this.url, method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body },
      { response: () => undefined, data: () => undefined, end: finish, error: finish },
    );
  }
}
