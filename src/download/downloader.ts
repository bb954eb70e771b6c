// Resumable download over the Http port. It asks for `Range: bytes=N-` with `If-Range` from the
// sink's position and checks every answer before a byte reaches the sink:
//   206 with the expected Content-Range        -> append at N
//   200 (Range ignored, If-Range mismatch)     -> the sink starts again at 0; a 200 body is never
//                                                 written at N (the esp_https_ota PR #17960 bug)
//   416, or a 206 carrying another validator   -> start again at 0
//   inconsistent Content-Length/Content-Range  -> error, retry
//   truncated body, stall, too slow, connection error, request refused by the port
//                                              -> resume from the sink's position
//   5xx, 408, 429                               -> retry
//   other statuses                              -> fail at once
// A request that moved the position by at least minProgressBytes since the last one that did is
// progress: the next request goes at once and the failure count starts again. Any other retry
// waits a capped exponential backoff with jitter first, and after maxFailures of them in a row
// the download fails with -2, as it does when the deadline passes. A request is cut off when no
// byte came for stallMs, or when fewer than minRateBytesPerSec came over a rateWindowMs window,
// so neither a silent nor a trickling server holds the device.
// Every timer is the ClockPort's and none outlives download(): each exchange clears its own
// when it settles, and a backoff sleep ends before the next step.

import type { ClockPort, HttpExchange, HttpHeaders, HttpPort, TimerHandle } from "../ports.ts";
import { ErrorCode, OtaError, errorMessage } from "../errors.ts";
import { parseContentRange, parseLength, rangeFrom } from "./content-range.ts";

export interface DownloadSink {
  /** Bytes the sink holds; a request resumes from here. */
  readonly position: number;
  /** Throw away everything and start again at byte 0 (called before any byte of the new body). */
  restart(validator: string | undefined): void;
  /** The validator of the body being received, first seen at offset 0. */
  setValidator(validator: string | undefined): void;
  data(chunk: Uint8Array): void;
}

/** How hard the downloader tries, and when it gives up. The defaults suit a cellular modem
 * (seconds of latency, minutes of dead air, metered bytes): see DOWNLOAD_DEFAULTS. */
export interface DownloadTuning {
  /** A request with no byte for this long is cut off and resumed (default 30 000 ms). */
  stallMs?: number;
  /** A request that brings fewer than this many bytes per second over a rateWindowMs window is
   * cut off like a stall (default 512 B/s; 0 turns the check off). */
  minRateBytesPerSec?: number;
  /** The window of the rate check, from the start of each request (default 60 000 ms). */
  rateWindowMs?: number;
  /** The whole download fails with -2 this long after it started (default: no deadline). */
  deadlineMs?: number;
  /** Retries in a row without progress before the download fails with -2 (default 8). */
  maxFailures?: number;
  /** Bytes the position must move (since the last request that counted) for a request to count
   * as progress: no backoff, failure count reset (default 4096, one flash sector, the unit the
   * agent makes durable). */
  minProgressBytes?: number;
  /** First backoff (default 1000 ms); it doubles per failure in a row, up to backoffMaxMs
   * (default 60 000 ms), and each wait is drawn from [half, all] of it (jitter). */
  backoffMs?: number;
  backoffMaxMs?: number;
}

export const DOWNLOAD_DEFAULTS: Readonly<Required<Omit<DownloadTuning, "deadlineMs">>> = Object.freeze({
  stallMs: 30000,
  minRateBytesPerSec: 512,
  rateWindowMs: 60000,
  maxFailures: 8,
  minProgressBytes: 4096,
  backoffMs: 1000,
  backoffMaxMs: 60000,
});

export interface DownloadOptions extends DownloadTuning {
  url: string;
  size: number;
  /** Validator of the bytes already in the sink (ETag or Last-Modified). */
  validator?: string;
  onInterruption?: (reason: string, position: number) => void;
}

export interface DownloadStats {
  requests: number;
  interruptions: number;
  restarts: number;
}

type Outcome =
  | { kind: "complete" }
  | { kind: "retry"; reason: string }
  | { kind: "restart"; reason: string }
  | { kind: "fatal"; error: unknown };

interface Settings {
  url: string;
  size: number;
  stallMs: number;
  minRate: number;
  rateWindowMs: number;
  /** clock.now() at which the download fails, or undefined. */
  deadlineAt: number | undefined;
}

function setting(value: number | undefined, fallback: number, name: string, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !(v >= min) || v === Infinity) throw new OtaError(ErrorCode.UpdateFailed, `download option ${name} must be a number >= ${min}, got ${String(value)}`);
  return v;
}

export async function download(http: HttpPort, clock: ClockPort, sink: DownloadSink, opts: DownloadOptions): Promise<DownloadStats> {
  const d = DOWNLOAD_DEFAULTS;
  const maxFailures = setting(opts.maxFailures, d.maxFailures, "maxFailures", 1);
  const minProgress = setting(opts.minProgressBytes, d.minProgressBytes, "minProgressBytes", 1);
  const backoffMs = setting(opts.backoffMs, d.backoffMs, "backoffMs", 0);
  const backoffMaxMs = setting(opts.backoffMaxMs, d.backoffMaxMs, "backoffMaxMs", 0);
  const deadlineMs = opts.deadlineMs === undefined ? undefined : setting(opts.deadlineMs, 0, "deadlineMs", 1);
  const s: Settings = {
    url: opts.url,
    size: opts.size,
    stallMs: setting(opts.stallMs, d.stallMs, "stallMs", 1),
    minRate: setting(opts.minRateBytesPerSec, d.minRateBytesPerSec, "minRateBytesPerSec", 0),
    rateWindowMs: setting(opts.rateWindowMs, d.rateWindowMs, "rateWindowMs", 1),
    deadlineAt: deadlineMs === undefined ? undefined : clock.now() + deadlineMs,
  };
  const stats: DownloadStats = { requests: 0, interruptions: 0, restarts: 0 };
  let validator = opts.validator;
  let failures = 0;
  /** The position of the last request that counted as progress. */
  let mark = sink.position;
  while (sink.position < s.size) {
    checkDeadline(clock, s, sink.position, deadlineMs);
    stats.requests++;
    const result = await runExchange(http, clock, sink, s, validator);
    const outcome = result.outcome;
    validator = result.validator;
    if (outcome.kind === "complete") break;
    if (outcome.kind === "fatal") throw outcome.error;
    if (outcome.kind === "restart") {
      stats.restarts++;
      validator = undefined;
      sink.restart(undefined);
      mark = 0;
      opts.onInterruption?.(outcome.reason, 0);
      failures++;
    } else {
      stats.interruptions++;
      opts.onInterruption?.(outcome.reason, sink.position);
      if (sink.position - mark >= Math.min(minProgress, s.size - mark)) {
        mark = sink.position;
        failures = 0;
        continue;
      }
      failures++;
    }
    if (failures >= maxFailures) {
      throw new OtaError(ErrorCode.DownloadFailed, `download failed after ${failures} attempts without progress (${minProgress} bytes): ${outcome.reason}`);
    }
    let wait = backoffDelay(clock, failures, backoffMs, backoffMaxMs);
    if (s.deadlineAt !== undefined) wait = Math.min(wait, Math.max(0, s.deadlineAt - clock.now()));
    await sleep(clock, wait);
  }
  return stats;
}

function checkDeadline(clock: ClockPort, s: Settings, position: number, deadlineMs: number | undefined): void {
  if (s.deadlineAt !== undefined && clock.now() >= s.deadlineAt) {
    throw new OtaError(ErrorCode.DownloadFailed, `download deadline of ${deadlineMs} ms passed at byte ${position} of ${s.size}`);
  }
}

function backoffDelay(clock: ClockPort, failures: number, base: number, cap: number): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, failures - 1));
  return Math.floor(exp / 2 + clock.random() * (exp / 2));
}

function sleep(clock: ClockPort, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

function validatorOf(h: HttpHeaders): string | undefined {
  return h["etag"] ?? h["last-modified"];
}

function runExchange(
  http: HttpPort, clock: ClockPort, sink: DownloadSink, s: Settings, validator: string | undefined,
): Promise<{ outcome: Outcome; validator: string | undefined }> {
  const offset = sink.position;
  const headers: HttpHeaders = {};
  if (offset > 0) {
    headers["range"] = rangeFrom(offset);
    if (validator !== undefined) headers["if-range"] = validator;
  }
  return new Promise((resolve) => {
    let settled = false;
    let accepting = false;
    let bodyValidator = validator;
    // Declared before anything can call finish(): a port may call a handler, or throw, before
    // request() returns, and a timer callback may run before the exchange exists.
    let exchange: HttpExchange | undefined;
    let abortWhenOpen = false;
    let stallTimer: TimerHandle | undefined;
    let rateTimer: TimerHandle | undefined;
    let deadlineTimer: TimerHandle | undefined;
    let windowBytes = 0;
    const clear = (t: TimerHandle | undefined) => {
      if (t !== undefined) clock.clearTimeout(t);
    };
    const finish = (outcome: Outcome, abort: boolean) => {
      if (settled) return;
      settled = true;
      clear(stallTimer);
      clear(rateTimer);
      clear(deadlineTimer);
      stallTimer = rateTimer = deadlineTimer = undefined;
      if (abort) {
        if (exchange) exchange.abort();
        else abortWhenOpen = true;
      }
      resolve({ outcome, validator: bodyValidator });
    };
    const onStall = () => {
      stallTimer = undefined;
      finish({ kind: "retry", reason: `stalled for ${s.stallMs} ms at byte ${sink.position}` }, true);
    };
    const onRateWindow = () => {
      rateTimer = undefined;
      const need = (s.minRate * s.rateWindowMs) / 1000;
      if (windowBytes < need) {
        return finish({ kind: "retry", reason: `${windowBytes} bytes in ${s.rateWindowMs} ms at byte ${sink.position}, below ${s.minRate} B/s` }, true);
      }
      windowBytes = 0;
      rateTimer = clock.setTimeout(onRateWindow, s.rateWindowMs);
    };
    const onDeadline = () => {
      deadlineTimer = undefined;
      finish({ kind: "fatal", error: new OtaError(ErrorCode.DownloadFailed, `download deadline passed at byte ${sink.position} of ${s.size}`) }, true);
    };
    stallTimer = clock.setTimeout(onStall, s.stallMs);
    if (s.minRate > 0) rateTimer = clock.setTimeout(onRateWindow, s.rateWindowMs);
    if (s.deadlineAt !== undefined) deadlineTimer = clock.setTimeout(onDeadline, Math.max(0, s.deadlineAt - clock.now()));
    try {
      exchange = http.request({ url: s.url, method: "GET", headers }, {
        response(status, h) {
          if (settled) return;
          const length = parseLength(h["content-length"]);
          const v = validatorOf(h);
          if (status === 206 && offset > 0) {
            const cr = parseContentRange(h["content-range"]);
            if (!cr || cr.start !== offset || cr.end !== s.size - 1 || (cr.total !== undefined && cr.total !== s.size)) {
              return finish({ kind: "retry", reason: `206 with Content-Range ${JSON.stringify(h["content-range"])} for bytes ${offset}-${s.size - 1}/${s.size}` }, true);
            }
            if (length !== undefined && length !== cr.end - cr.start + 1) {
              return finish({ kind: "retry", reason: `206 with Content-Length ${length} for a ${cr.end - cr.start + 1}-byte range` }, true);
            }
            if (validator !== undefined && v !== undefined && v !== validator) {
              return finish({ kind: "restart", reason: `validator changed from ${validator} to ${v}` }, true);
            }
            accepting = true;
          } else if (status === 200) {
            if (length !== undefined && length !== s.size) {
              return finish({ kind: "retry", reason: `200 with Content-Length ${length}, the offer says ${s.size}` }, true);
            }
            // A full body: never append it at the resume offset. The sink persists the validator,
            // which can fail like any flash write: that ends the exchange, it must not escape.
            try {
              if (offset > 0) sink.restart(v);
              else sink.setValidator(v);
            } catch (e) {
              return finish({ kind: "fatal", error: e }, true);
            }
            bodyValidator = v;
            accepting = true;
          } else if (status === 416) {
            finish({ kind: "restart", reason: `416 for bytes=${offset}-` }, true);
          } else if (status >= 500 || status === 408 || status === 429) {
            finish({ kind: "retry", reason: `HTTP ${status}` }, true);
          } else {
            finish({ kind: "fatal", error: new OtaError(ErrorCode.DownloadFailed, `HTTP ${status} for ${s.url}`) }, true);
          }
        },
        data(chunk) {
          if (settled || !accepting) return;
          clear(stallTimer);
          stallTimer = undefined;
          const room = s.size - sink.position;
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          try {
            sink.data(part);
          } catch (e) {
            return finish({ kind: "fatal", error: e }, true);
          }
          windowBytes += part.length;
          if (chunk.length > room) return finish({ kind: "retry", reason: "body longer than the image" }, true);
          if (!settled) stallTimer = clock.setTimeout(onStall, s.stallMs);
        },
        end() {
          if (sink.position >= s.size) finish({ kind: "complete" }, false);
          else finish({ kind: "retry", reason: `connection closed at byte ${sink.position} of ${s.size}` }, false);
        },
        error(reason) {
          finish({ kind: "retry", reason: `connection error at byte ${sink.position}: ${reason}` }, false);
        },
      });
    } catch (e) {
      // The port refused the request itself (a URL it cannot use, no socket): a connection error.
      finish({ kind: "retry", reason: `the request could not be made: ${errorMessage(e)}` }, false);
      return;
    }
    if (abortWhenOpen) exchange.abort();
  });
}
