// The "xs" engine of host-sim: the runtime bundle runs inside the real XS engine
// (xsnap-worker, see worker.ts) and the Moddable modules it imports are served by the host.
//
//   const engine = await startXsEngine({ bundleCode, services });
//   const r = await engine.run(args);        // calls globalThis.main(args) inside XS
//   if (r.outcome === "restart") { await engine.reboot(); await engine.run(args); }
//   await engine.close();
//
// Boot: a fresh xsnap-worker; the shims (shims/*.js, one script, see shims/core.js) install the
// module registry globalThis.__moddable and the device globals; then the bundle (a script, e.g.
// a rollup IIFE built with moddableGlobals() from moddable-globals.ts) defines the entry.
// Run: the host delivers one event per xsnap operation (START, then timer expiries and HTTP
// events); after each one XS drains its promise jobs before it answers, so await/then chains
// advance between deliveries as on the device. The run ends when the entry's promise settles
// (DONE), when a callback throws, when the runtime restarts (the worker is killed inside the
// restart call, which therefore never returns), or when a service halts the board.
// Clock: "virtual" (default) jumps to the next timer when nothing else can happen; while an HTTP
// exchange is in flight it advances with real time (or jumps after ioGraceMs of silence).
// "real" uses wall time throughout.

import { createHash, type Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  EV,
  OP,
  answerBytes,
  answerError,
  answerJson,
  answerVoid,
  decodePosted,
  decodeRequest,
  encodeEvent,
  type Envelope,
  fromUtf8,
  shimConstantsSource,
  utf8,
  PREF,
} from "./protocol.ts";
import {
  XsHaltError,
  type PreferenceValue,
  type XsDigest,
  type XsDigestService,
  type XsFlashPartition,
  type XsHttpRequest,
  type XsServices,
} from "./services.ts";
import { XsWorker, XsWorkerError, type RunResult, type XsWorkerOptions } from "./worker.ts";
import { bootKey, findBootSnapshot, makeBootSnapshot, trimHeap } from "./boot-snapshot.ts";
import { curveParams, ecdsaVerify, rsaProcess } from "./public-key-service.ts";
import { MqttConnections } from "./mqtt-connections.ts";
import { concatBytes } from "../../src/util/bytes.ts";

export interface XsPreferenceLimits {
  /** "esp32": NVS errors ("nvs_open fail", "nvs set fail"); "esp": ESP8266/Pico/nRF52 ("too long"). */
  flavor: "esp32" | "esp";
  /** Longest domain / key name in UTF-8 bytes (ESP32: 15, esp: 31). */
  maxName: number;
  /** Largest value in bytes (ESP32: 4000, esp: 63). */
  maxValue: number;
}

export interface XsEngineOptions {
  /** The runtime bundle: a script (no import/export) that defines globalThis[entry]. */
  bundleCode: string;
  services: XsServices;
  /** Global function the run calls with the run's args; default "main". It may return a promise;
   * its (JSON-serialisable) value is the run's result. */
  entry?: string;
  /** Default "virtual". */
  clock?: "virtual" | "real";
  /** Virtual clock: while HTTP is in flight and a timer is pending, jump to the timer after this
   * many ms of real silence. Default: undefined = let virtual time follow real time. */
  ioGraceMs?: number;
  /** Time.ticks at boot (e.g. 0x7fff0000 to exercise the 32-bit wrap). Default 0. */
  ticksAtBoot?: number;
  /** Largest responseFragment handed to XS (a device sees about one TCP segment). Default 1460. */
  httpFragmentSize?: number;
  /** val1 of requestFragment callbacks (streamed request bodies). Default 2048. */
  httpWritableSize?: number;
  /** Preference limits; default ESP32 (15 / 4000). */
  preference?: XsPreferenceLimits;
  /** Module specifiers to leave out of the registry, as if the build did not include them
   * (e.g. ["flash"] for a build with only embedded:storage/flash). */
  omitModules?: string[];
  /** The object `import config from "mc/config"` returns. */
  config?: Record<string, unknown>;
  /** Remove xsnap's globals that devices lack (TextEncoder, print, setImmediate...). Default true. */
  deviceGlobals?: boolean;
  /** Count the shims' own JS work in the XS meter. Default false: shims stand in for native
   * code, so compute figures cover the runtime's JS only. */
  meterShims?: boolean;
  /** Measurements: after every delivery, collect garbage (xsnap's gc(), through an EV.COLLECT
   * event) in an extra operation and record the live slot count in stats.maxLiveHeapCount. It
   * changes when XS collects; the extra operations are not counted in the other figures.
   * Default false. */
  liveHeap?: boolean;
  /** How a worker boots: "source" (default) evaluates the shims and the bundle; "snapshot" does
   * that once per process and starts later workers from a heap snapshot of the result
   * (boot-snapshot.ts): the same fresh machine, without the evaluation, with a smaller initial
   * heap that grows on demand. bootMeter is then empty for the restored boots. */
  bootFrom?: "source" | "snapshot";
  /** Per-operation XS meter limit (xsnap -l). Default 0 = none. */
  meteringLimit?: number;
  /** Wall-clock limit of one xsnap operation (one delivery). Default 60 000 ms. */
  operationTimeoutMs?: number;
  /** Wall-clock limit of a whole run(). Default 600 000 ms. */
  runTimeoutMs?: number;
  /** trace() and console.error output; default: services.log, else kept in engine.log. */
  onTrace?: (text: string) => void;
  /** Worker name (errors, ps). */
  name?: string;
}

export type XsOutcome = "done" | "error" | "restart" | "halted";

export interface XsRunStats {
  /** Sum of the XS meter over the run's operations. */
  compute: number;
  /** Largest live XS heap (slots of 16 bytes) seen at the end of an operation. */
  maxHeapCount: number;
  /** Largest machine allocation (bytes) seen at the end of an operation. */
  maxAllocate: number;
  /** XsEngineOptions.liveHeap: largest live heap (slots of 16 bytes) after a collection at the
   * end of a delivery; 0 otherwise. */
  maxLiveHeapCount: number;
  /** Events delivered (xsnap operations), issueCommand requests from XS, requests posted by XS
   * (carried by another request or a delivery's answer, protocol.ts). */
  deliveries: number;
  commands: number;
  posted: number;
  wallMs: number;
  /** Part of wallMs spent in the host's request handlers (services included). */
  hostMs: number;
  /** Clock time that passed during the run (virtual ms in virtual mode). */
  clockMs: number;
  flashBytesRead: number;
  flashBytesWritten: number;
  flashBlocksErased: number;
  httpBytesDelivered: number;
  digestBytes: number;
  /** Timers still armed when the run ended that are due later (a runtime that settled should
   * leave none); timers due at once, such as the Moddable HTTP port's close deferred out of an
   * http.js callback, are not counted. */
  pendingTimers: number;
}

export interface XsRunResult {
  outcome: XsOutcome;
  /** outcome "done": the entry's resolved value (through JSON). */
  value?: unknown;
  /** outcome "error": the rejection, the escaped callback exception, or the engine failure. */
  error?: { name: string; message: string; stack?: string; where?: string };
  /** outcome "halted": the XsHaltError message. */
  reason?: string;
  boot: number;
  stats: XsRunStats;
}

interface HostEvent {
  kind: number;
  a?: number;
  b?: number;
  c?: number;
  payload?: Uint8Array;
  /** HTTP events are dropped when the request was closed meanwhile. */
  request?: number;
  /** haltAfterQueued(): not delivered; the run ends "halted" with this reason. */
  halt?: string;
}

interface HostTimer {
  due: number;
  repeat: number;
  seq: number;
}

interface HostRequest {
  request: XsHttpRequest;
  streaming: boolean;
  bodyParts: Uint8Array[];
  abort?: () => void;
  inFlight: boolean;
  /** HTTP_DATA events queued and not yet delivered; sink.whenDelivered() waiters. */
  undelivered: number;
  waiters: (() => void)[];
}

interface DigestCtx {
  name: string;
  digest: XsDigest;
  finalised?: Uint8Array;
}

const DIGEST_SIZES: Record<string, [number, number]> = {
  MD5: [64, 16],
  SHA1: [64, 20],
  SHA224: [64, 28],
  SHA256: [64, 32],
  SHA384: [128, 48],
  SHA512: [128, 64],
};

/** node:crypto digests (the default XsDigestService). */
export const nodeDigests: XsDigestService = {
  create(name: string): XsDigest {
    if (!DIGEST_SIZES[name]) throw new Error("crypt: unsupported digest");
    let hash: Hash = createHash(name.toLowerCase());
    return {
      update(data) {
        hash.update(data);
      },
      finish(more) {
        if (more) return new Uint8Array(hash.copy().digest());
        const out = new Uint8Array(hash.digest());
        hash = createHash(name.toLowerCase());
        return out;
      },
    };
  },
};

let shimCache: string | undefined;

const SHIM_FILES = ["core.js", "flash.js", "preference.js", "crypt.js", "public-key.js", "timer.js", "http.js", "mqtt.js", "system.js"];

/** The shims as one script; `config` is the CONFIG object they see. */
export function shimSource(config: Record<string, unknown>): string {
  if (!shimCache) {
    const parts = SHIM_FILES.map((f) => {
      const text = readShim(f);
      return `// ---- ${f}\n${text}`;
    });
    shimCache = parts.join("\n");
  }
  return `(function (CONFIG) {\n"use strict";\n${shimConstantsSource()}\n${shimCache}\nfinish();\n})(${JSON.stringify(config)});\n`;
}

function readShim(file: string): string {
  // next to this file in the source tree; from dist/host-sim/xs fall back to the sources
  const candidates = [new URL(`./shims/${file}`, import.meta.url), new URL(`../../../host-sim/xs/shims/${file}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return readFileSync(url, "utf8");
    } catch {
      // try the next
    }
  }
  throw new Error(`host-sim xs shim ${file} not found`);
}

/** A posted request failed (host-side bug or service failure XS cannot be told about). */
class PostedRequestError extends Error {
  override name = "PostedRequestError";
}

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: "Error", message: String(e) };
}

function emptyStats(): XsRunStats {
  return {
    compute: 0,
    maxHeapCount: 0,
    maxAllocate: 0,
    maxLiveHeapCount: 0,
    deliveries: 0,
    commands: 0,
    posted: 0,
    wallMs: 0,
    hostMs: 0,
    clockMs: 0,
    flashBytesRead: 0,
    flashBytesWritten: 0,
    flashBlocksErased: 0,
    httpBytesDelivered: 0,
    digestBytes: 0,
    pendingTimers: 0,
  };
}

/** Boots the first worker (shims + bundle) and returns the engine. */
export async function startXsEngine(options: XsEngineOptions): Promise<XsEngine> {
  const engine = new XsEngine(options);
  await engine.reboot();
  return engine;
}

export class XsEngine {
  /** trace() / console.error text (when neither onTrace nor services.log is given). */
  readonly log: string[] = [];
  /** 1 for the first worker, +1 per reboot. */
  boot = 0;
  /** Meter of the last boot's shim and bundle evaluation (empty when it started from a snapshot). */
  bootMeter: { shims?: RunResult; bundle?: RunResult } = {};

  private readonly opts: XsEngineOptions;
  private readonly services: XsServices;
  private readonly clockMode: "virtual" | "real";
  private worker: XsWorker | undefined;

  // per boot
  private flash = new Map<number, XsFlashPartition>();
  private digests = new Map<number, DigestCtx>();
  private timers = new Map<number, HostTimer>();
  private requests = new Map<number, HostRequest>();
  private readonly mqtt = new MqttConnections(
    () => this.services.mqtt,
    (e) => this.push(e),
  );
  private queue: HostEvent[] = [];
  private nextId = 1;
  private timerSeq = 0;
  private bootClock = 0;
  private virtualNow = 0;

  // per run
  private stop: Omit<XsRunResult, "boot" | "stats"> | undefined;
  private stats: XsRunStats = emptyStats();
  private wake: (() => void) | undefined;
  private running = false;
  /** powerOff() reason, until a run has ended on it. */
  private offReason: string | undefined;

  constructor(options: XsEngineOptions) {
    this.opts = options;
    this.services = options.services;
    this.clockMode = options.clock ?? "virtual";
  }

  /** The current worker (for tests and benchmarks). */
  get xs(): XsWorker {
    if (!this.worker) throw new Error("xs engine: not booted");
    return this.worker;
  }

  /** Whether the current worker is alive (false after a restart or halt until reboot()). */
  get alive(): boolean {
    return !!this.worker?.alive;
  }

  /** Current clock reading in ms (virtual or real). */
  now(): number {
    return this.clockMode === "virtual" ? this.virtualNow : performance.now();
  }

  /** Stops the current worker (if any) and boots a fresh one: new XS machine, same services
   * (so flash and preferences persist, as across a device reset). */
  async reboot(): Promise<void> {
    if (this.worker) await this.worker.kill();
    this.resetBootState();
    this.boot++;
    const options: XsWorkerOptions = {
      name: `${this.opts.name ?? "xs-ota"}-boot${this.boot}`,
      handleCommand: (m) => this.handle(m),
      meteringLimit: this.opts.meteringLimit,
      timeoutMs: this.opts.operationTimeoutMs ?? 60_000,
      onStdout: (line) => this.trace(`${line}\n`),
    };
    const config = {
      entry: this.opts.entry ?? "main",
      meterShims: !!this.opts.meterShims,
      deviceGlobals: this.opts.deviceGlobals ?? true,
      preference: this.opts.preference ?? { flavor: "esp32", maxName: 15, maxValue: 4000 },
      config: this.opts.config ?? {},
      omitModules: this.opts.omitModules ?? [],
    };
    const scripts = [shimSource(config), this.opts.bundleCode];
    this.bootMeter = {};
    if (this.opts.bootFrom === "snapshot") {
      const key = bootKey(scripts, { meteringLimit: this.opts.meteringLimit ?? 0 });
      const pending = findBootSnapshot(key);
      const file = pending && (await pending.catch(() => undefined));
      if (file) {
        this.worker = new XsWorker({ ...options, snapshot: file });
        return;
      }
      if (!pending) {
        // the first boot evaluates the scripts, then writes the snapshot the next boots start from
        const worker = (this.worker = new XsWorker(options));
        await makeBootSnapshot(key, async (f) => {
          await this.evaluateBoot(worker, scripts);
          await worker.writeSnapshot(f);
          trimHeap(f);
        });
        return;
      }
    }
    const worker = (this.worker = new XsWorker(options));
    await this.evaluateBoot(worker, scripts);
  }

  private async evaluateBoot(worker: XsWorker, [shims, bundle]: string[]): Promise<void> {
    this.bootMeter.shims = await worker.evaluate(shims!);
    this.bootMeter.bundle = await worker.evaluate(bundle!);
  }

  /** Collects garbage in the current worker and returns the live heap (slots of 16 bytes). */
  async liveHeapCount(): Promise<number> {
    const r = await this.xs.command(encodeEvent(EV.COLLECT));
    this.endOfTurn(r.reply);
    return r.meter.currentHeapCount;
  }

  /** Evaluates code in the current worker (tests; no event delivery). */
  evaluate(code: string): Promise<RunResult> {
    return this.xs.evaluate(code);
  }

  /** Calls the entry with `args` and drives events until the run ends. */
  async run(args?: unknown): Promise<XsRunResult> {
    if (this.running) throw new Error("xs engine: run() already in progress");
    const worker = this.xs;
    if (!worker.alive) throw new Error("xs engine: the worker has stopped (restart or halt); call reboot() first");
    this.running = true;
    this.stop = undefined;
    this.stats = emptyStats();
    const started = performance.now();
    const clockStart = this.now();
    const deadline = started + (this.opts.runTimeoutMs ?? 600_000);
    this.queue.push({ kind: EV.START, payload: utf8(JSON.stringify(args ?? null)) });
    try {
      while (!this.stop) {
        if (this.offReason !== undefined) {
          this.stop = { outcome: "halted", reason: this.offReason };
          this.offReason = undefined;
          this.abortRequests();
          void worker.kill();
          break;
        }
        const event = this.takeEvent();
        if (!event) {
          if (performance.now() > deadline) {
            this.stop = { outcome: "error", error: { name: "Error", message: `run timed out after ${this.opts.runTimeoutMs ?? 600_000} ms` } };
            break;
          }
          await this.waitForWork(deadline);
          continue;
        }
        if (event.halt !== undefined) {
          this.stop = { outcome: "halted", reason: event.halt };
          this.abortRequests();
          void worker.kill(); // not awaited: an idle worker is unref'd and would not keep Node alive
          break;
        }
        let r: RunResult;
        try {
          r = await worker.command(encodeEvent(event.kind, event.a, event.b, event.c, event.payload));
        } catch (e) {
          if (!this.stop) this.stop = { outcome: "error", error: describe(e) };
          break;
        } finally {
          if (event.kind === EV.HTTP_DATA && event.request !== undefined) this.dataDone(event.request);
        }
        this.endOfTurn(r.reply);
        this.stats.deliveries++;
        this.stats.commands += r.commands;
        this.stats.compute += r.meter.compute;
        this.stats.maxHeapCount = Math.max(this.stats.maxHeapCount, r.meter.currentHeapCount);
        this.stats.maxAllocate = Math.max(this.stats.maxAllocate, r.meter.allocate);
        if (this.opts.liveHeap && worker.alive) {
          const g = await worker.command(encodeEvent(EV.COLLECT));
          this.endOfTurn(g.reply);
          this.stats.maxLiveHeapCount = Math.max(this.stats.maxLiveHeapCount, g.meter.currentHeapCount);
        }
      }
    } finally {
      this.running = false;
    }
    this.stats.wallMs = performance.now() - started;
    this.stats.clockMs = this.now() - clockStart;
    const end = this.now();
    this.stats.pendingTimers = [...this.timers.values()].filter((t) => t.due > end).length;
    return { ...this.stop!, boot: this.boot, stats: this.stats };
  }

  /** run(); then, while the runtime restarts, reboot and run again (up to maxBoots runs). */
  async runBoots(args?: unknown, maxBoots = 8): Promise<XsRunResult[]> {
    const results: XsRunResult[] = [];
    for (;;) {
      const r = await this.run(args);
      results.push(r);
      if (r.outcome !== "restart" || results.length >= maxBoots) return results;
      await this.reboot();
    }
  }

  /** Stops the board from outside a request (e.g. the network simulation decides the power is
   * lost after handing over a last body chunk): the events queued so far are still delivered,
   * then the worker is killed and the run ends "halted" with `reason`. */
  haltAfterQueued(reason: string): void {
    this.push({ kind: -1, halt: reason });
  }

  /** Turns the board off from outside: the run ends "halted" with `reason` as soon as the
   * delivery in progress returns; events still queued are dropped (the worker is killed). Called
   * between runs (or during a reboot), the next run() ends so before its first delivery. */
  powerOff(reason: string): void {
    this.offReason = reason;
    this.wake?.();
  }

  async close(): Promise<void> {
    if (this.worker) await this.worker.close();
    this.resetBootState();
  }

  // ---- event loop ----------------------------------------------------------------------------

  private takeEvent(): HostEvent | undefined {
    while (this.queue.length) {
      const e = this.queue.shift()!;
      if (e.request !== undefined && !this.requests.has(e.request)) {
        if (e.kind === EV.HTTP_DATA) this.dataDone(e.request);
        continue;
      }
      if (e.kind === EV.HTTP_DATA) this.stats.httpBytesDelivered += e.payload!.byteLength;
      return e;
    }
    const now = this.now();
    let best: [number, HostTimer] | undefined;
    for (const entry of this.timers) if (!best || entry[1].due < best[1].due || (entry[1].due === best[1].due && entry[1].seq < best[1].seq)) best = entry;
    if (best && best[1].due <= now) {
      const [id, t] = best;
      if (t.repeat > 0) {
        t.due = this.clockMode === "real" ? Math.max(t.due + t.repeat, now) : t.due + t.repeat;
        t.seq = this.timerSeq++;
      } else this.timers.delete(id);
      return { kind: EV.TIMER, a: id };
    }
    return undefined;
  }

  private nextTimerDue(): number | undefined {
    let due: number | undefined;
    for (const t of this.timers.values()) if (due === undefined || t.due < due) due = t.due;
    return due;
  }

  /** HTTP exchanges in flight or MQTT connections open: an event may still arrive. */
  private httpInFlight(): boolean {
    if (this.mqtt.size > 0) return true;
    for (const r of this.requests.values()) if (r.inFlight) return true;
    return false;
  }

  private async waitForWork(deadline: number): Promise<void> {
    const due = this.nextTimerDue();
    const io = this.httpInFlight();
    if (due === undefined && !io) {
      this.stop = {
        outcome: "error",
        error: { name: "Error", message: `deadlock: ${this.opts.entry ?? "main"}() has not settled and nothing is pending (no timer, no HTTP exchange)` },
      };
      return;
    }
    if (this.clockMode === "virtual" && !io) {
      this.virtualNow = Math.max(this.virtualNow, due!);
      return;
    }
    // wait for I/O, or for the next timer in real time
    let waitMs = Math.max(0, deadline - performance.now());
    if (due !== undefined) {
      const toTimer = Math.max(0, due - this.now());
      waitMs = Math.min(waitMs, this.clockMode === "virtual" && this.opts.ioGraceMs !== undefined ? Math.min(toTimer, this.opts.ioGraceMs) : toTimer);
    }
    const t0 = performance.now();
    const woke = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, waitMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
    if (this.clockMode === "virtual") {
      // woken by I/O: virtual time followed real time; timed out: the next timer is due
      if (woke) this.virtualNow = Math.min(this.virtualNow + (performance.now() - t0), due ?? Infinity);
      else if (due !== undefined) this.virtualNow = Math.max(this.virtualNow, due);
    }
  }

  private push(event: HostEvent): void {
    this.queue.push(event);
    this.wake?.();
  }

  private resetBootState(): void {
    this.mqtt.closeAll();
    for (const p of this.flash.values()) p.close?.();
    for (const r of this.requests.values()) {
      r.abort?.();
      this.release(r);
    }
    this.flash.clear();
    this.digests.clear();
    this.timers.clear();
    this.requests.clear();
    this.queue = [];
    this.bootClock = this.now();
  }

  private trace(text: string): void {
    if (this.opts.onTrace) this.opts.onTrace(text);
    else if (this.services.log) this.services.log(text);
    else {
      this.log.push(text);
      if (this.log.length > 10_000) this.log.shift();
    }
  }

  private ticks(): number {
    return ((this.opts.ticksAtBoot ?? 0) + Math.floor(this.now() - this.bootClock)) | 0;
  }

  // ---- requests from XS ----------------------------------------------------------------------

  private handle(message: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const t0 = performance.now();
    try {
      const request = decodeRequest(message);
      if (request.posted.byteLength) this.handlePosted(request.posted);
      return this.dispatch(request);
    } catch (e) {
      if (e instanceof XsHaltError) return this.halt({ outcome: "halted", reason: e.message });
      if (e instanceof PostedRequestError) return this.halt({ outcome: "error", error: describe(e) });
      return answerError(e);
    } finally {
      this.stats.hostMs += performance.now() - t0;
    }
  }

  /** Posted requests (protocol.ts), in order. XS has gone on without an answer, so a failure
   * other than a halt cannot reach the code that posted it: the run ends with an error. */
  private handlePosted(bytes: Uint8Array): void {
    for (const request of decodePosted(bytes)) {
      this.stats.posted++;
      try {
        this.dispatch(request);
      } catch (e) {
        if (e instanceof XsHaltError) throw e;
        throw new PostedRequestError(`posted request ${request.op} failed: ${describe(e).message}`);
      }
    }
  }

  /** Posted requests that came with the answer of a delivery (the end of an XS turn). */
  private endOfTurn(reply: Uint8Array): void {
    if (!reply.byteLength) return;
    const t0 = performance.now();
    try {
      this.handlePosted(reply);
    } catch (e) {
      if (!this.stop) this.stop = e instanceof XsHaltError ? { outcome: "halted", reason: e.message } : { outcome: "error", error: describe(e) };
      this.abortRequests();
      void this.worker?.kill();
    } finally {
      this.stats.hostMs += performance.now() - t0;
    }
  }

  /** Stops the worker while XS waits for this answer, so no XS code runs after the call. */
  private halt(stop: NonNullable<XsEngine["stop"]>): Promise<Uint8Array> {
    this.stop = stop;
    this.abortRequests();
    void this.worker?.kill();
    return new Promise<Uint8Array>(() => undefined);
  }

  private dispatch({ op, a, b, c, payload }: Envelope): Uint8Array | Promise<Uint8Array> {
    switch (op) {
      // -- flash
      case OP.FLASH_READ: {
        const data = this.partition(a).read(b, c);
        this.stats.flashBytesRead += data.byteLength;
        return answerBytes(data);
      }
      case OP.FLASH_WRITE: {
        this.partition(a).write(b, payload);
        this.stats.flashBytesWritten += payload.byteLength;
        return answerVoid();
      }
      case OP.FLASH_ERASE: {
        if (c < b) throw new RangeError("invalid");
        this.partition(a).eraseBlocks(b, c);
        this.stats.flashBlocksErased += c - b;
        return answerVoid();
      }
      case OP.FLASH_OPEN: {
        const { path, writable } = JSON.parse(fromUtf8(payload)) as { path: string; writable: boolean };
        const p = this.services.flash.open(path, writable);
        const id = this.nextId++;
        this.flash.set(id, p);
        return answerJson({ id, size: p.size, blockSize: p.blockSize });
      }
      case OP.FLASH_CLOSE: {
        const p = this.flash.get(a);
        this.flash.delete(a);
        p?.close?.();
        return answerVoid();
      }
      case OP.FLASH_STATUS: {
        const p = this.partition(a);
        return answerJson(p.status ? p.status() : { size: p.size, blockLength: p.blockSize, blocks: Math.floor(p.size / p.blockSize) });
      }
      case OP.FLASH_LABELS:
        return answerJson(this.services.flash.labels());

      // -- digests
      case OP.DIGEST_WRITE: {
        const d = this.digest(a);
        if (d.finalised) this.poison(d);
        d.digest.update(payload);
        this.stats.digestBytes += payload.byteLength;
        return answerVoid();
      }
      case OP.DIGEST_NEW: {
        const name = fromUtf8(payload);
        const sizes = DIGEST_SIZES[name];
        if (!sizes) throw new Error("crypt: unsupported digest");
        const id = this.nextId++;
        this.digests.set(id, { name, digest: this.digestService().create(name) });
        return answerJson({ id, blockSize: sizes[0], outputSize: sizes[1] });
      }
      case OP.DIGEST_CLOSE: {
        const d = this.digest(a);
        if (d.finalised) this.poison(d);
        const out = d.digest.finish(b === 1);
        if (b !== 1) d.finalised = out;
        return answerBytes(out);
      }
      case OP.DIGEST_RESET: {
        const d = this.digest(a);
        d.digest = this.digestService().create(d.name);
        d.finalised = undefined;
        return answerVoid();
      }
      case OP.DIGEST_FREE:
        this.digests.delete(a);
        return answerVoid();

      // -- public-key crypto (curve, ecdsa, rsa)
      case OP.EC_CURVE:
        return answerJson(curveParams(JSON.parse(fromUtf8(payload)) as string));
      case OP.ECDSA_VERIFY:
        return answerJson(ecdsaVerify(JSON.parse(fromUtf8(payload)) as Parameters<typeof ecdsaVerify>[0]));
      case OP.RSA_PROCESS:
        return answerJson(rsaProcess(JSON.parse(fromUtf8(payload)) as Parameters<typeof rsaProcess>[0]));

      // -- preference
      case OP.PREF_GET: {
        const { domain, key } = JSON.parse(fromUtf8(payload)) as { domain: string; key: string };
        return answerBytes(encodePreference(this.services.preference.get(domain, key)));
      }
      case OP.PREF_SET: {
        const { domain, key } = JSON.parse(fromUtf8(payload.subarray(0, a))) as { domain: string; key: string };
        this.services.preference.set(domain, key, decodePreference(payload.subarray(a)));
        return answerVoid();
      }
      case OP.PREF_DELETE: {
        const { domain, key } = JSON.parse(fromUtf8(payload)) as { domain: string; key: string };
        this.services.preference.delete(domain, key);
        return answerVoid();
      }
      case OP.PREF_KEYS: {
        const { domain } = JSON.parse(fromUtf8(payload)) as { domain: string };
        return answerJson(this.services.preference.keys(domain));
      }

      // -- timers and time
      case OP.TIMER_SET:
        this.timers.set(a, { due: this.now() + b, repeat: c, seq: this.timerSeq++ });
        return answerVoid();
      case OP.TIMER_CLEAR:
        this.timers.delete(a);
        return answerVoid();
      case OP.TIMER_DELAY:
        if (this.clockMode === "virtual") this.virtualNow += a;
        else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a);
        return answerVoid();
      case OP.TIME_TICKS:
        return answerJson(this.ticks());
      case OP.TIME_SET:
        return answerVoid();

      // -- http
      case OP.HTTP_OPEN:
        return this.httpOpen(a, b === 1, payload);
      case OP.HTTP_BODY: {
        const r = this.requests.get(a);
        if (!r || !r.streaming) throw new Error("closed");
        if (b === 1) {
          r.streaming = false;
          r.request.body = concatBytes(...r.bodyParts);
          r.bodyParts = [];
          this.httpStart(a, r);
        } else {
          r.bodyParts.push(new Uint8Array(payload));
          this.push({ kind: EV.HTTP_WRITABLE, a, b: this.opts.httpWritableSize ?? 2048, request: a });
        }
        return answerVoid();
      }
      case OP.HTTP_CLOSE: {
        const r = this.requests.get(a);
        this.requests.delete(a);
        if (r?.inFlight) r.abort?.();
        if (r) this.release(r);
        return answerVoid();
      }

      // -- mqtt
      case OP.MQTT_OPEN: {
        const id = this.nextId++;
        this.mqtt.connect(id, payload);
        return answerJson({ id });
      }
      case OP.MQTT_PUBLISH:
        this.mqtt.publish(a, b, payload);
        return answerVoid();
      case OP.MQTT_SUBSCRIBE:
        this.mqtt.subscribe(a, payload);
        return answerVoid();
      case OP.MQTT_CLOSE:
        this.mqtt.close(a);
        return answerVoid();

      // -- system
      case OP.TRACE:
        this.trace(a === 1 ? `console.error: ${fromUtf8(payload)}` : fromUtf8(payload));
        return answerVoid();
      case OP.DONE: {
        const value = JSON.parse(fromUtf8(payload));
        this.stop = a === 0 ? { outcome: "done", value } : { outcome: "error", error: value };
        return answerVoid();
      }
      case OP.CALLBACK_ERROR: {
        const error = JSON.parse(fromUtf8(payload));
        this.trace(`uncaught exception in ${error.where}: ${error.name}: ${error.message}\n`);
        if (!this.stop) this.stop = { outcome: "error", error };
        return answerVoid();
      }
      case OP.RESTART:
        this.services.system?.restart?.();
        return this.halt({ outcome: "restart" });
      case OP.FFI: {
        const { name, args } = JSON.parse(fromUtf8(payload)) as { name: string; args: unknown[] };
        const ffi = this.services.system?.ffi;
        if (!ffi) throw new Error(`FFI function ${name} not available`);
        return answerJson(ffi(name, args));
      }
      case OP.NET_GET:
        return answerJson(this.services.system?.net?.(fromUtf8(payload)));
      case OP.FLUSH:
        return answerVoid();
      default:
        throw new Error(`host-sim: unknown request ${op}`);
    }
  }

  /** The board stopped: its connections die now (no byte arrives after the halt). */
  private abortRequests(): void {
    this.mqtt.closeAll();
    for (const r of this.requests.values()) {
      if (r.inFlight) r.abort?.();
      this.release(r);
    }
  }

  /** One HTTP_DATA event of request `id` was delivered (or dropped). */
  private dataDone(id: number): void {
    const r = this.requests.get(id);
    if (!r) return; // closed: its waiters were released then
    r.undelivered = Math.max(0, r.undelivered - 1);
    if (r.undelivered === 0) this.release(r);
  }

  private release(r: HostRequest): void {
    const waiters = r.waiters;
    if (waiters.length === 0) return;
    r.waiters = [];
    queueMicrotask(() => {
      for (const w of waiters) w();
    });
  }

  private partition(id: number): XsFlashPartition {
    const p = this.flash.get(id);
    if (!p) throw new Error("closed");
    return p;
  }

  private digest(id: number): DigestCtx {
    const d = this.digests.get(id);
    if (!d) throw new TypeError("not a Digest");
    return d;
  }

  private digestService(): XsDigestService {
    return this.services.digest ?? nodeDigests;
  }

  /** Moddable's digest keeps running on a finalised context after close() without reset():
   * the result is not the digest of the new data. Modelled as a fresh context seeded with the
   * previous result, so later digests are deterministic but wrong, as on the device. */
  private poison(d: DigestCtx): void {
    const seed = d.finalised!;
    d.finalised = undefined;
    d.digest = this.digestService().create(d.name);
    d.digest.update(seed);
  }

  private httpOpen(jsonLength: number, streaming: boolean, payload: Uint8Array): Uint8Array {
    const http = this.services.http;
    if (!http) throw new Error("host-sim: no HTTP service");
    const info = JSON.parse(fromUtf8(payload.subarray(0, jsonLength))) as Omit<XsHttpRequest, "body">;
    const body = payload.byteLength > jsonLength ? new Uint8Array(payload.subarray(jsonLength)) : undefined;
    const id = this.nextId++;
    const r: HostRequest = { request: { ...info, body }, streaming, bodyParts: [], inFlight: false, undelivered: 0, waiters: [] };
    this.requests.set(id, r);
    if (streaming) this.push({ kind: EV.HTTP_WRITABLE, a: id, b: this.opts.httpWritableSize ?? 2048, request: id });
    else this.httpStart(id, r);
    return answerJson({ id });
  }

  private httpStart(id: number, r: HostRequest): void {
    r.inFlight = true;
    const fragment = Math.max(1, this.opts.httpFragmentSize ?? 1460);
    let finished = false;
    const live = () => !finished && this.requests.get(id) === r;
    const sink = {
      status: (code: number, headers: [string, string][]) => {
        if (!live()) return;
        this.push({ kind: EV.HTTP_RESPONSE, a: id, b: code, payload: utf8(JSON.stringify(headers)), request: id });
      },
      data: (chunk: Uint8Array) => {
        if (!live()) return;
        for (let at = 0; at < chunk.byteLength; at += fragment) {
          r.undelivered++;
          this.push({ kind: EV.HTTP_DATA, a: id, payload: chunk.slice(at, Math.min(chunk.byteLength, at + fragment)), request: id });
        }
      },
      whenDelivered: (callback: () => void) => {
        if (!live() || r.undelivered === 0) queueMicrotask(callback);
        else r.waiters.push(callback);
      },
      end: () => {
        if (!live()) return;
        finished = true;
        r.inFlight = false;
        this.push({ kind: EV.HTTP_END, a: id, request: id });
      },
      error: (reason: string) => {
        if (!live()) return;
        finished = true;
        r.inFlight = false;
        this.push({ kind: EV.HTTP_ERROR, a: id, payload: utf8(String(reason)), request: id });
      },
    };
    try {
      const handle = this.services.http!.request(r.request, sink);
      r.abort = () => {
        finished = true;
        r.inFlight = false;
        handle.abort();
      };
    } catch (e) {
      sink.error(describe(e).message);
    }
  }
}


function encodePreference(value: PreferenceValue | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array([PREF.MISSING]);
  if (typeof value === "boolean") return new Uint8Array([PREF.BOOLEAN, value ? 1 : 0]);
  if (typeof value === "number") {
    const out = new Uint8Array(5);
    out[0] = PREF.INT32;
    new DataView(out.buffer).setInt32(1, value, true);
    return out;
  }
  const bytes = typeof value === "string" ? utf8(value) : value;
  const out = new Uint8Array(1 + bytes.byteLength);
  out[0] = typeof value === "string" ? PREF.STRING : PREF.BUFFER;
  out.set(bytes, 1);
  return out;
}

function decodePreference(bytes: Uint8Array): PreferenceValue {
  const body = bytes.subarray(1);
  switch (bytes[0]) {
    case PREF.BOOLEAN:
      return body[0] !== 0;
    case PREF.INT32:
      return new DataView(body.buffer, body.byteOffset, 4).getInt32(0, true);
    case PREF.STRING:
      return fromUtf8(body);
    case PREF.BUFFER:
      return new Uint8Array(body);
    default:
      throw new Error("unsupported type");
  }
}

export { XsHaltError, XsWorkerError };
