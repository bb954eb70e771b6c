// The device side of the HTTP manifest dialect as `xs-ota server` speaks it
// (host-sim/server/dialects.ts handleHttpDialect):
//   GET  {server}/d/{product}/{device}/manifest.json?version={running}   the offer due, or 304
//   POST {server}/d/{product}/{device}/report                            Alibaba progress JSON
// The running version travels in every poll, so the server judges success when the device polls
// with the target version after its reboot. Reports: at start, the settled last update (100, or
// its error code -1..-4 and reason); during an update 1..98 (throttled), 99 when staged (the
// device restarts), -1..-4 on failure; -1 with the policy's reason when an offer is refused.

import { ErrorCode, OtaError } from "../errors.ts";
import type { Offer } from "../agent/offer.ts";
import type { Readings } from "../agent/policy.ts";
import type { BootReport, Progress, UpdateResult } from "../agent/types.ts";
import type { ClockPort, HttpPort } from "../ports.ts";
import { ProgressReporter, encodeProgress } from "./alibaba-mqtt.ts";
import { HttpReporter, ManifestPoller, type PollOutcome } from "./http-manifest.ts";

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
  /** Between polls (default one hour); failed polls back off from backoffMs up to backoffMaxMs. */
  pollMs?: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  timeoutMs?: number;
  /** Progress throttling (ProgressReporter's; defaults 1 s and 5 steps). */
  progress?: { minIntervalMs?: number; minStep?: number };
  /** False while the device can send nothing (a simulated power loss): reports are dropped. */
  canSend?: () => boolean;
  /** After an update ran and its reports were sent. */
  onResult?: (r: UpdateResult) => void;
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
      onPoll: (outcome) => {
        if (outcome.kind === "rejected") this.post(ErrorCode.UpdateFailed, outcome.reason);
        o.onPoll?.(outcome);
      },
    });
  }

  /** Reports the settled last update, then polls now and on the schedule until stop(). */
  start(): void {
    const last = this.o.report.lastUpdate;
    if (last) this.post(last.ok ? 100 : last.errorCode, last.reason);
    this.poller.start();
  }

  /** The agent's onProgress goes here during an update. */
  progress(p: Progress): void {
    this.steps?.report(p.percent, p.phase);
  }

  stop(): void {
    this.poller.stop();
    this.steps?.stop();
  }

  /** Resolves when every queued report was sent (or dropped). */
  idle(): Promise<void> {
    return this.reporter.idle();
  }

  private post(step: number, desc: string): void {
    if (this.o.canSend && !this.o.canSend()) return;
    this.reporter.send(encodeProgress({ id: String(++this.seq), step, desc }));
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
