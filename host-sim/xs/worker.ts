// Drives the real XS engine: the `xsnap-worker` binary built by @agoric/xsnap, spawned directly
// with child_process. We do not import the @agoric/xsnap Node API because it needs
// `import '@endo/init'` (SES lockdown), which would freeze the whole Node process.
//
// Protocol (node_modules/@agoric/xsnap/xsnap-native/xsnap/sources/xsnap-worker.c, src/xsnap.js):
// netstrings `<decimal length>:<bytes>,` on fd 3 (host -> worker) and fd 4 (worker -> host).
//   host -> worker   `e<js source>`   evaluate as a script (global eval); result is the reply
//                    `?<bytes>`       call globalThis.handleCommand(ArrayBuffer); result is the reply
//                    `s<path>`        run a program file; `m<path>` import a module file
//                    `w<path>`        write a heap snapshot (a new worker starts from it with -r)
//                    `R`              ready check; `q` quit
//                    `/<bytes>`       answer to the worker's pending issueCommand
//   worker -> host   `?<bytes>`       XS called issueCommand(ArrayBuffer): XS is blocked until the
//                                     host writes `/<bytes>`
//                    `.<meter json>\x01<bytes>`  the operation finished. <bytes> is the result when
//                                     it is an ArrayBuffer (or an object whose `result` property is
//                                     an ArrayBuffer once the job queue is empty), else empty
//                    `!<message>`     uncaught exception (the worker survives)
// After every `e`/`?`/`s`/`m` the worker runs fxRunLoop: the promise job queue is drained (and
// setImmediate callbacks run) before the `.` answer is written, so one operation = one "turn".
// The meter JSON: {currentHeapCount, compute, allocate, timestamps}; compute is the XS meter
// index for that operation (the deterministic "computrons"), currentHeapCount is in 16-byte slots,
// allocate is the bytes the machine has reserved (chunks + slots).

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Readable, Writable } from "node:stream";

const OK = 0x2e; // '.'
const ERROR = 0x21; // '!'
const QUERY = 0x3f; // '?'
const OK_SEPARATOR = 0x01;
const ANSWER_PREFIX = new Uint8Array([0x2f]); // '/'


/** Exit codes of xsnap-worker (node_modules/@agoric/xsnap/api.js). */
export const XSNAP_EXIT_MESSAGES: Record<number, string> = {
  [-1]: "unknown error",
  1: "bad argument usage",
  2: "I/O error",
  11: "not enough memory",
  12: "stack overflow",
  15: "unhandled exception",
  16: "property (key) name space exhausted",
  17: "too much computation (meter limit)",
};

export interface MeterUsage {
  /** XS meter index for the operation (deterministic work units, "computrons"). */
  compute: number;
  /** Live XS heap slots (16 bytes each) when the operation ended. */
  currentHeapCount: number;
  /** Bytes reserved by the machine (chunk + slot heaps) when the operation ended. */
  allocate: number;
}

export interface RunResult {
  /** Result bytes (empty unless the evaluated value / handleCommand result is an ArrayBuffer). */
  reply: Uint8Array;
  meter: MeterUsage;
  /** Wall time of the operation as seen by the host, including issueCommand round trips. */
  wallMs: number;
  /** Number of issueCommand requests XS made during the operation. */
  commands: number;
}

/** Answers a synchronous issueCommand from XS. XS is blocked until the answer is written. */
export type CommandHandler = (request: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export type XsErrorKind = "exception" | "crash" | "timeout" | "protocol" | "closed" | "handler";

export class XsWorkerError extends Error {
  constructor(
    readonly kind: XsErrorKind,
    message: string,
    readonly details: { exitCode?: number | null; signal?: string | null; stderr?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = "XsWorkerError";
  }
}

export interface XsWorkerOptions {
  /** Shown in errors and passed as argv[1]. */
  name?: string;
  handleCommand?: CommandHandler;
  /** Per-operation XS meter limit (xsnap `-l`); the worker exits with code 17 beyond it.
   * 0 (default) = unlimited. */
  meteringLimit?: number;
  /** Parser buffer in KiB (xsnap `-s`); the default 8192 KiB bounds the size of evaluated code. */
  parserBufferKiB?: number;
  /** Wall-clock limit for one operation (evaluate / command); the worker is killed beyond it.
   * Default 120 000 ms. 0 = none. */
  timeoutMs?: number;
  /** Receives each line XS prints (`print()`, and our `trace()` shim). Default: buffered only. */
  onStdout?: (line: string) => void;
  /** Use the debug build of xsnap-worker. */
  debug?: boolean;
  /** Explicit path of the xsnap-worker binary. */
  binPath?: string;
  /** Start from this heap snapshot (xsnap `-r`, written by writeSnapshot()) instead of an empty
   * machine. */
  snapshot?: string;
}

/** Locates the xsnap-worker binary built by `npm install @agoric/xsnap`. */
export function findXsnapWorkerBinary(debug = false): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve("@agoric/xsnap/package.json"));
  const platform = process.platform === "linux" ? "lin" : process.platform === "darwin" ? "mac" : undefined;
  if (!platform) throw new Error(`xsnap-worker is not available on ${process.platform}`);
  const bin = path.join(pkg, "xsnap-native/xsnap/build/bin", platform, debug ? "debug" : "release", "xsnap-worker");
  if (!existsSync(bin)) throw new Error(`xsnap-worker binary not found at ${bin} (was @agoric/xsnap built?)`);
  return bin;
}

interface Pending {
  resolve(r: RunResult): void;
  reject(e: Error): void;
  started: number;
  commands: number;
  timer?: NodeJS.Timeout;
}

const TEXT = new TextDecoder();
const MAX_STDERR = 64 * 1024;

/** One xsnap-worker process. Operations are serialised; each resolves when XS is idle again. */
export class XsWorker {
  readonly name: string;
  private readonly proc: ChildProcess;
  private readonly toXs: Writable;
  private readonly fromXs: Readable;
  private handler: CommandHandler;
  private readonly timeoutMs: number;
  private readonly onStdout?: (line: string) => void;

  private chain: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private inBuf: Buffer = Buffer.alloc(0);
  private aside: Buffer[] = [];
  private asideLength = 0;
  private need = 0;
  private stderrText = "";
  private stdoutPartial = "";
  private stdoutLines: string[] = [];
  private exitInfo: { code: number | null; signal: string | null } | undefined;
  private fatal: XsWorkerError | undefined;
  private closing = false;
  private readonly exitPromise: Promise<{ code: number | null; signal: string | null }>;

  /** Totals over the worker's life (for benchmarks). */
  readonly stats = { operations: 0, commands: 0, bytesToXs: 0, bytesFromXs: 0, compute: 0 };

  constructor(options: XsWorkerOptions = {}) {
    this.name = options.name ?? "xs-ota";
    this.handler = options.handleCommand ?? ((r) => r);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.onStdout = options.onStdout;
    const bin = options.binPath ?? findXsnapWorkerBinary(options.debug);
    const args = [this.name.replace(/^-+/, "")];
    if (options.meteringLimit) args.push("-l", String(Math.floor(options.meteringLimit)));
    if (options.parserBufferKiB) args.push("-s", String(Math.floor(options.parserBufferKiB)));
    if (options.snapshot) args.push("-r", options.snapshot);
    this.proc = spawn(bin, args, {
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe", "ignore", "ignore", "ignore", "ignore"],
    });
    const stdio = this.proc.stdio as unknown as [null, Readable, Readable, Writable, Readable];
    this.toXs = stdio[3];
    this.fromXs = stdio[4];
    this.toXs.on("error", () => {
      /* EPIPE after a crash: reported through the exit handler */
    });
    stdio[1].setEncoding("utf8");
    stdio[1].on("data", (s: string) => this.onStdoutData(s));
    stdio[2].setEncoding("utf8");
    stdio[2].on("data", (s: string) => {
      this.stderrText = (this.stderrText + s).slice(-MAX_STDERR);
    });
    this.fromXs.on("data", (chunk: Buffer) => this.onData(chunk));
    this.setRef(false);
    this.exitPromise = new Promise((resolve) => {
      this.proc.once("error", (err) => {
        this.exitInfo = { code: -1, signal: null };
        this.fail(new XsWorkerError("crash", `${this.name}: cannot start xsnap-worker: ${err.message}`, { cause: err }));
        resolve(this.exitInfo);
      });
      // 'close' fires after the stdio streams ended, so every message XS wrote has been parsed.
      this.proc.once("close", (code, signal) => {
        this.exitInfo = { code, signal };
        if (this.stdoutPartial) this.emitLine(this.stdoutPartial);
        this.stdoutPartial = "";
        const why =
          signal !== null
            ? `killed by signal ${signal}`
            : `exited with code ${code}${code ? ` (${XSNAP_EXIT_MESSAGES[code] ?? "unknown"})` : ""}`;
        const kind = this.closing && (code === 0 || signal === "SIGTERM" || signal === "SIGKILL") ? "closed" : "crash";
        this.fail(new XsWorkerError(kind, `${this.name}: xsnap-worker ${why}${this.stderrSuffix()}`, {
          exitCode: code,
          signal,
          stderr: this.stderrText,
        }));
        resolve(this.exitInfo);
      });
    });
  }

  /** Replaces the issueCommand handler. */
  setCommandHandler(handler: CommandHandler): void {
    this.handler = handler;
  }

  /** The xsnap-worker's process id (measurements: its resident memory). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Whether the process is still running and usable. */
  get alive(): boolean {
    return !this.exitInfo && !this.fatal;
  }

  /** stderr of the worker so far (last 64 KiB). */
  get stderr(): string {
    return this.stderrText;
  }

  /** Lines printed by XS so far (when no onStdout callback was given; last 1000 lines). */
  get stdout(): readonly string[] {
    return this.stdoutLines;
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<{ code: number | null; signal: string | null }> {
    return this.exitPromise;
  }

  /** Waits until the worker answers (`R`). */
  ready(): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("R")]);
  }

  /** Evaluates a script in the global scope (indirect eval). An exception rejects with kind "exception". */
  evaluate(code: string): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("e"), Buffer.from(code, "utf8")]);
  }

  /** Calls the XS global `handleCommand(ArrayBuffer)` with the bytes; its ArrayBuffer result is the reply. */
  command(message: Uint8Array): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("?"), message]);
  }

  /** Runs a program file (a script) from disk. */
  execute(file: string): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("s"), Buffer.from(file, "utf8")]);
  }

  /** Imports a module file from disk. */
  importModule(file: string): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("m"), Buffer.from(file, "utf8")]);
  }

  /** Writes the machine's heap to `file` (xsnap `w`); a worker started with `snapshot: file`
   * begins in this state. Resolves once the file is complete. */
  writeSnapshot(file: string): Promise<RunResult> {
    return this.enqueue(() => [Buffer.from("w"), Buffer.from(file, "utf8")]);
  }

  /** Asks the worker to quit after pending operations; kills it if it does not exit in time. */
  async close(graceMs = 2000): Promise<void> {
    if (this.exitInfo) return;
    const previous = this.chain;
    this.closing = true;
    await previous.catch(() => undefined);
    if (this.exitInfo) return;
    this.writeNetstring([Buffer.from("q")]);
    this.toXs.end();
    const t = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(t);
  }

  /** Kills the process at once (pending operations reject with kind "closed"). */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.closing = true;
    this.setRef(true); // the exit is awaited: an unref'd process would let Node quit first
    this.proc.kill("SIGKILL");
    await this.exitPromise;
  }

  // ------------------------------------------------------------------------------------------

  private enqueue(message: () => Uint8Array[]): Promise<RunResult> {
    const run = () =>
      new Promise<RunResult>((resolve, reject) => {
        if (this.fatal) return reject(this.fatal);
        if (this.exitInfo) return reject(new XsWorkerError("closed", `${this.name}: worker has exited`));
        const p: Pending = { resolve, reject, started: performance.now(), commands: 0 };
        if (this.timeoutMs > 0) {
          p.timer = setTimeout(() => {
            this.fail(
              new XsWorkerError(
                "timeout",
                `${this.name}: operation did not finish within ${this.timeoutMs} ms; worker killed${this.stderrSuffix()}`,
                { stderr: this.stderrText },
              ),
            );
            this.proc.kill("SIGKILL");
          }, this.timeoutMs);
        }
        this.pending = p;
        this.setRef(true);
        this.stats.operations++;
        this.writeNetstring(message());
      });
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private writeNetstring(parts: Uint8Array[]): void {
    let length = 0;
    for (const p of parts) length += p.byteLength;
    this.stats.bytesToXs += length;
    const prefix = `${length}:`;
    if (length <= 64 * 1024) {
      // one buffer, one write: most answers are a few bytes and latency is what matters
      const out = Buffer.allocUnsafe(prefix.length + length + 1);
      let at = out.write(prefix, 0, "latin1");
      for (const p of parts) {
        out.set(p, at);
        at += p.byteLength;
      }
      out[at] = 0x2c;
      this.toXs.write(out);
      return;
    }
    this.toXs.cork();
    this.toXs.write(prefix);
    for (const p of parts) if (p.byteLength) this.toXs.write(p);
    this.toXs.write(",");
    this.toXs.uncork();
  }

  private onData(chunk: Buffer): void {
    // A large message arrives in many pipe reads: keep them aside until it is complete, then
    // join once (joining at every read would copy O(n^2) bytes).
    if (this.need > 0 && this.inBuf.length + this.asideLength + chunk.length < this.need) {
      this.aside.push(chunk);
      this.asideLength += chunk.length;
      return;
    }
    if (this.aside.length) {
      this.inBuf = Buffer.concat([this.inBuf, ...this.aside, chunk]);
      this.aside = [];
      this.asideLength = 0;
    } else this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, chunk]) : chunk;
    this.need = 0;
    for (;;) {
      const colon = this.inBuf.indexOf(0x3a);
      if (colon < 0) {
        if (this.inBuf.length > 12) this.protocolError("netstring length prefix too long");
        return;
      }
      const length = Number(this.inBuf.toString("latin1", 0, colon));
      if (!Number.isInteger(length) || length < 0) return this.protocolError("bad netstring length");
      const end = colon + 1 + length;
      if (this.inBuf.length < end + 1) {
        this.need = end + 1;
        return;
      }
      if (this.inBuf[end] !== 0x2c) return this.protocolError("netstring without trailing comma");
      const message = this.inBuf.subarray(colon + 1, end);
      this.inBuf = this.inBuf.subarray(end + 1);
      this.stats.bytesFromXs += length;
      this.onMessage(message);
      if (this.fatal) return;
    }
  }

  private onMessage(message: Buffer): void {
    const p = this.pending;
    if (!p) return this.protocolError(`unexpected message while idle: ${String.fromCharCode(message[0] ?? 32)}`);
    if (message.length === 0) return this.protocolError("empty message");
    const tag = message[0];
    if (tag === QUERY) {
      p.commands++;
      this.stats.commands++;
      // A view: socket reads allocate fresh buffers, so the bytes stay valid; handlers copy what
      // they keep beyond the call (services.ts).
      const request = new Uint8Array(message.buffer, message.byteOffset + 1, message.byteLength - 1);
      let answer: Uint8Array | Promise<Uint8Array>;
      try {
        answer = this.handler(request);
      } catch (e) {
        return this.handlerFailed(e);
      }
      if (answer instanceof Uint8Array) this.writeNetstring([ANSWER_PREFIX, answer]);
      else
        answer.then(
          (a) => {
            if (!this.fatal) this.writeNetstring([ANSWER_PREFIX, a]);
          },
          (e) => this.handlerFailed(e),
        );
      return;
    }
    if (tag === OK) {
      let meter: MeterUsage = { compute: 0, currentHeapCount: 0, allocate: 0 };
      let reply = message.subarray(1);
      const sep = message.indexOf(OK_SEPARATOR, 1);
      if (sep >= 0) {
        try {
          const m = JSON.parse(message.toString("utf8", 1, sep));
          meter = { compute: m.compute ?? 0, currentHeapCount: m.currentHeapCount ?? 0, allocate: m.allocate ?? 0 };
        } catch {
          return this.protocolError("bad meter data");
        }
        reply = message.subarray(sep + 1);
      }
      this.stats.compute += meter.compute;
      this.settle();
      p.resolve({ reply: new Uint8Array(reply), meter, wallMs: performance.now() - p.started, commands: p.commands });
      return;
    }
    if (tag === ERROR) {
      this.settle();
      const text = message.toString("utf8", 1);
      p.reject(new XsWorkerError("exception", `${this.name}: uncaught exception in XS: ${text || "(no message)"}`, { stderr: this.stderrText }));
      return;
    }
    this.protocolError(`unknown message tag 0x${tag!.toString(16)}`);
  }

  private settle(): void {
    const p = this.pending;
    if (p?.timer) clearTimeout(p.timer);
    this.pending = undefined;
    this.setRef(false);
  }

  /** An idle worker does not keep Node alive (a forgotten close() cannot hang a test run);
   * a pending operation does. */
  private setRef(on: boolean): void {
    const handles = [this.proc, ...(this.proc.stdio as unknown as ({ ref?(): void; unref?(): void } | null)[])];
    for (const h of handles) {
      if (!h) continue;
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  private handlerFailed(e: unknown): void {
    // XS is blocked in issueCommand; there is no way to answer with an exception through the
    // protocol, so the worker is killed and the operation fails with the handler's error.
    const err = new XsWorkerError("handler", `${this.name}: issueCommand handler failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
    this.fail(err);
    this.proc.kill("SIGKILL");
  }

  private protocolError(what: string): void {
    this.fail(new XsWorkerError("protocol", `${this.name}: xsnap protocol error: ${what}${this.stderrSuffix()}`));
    this.proc.kill("SIGKILL");
  }

  private fail(err: XsWorkerError): void {
    if (!this.fatal) this.fatal = err;
    const p = this.pending;
    if (p) {
      this.settle();
      // The first, most specific cause (e.g. the timeout) wins over the resulting exit.
      p.reject(this.fatal);
    }
  }

  private onStdoutData(s: string): void {
    const text = this.stdoutPartial + s;
    const lines = text.split("\n");
    this.stdoutPartial = lines.pop() ?? "";
    for (const line of lines) this.emitLine(line);
  }

  private emitLine(line: string): void {
    if (this.onStdout) this.onStdout(line);
    else {
      this.stdoutLines.push(line);
      if (this.stdoutLines.length > 1000) this.stdoutLines.shift();
    }
  }

  private stderrSuffix(): string {
    const s = this.stderrText.trim();
    return s ? `\n--- xsnap stderr ---\n${s.slice(-4000)}` : "";
  }
}

/** Decodes a UTF-8 reply. */
export function replyText(r: RunResult): string {
  return TEXT.decode(r.reply);
}
