// The device side of the HTTP manifest dialect as `xs-ota server` speaks it
// (host-sim/server/dialects.ts handleHttpDialect):
//   GET  {server}/d/{product}/{device}/manifest.json?version={running}   the offer due, or 304
//   POST {server}/d/{product}/{device}/report                            Alibaba progress JSON
// The running version travels in every poll, so the server judges success when the device polls
// with the target version after its reboot. Reports: at start, the settled last update (100, or
// its error code -1..-4 and reason); during an update 1..98 (throttled), 99 when staged (the
// device restarts), -1..-4 on failure; -1 with the policy's reason when an offer is refused.
// Multi-component plans (a manifest with `components`, given the `multi` option): every poll
// also carries the data components' versions (&components=assets@1.1.0,…) so the server judges
// success by all of them; reports name their component in `module`: 1..99 for the app's
// download and staging, each component's result (100, or its error code with the component and
// version leading the reason). A plan the app's reboot interrupted is resumed by start() before
// the first poll.

import { ErrorCode, OtaError } from "../errors.ts";
import type { Offer } from "../agent/offer.ts";
import type { Readings } from "../agent/policy.ts";
import type { BootReport, Progress, UpdateResult } from "../agent/types.ts";
import type { ClockPort, HttpPort } from "../ports.ts";
import { ProgressReporter, encodeProgress } from "./alibaba-mqtt.ts";
import { HttpReporter, ManifestPoller, type PollOutcome } from "./http-manifest.ts";
import type { ComponentProgress, ComponentResult, MultiOutcome, MultiPlan, PlanUpdater } from "./multi-component.ts";

/** Longest product key or device name the server's routes accept. */
const MAX_NAME = 64;

export interface HttpDeviceOptions {
  http: HttpPort;
  clock: ClockPort;
  /** http://host:port of the server (no trailing slash needed). */
  server: string;
  product: string;
  device: string;
  /** What agent.boot() returned: the running version and the settled last update. */
  report: BootReport;
  readings: () => Readings;
  /** Usually agent.update: downloads, verifies, stages and restarts on success. */
  update: (offer: Offer) => Promise<UpdateResult>;
  /** Takes multi-component manifests: a MultiComponentUpdater on the same agent. Without it a
   * manifest with components is refused. */
  multi?: PlanUpdater;
  /** Between polls (default one hour); failed polls back off from backoffMs up to backoffMaxMs. */
  pollMs?: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  timeoutMs?: number;
  /** Progress throttling (ProgressReporter's; defaults 1 s and 5 steps). */
  progress?: { minIntervalMs?: number; minStep?: number };
  /** False while the device can send nothing (a simulated power loss): reports are dropped. */
  canSend?: () => boolean;
  /** After an update ran and its reports were sent (a plan: its failing component's result, or
   * its last one). */
  onResult?: (r: UpdateResult) => void;
  /** After a multi-component plan ran (or resumed) and its reports were sent. */
  onPlan?: (o: MultiOutcome) => void;
  onPoll?: (outcome: PollOutcome) => void;
}

/** Characters of the server's product and device routes: A-Z a-z 0-9 _ . : - (parsed by hand). */
function routeName(value: string, what: string): string {
  let ok = value.length >= 1 && value.length <= MAX_NAME;
  for (let i = 0; ok && i < value.length; i++) {
    const c = value.charCodeAt(i);
    ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
  }
  if (!ok) throw new OtaError(ErrorCode.UpdateFailed, `${what} ${JSON.stringify(value)} must be 1..${MAX_NAME} of A-Z a-z 0-9 _ . : -`);
  return value;
}

export class HttpDevice {
  readonly poller: ManifestPoller;
  private readonly reporter: HttpReporter;
  private readonly o: HttpDeviceOptions;
  private steps: ProgressReporter | undefined;
  /** While a multi-component plan runs: the component `steps` reports for. */
  private stepsComponent: string | undefined;
  private inPlan = false;
  private seq = 0;

  constructor(o: HttpDeviceOptions) {
    this.o = o;
    let server = o.server;
    while (server.endsWith("/")) server = server.slice(0, -1);
    const base = `${server}/d/${routeName(o.product, "product")}/${routeName(o.device, "device")}`;
    this.reporter = new HttpReporter(o.http, o.clock, `${base}/report`);
    this.poller = new ManifestPoller({
      http: o.http,
      clock: o.clock,
      url: `${base}/manifest.json?version=${encodeURIComponent(o.report.version)}`,
      version: () => o.report.version,
      readings: o.readings,
      intervalMs: o.pollMs,
      backoffMs: o.backoffMs,
      backoffMaxMs: o.backoffMaxMs,
      timeoutMs: o.timeoutMs,
      update: (offer) => this.run(offer),
      updatePlan: o.multi ? (plan) => this.runPlan(plan) : undefined,
      installed: o.multi ? (c) => o.multi!.installed(c) : undefined,
      query: o.multi ? () => componentsQuery(o.multi!.components()) : undefined,
      onPoll: (outcome) => {
        if (outcome.kind === "rejected") this.post(ErrorCode.UpdateFailed, outcome.reason);
        o.onPoll?.(outcome);
      },
    });
  }

  /** Reports the settled last update (or resumes the plan the app's reboot interrupted), then
   * polls now and on the schedule until stop(). */
  start(): void {
    const pending = this.o.multi?.pending();
    if (pending) {
      void this.resumePlan(pending);
      return;
    }
    const last = this.o.report.lastUpdate;
    if (last) this.post(last.ok ? 100 : last.errorCode, last.reason);
    this.poller.start();
  }

  /** The agent's onProgress goes here during an update. */
  progress(p: Progress): void {
    (this.inPlan ? this.stepsOf("app") : this.steps)?.report(p.percent, p.phase);
  }

  /** During a plan, the progress steps of one component (a new reporter when it changes). */
  private stepsOf(component: string): ProgressReporter {
    if (this.steps && this.stepsComponent === component) return this.steps;
    this.steps?.stop();
    this.stepsComponent = component;
    this.steps = new ProgressReporter({ clock: this.o.clock, send: (s, d) => this.post(s, d, component), ...this.o.progress });
    return this.steps;
  }

  /** Runs one step of a plan with its components' progress reported under their names. */
  private async inPlanSteps<T>(f: (onProgress: ComponentProgress) => Promise<T>): Promise<T> {
    this.inPlan = true;
    try {
      return await f((component, p) => this.stepsOf(component).report(p.percent, p.phase));
    } finally {
      this.steps?.stop();
      this.steps = undefined;
      this.stepsComponent = undefined;
      this.inPlan = false;
    }
  }

  stop(): void {
    this.poller.stop();
    this.steps?.stop();
  }

  /** Resolves when every queued report was sent (or dropped). */
  idle(): Promise<void> {
    return this.reporter.idle();
  }

  private post(step: number, desc: string, module?: string): void {
    if (this.o.canSend && !this.o.canSend()) return;
    this.reporter.send(encodeProgress({ id: String(++this.seq), step, desc, module }));
  }

  private async resumePlan(pending: MultiPlan & { recorded: number }): Promise<void> {
    let outcome: MultiOutcome | undefined;
    try {
      outcome = await this.inPlanSteps((onProgress) => this.o.multi!.resume(this.o.report, onProgress));
    } catch (e) {
      outcome = undefined;
      this.post(ErrorCode.UpdateFailed, e instanceof OtaError ? e.reason : String(e));
    }
    if (outcome) {
      const staged = await this.settlePlan(outcome, outcome.results.slice(pending.recorded), pending);
      if (staged) return;
    }
    this.poller.start();
  }

  private async runPlan(plan: MultiPlan): Promise<MultiOutcome> {
    let outcome: MultiOutcome;
    try {
      outcome = await this.inPlanSteps((onProgress) => this.o.multi!.apply(plan, onProgress));
    } catch (e) {
      const first = plan.components[0];
      const code = e instanceof OtaError ? e.code : ErrorCode.UpdateFailed;
      outcome = { status: "failed", results: [{ component: first.component, version: first.version, ok: false, errorCode: code, reason: e instanceof OtaError ? e.reason : String(e) }] };
    }
    await this.settlePlan(outcome, outcome.results, plan);
    return outcome;
  }

  /** Reports a plan's new results (and the app staged), then tells the application. True when
   * the device restarts. */
  private async settlePlan(outcome: MultiOutcome, fresh: ComponentResult[], plan: MultiPlan): Promise<boolean> {
    for (const r of fresh) this.post(r.ok ? 100 : r.errorCode, r.ok ? r.reason : `${r.component} ${r.version}: ${r.reason}`, r.component);
    const restarting = outcome.status === "restarting";
    if (restarting) this.post(99, "app staged", "app");
    await this.reporter.idle();
    const failed = outcome.results.find((r) => !r.ok);
    const last = failed ?? outcome.results[outcome.results.length - 1];
    const app = plan.components.find((c) => c.component === "app");
    const from = this.o.report.version;
    if (restarting && app) this.o.onResult?.({ ok: true, errorCode: 0, reason: "app staged", component: "app", fromVersion: from, toVersion: app.version });
    else if (last) this.o.onResult?.({ ok: last.ok, errorCode: last.errorCode, reason: last.reason, component: last.component, fromVersion: from, toVersion: last.version });
    this.o.onPlan?.(outcome);
    return restarting;
  }

  private async run(offer: Offer): Promise<UpdateResult> {
    const steps = new ProgressReporter({ clock: this.o.clock, send: (s, d) => this.post(s, d), ...this.o.progress });
    this.steps = steps;
    let r: UpdateResult;
    try {
      r = await this.o.update(offer);
    } finally {
      steps.stop();
      this.steps = undefined;
    }
    if (!r.ok) steps.fail(r.errorCode === 0 ? ErrorCode.UpdateFailed : r.errorCode, r.reason);
    else if (steps.last < 99) this.post(99, r.reason);
    await this.reporter.idle();
    this.o.onResult?.(r);
    return r;
  }
}

/** The data components' versions as a poll's query parameter (components=assets@1.1.0,…). */
function componentsQuery(versions: Record<string, string>): string {
  const parts: string[] = [];
  for (const k in versions) if (k !== "app") parts.push(`${encodeURIComponent(k)}@${encodeURIComponent(versions[k])}`);
  return parts.length === 0 ? "" : `components=${parts.join(",")}`;
}
