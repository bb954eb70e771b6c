// Resumable download over the Http port. It asks for `Range: bytes=N-` with `If-Range` from the
// sink's position and checks every answer before a byte reaches the sink:
//   206 with the expected Content-Range        -> append at N
//   200 (Range ignored, If-Range mismatch)     -> the sink starts again at 0; a 200 body is never
//                                                 written at N (the esp_https_ota PR #17960 bug)
//   416, or a 206 carrying another validator   -> start again at 0
//   inconsistent Content-Length/Content-Range  -> error, retry
//   truncated body, stall, connection error    -> resume from the sink's position
//   5xx, 408, 429                               -> retry with capped exponential backoff + jitter
//   other statuses                              -> fail at once
// After maxFailures attempts in a row that brought no byte, it fails with -2.

import type { ClockPort, HttpHeaders, HttpPort } from "../ports.ts";
import { ErrorCode, OtaError } from "../errors.ts";
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

export interface DownloadOptions {
  url: string;
  size: number;
  /** Validator of the bytes already in the sink (ETag or Last-Modified). */
  validator?: string;
  stallMs?: number;
  maxFailures?: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  onInterruption?: (reason: string, position: number) => void;
}

export interface DownloadStats {
  requests: number;
  interruptions: number;
  restarts: number;
}

type Outcome =
  | { kind: "complete" }
  | { kind: "retry"; reason: string; backoff: boolean }
  | { kind: "restart"; reason: string }
  | { kind: "fatal"; error: unknown };

export async function download(http: HttpPort, clock: ClockPort, sink: DownloadSink, opts: DownloadOptions): Promise<DownloadStats> {
  const stats: DownloadStats = { requests: 0, interruptions: 0, restarts: 0 };
  const maxFailures = opts.maxFailures ?? 8;
  let validator = opts.validator;
  let failures = 0;
  while (sink.position < opts.size) {
    const before = sink.position;
    stats.requests++;
    const result = await runExchange(http, clock, sink, opts, validator);
    const outcome = result.outcome;
    validator = result.validator;
    if (outcome.kind === "complete") break;
    if (outcome.kind === "fatal") throw outcome.error;
    if (outcome.kind === "restart") {
      stats.restarts++;
      validator = undefined;
      sink.restart(undefined);
      opts.onInterruption?.(outcome.reason, 0);
      failures++;
    } else {
      stats.interruptions++;
      opts.onInterruption?.(outcome.reason, sink.position);
      failures = sink.position > before ? 0 : failures + 1;
    }
    if (failures >= maxFailures) {
      throw new OtaError(ErrorCode.DownloadFailed, `download failed after ${failures} attempts without progress: ${reasonOf(outcome)}`);
    }
    if (outcome.kind === "retry" && outcome.backoff) await sleep(clock, backoffDelay(clock, failures, opts));
  }
  return stats;
}

function reasonOf(o: Outcome): string {
  return o.kind === "retry" || o.kind === "restart" ? o.reason : "";
}

function backoffDelay(clock: ClockPort, failures: number, o: DownloadOptions): number {
  const base = o.backoffMs ?? 500;
  const cap = o.backoffMaxMs ?? 30000;
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
  http: HttpPort, clock: ClockPort, sink: DownloadSink, o: DownloadOptions, validator: string | undefined,
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
    const stallMs = o.stallMs ?? 15000;
    let timer = clock.setTimeout(onStall, stallMs);
    const finish = (outcome: Outcome, abort: boolean) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      if (abort) exchange.abort();
      resolve({ outcome, validator: bodyValidator });
    };
    function onStall() {
      finish({ kind: "retry", reason: `stalled for ${stallMs} ms at byte ${sink.position}`, backoff: false }, true);
    }
    const exchange = http.request({ url: o.url, method: "GET", headers }, {
      response(status, h) {
        if (settled) return;
        const length = parseLength(h["content-length"]);
        const v = validatorOf(h);
        if (status === 206 && offset > 0) {
          const cr = parseContentRange(h["content-range"]);
          if (!cr || cr.start !== offset || cr.end !== o.size - 1 || (cr.total !== undefined && cr.total !== o.size)) {
            return finish({ kind: "retry", reason: `206 with Content-Range ${JSON.stringify(h["content-range"])} for bytes ${offset}-${o.size - 1}/${o.size}`, backoff: true }, true);
          }
          if (length !== undefined && length !== cr.end - cr.start + 1) {
            return finish({ kind: "retry", reason: `206 with Content-Length ${length} for a ${cr.end - cr.start + 1}-byte range`, backoff: true }, true);
          }
          if (validator !== undefined && v !== undefined && v !== validator) {
            return finish({ kind: "restart", reason: `validator changed from ${validator} to ${v}` }, true);
          }
          accepting = true;
        } else if (status === 200) {
          if (length !== undefined && length !== o.size) {
            return finish({ kind: "retry", reason: `200 with Content-Length ${length}, the offer says ${o.size}`, backoff: true }, true);
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
          finish({ kind: "retry", reason: `HTTP ${status}`, backoff: true }, true);
        } else {
          finish({ kind: "fatal", error: new OtaError(ErrorCode.DownloadFailed, `HTTP ${status} for ${o.url}`) }, true);
        }
      },
      data(chunk) {
        if (settled || !accepting) return;
        clock.clearTimeout(timer);
        const room = o.size - sink.position;
        try {
          sink.data(chunk.length > room ? chunk.subarray(0, room) : chunk);
        } catch (e) {
          return finish({ kind: "fatal", error: e }, true);
        }
        if (chunk.length > room) return finish({ kind: "retry", reason: "body longer than the image", backoff: true }, true);
        timer = clock.setTimeout(onStall, stallMs);
      },
      end() {
        if (sink.position >= o.size) finish({ kind: "complete" }, false);
        else finish({ kind: "retry", reason: `connection closed at byte ${sink.position} of ${o.size}`, backoff: false }, false);
      },
      error(reason) {
        finish({ kind: "retry", reason: `connection error at byte ${sink.position}: ${reason}`, backoff: true }, false);
      },
    });
  });
}
