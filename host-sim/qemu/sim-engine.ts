// Engine "qemu" of `xs-ota sim update`: the runtime bundle in XS on the emulated Cortex-M4 board
// (firmware/ on QEMU mps2-an386). Every power-on is a fresh QEMU process (qemu-process.ts).
//
// What is emulated and what is simulated:
// - Emulated (the firmware, C and XS on the Cortex-M4): the runtime bundle, its Moddable modules
//   (firmware/js/device.js), the NOR flash rules on the file-backed flash, SHA-256/MD5 in C, the
//   SysTick clock and timers, the promise-job run loop, SYSRESETREQ.
// - Simulated (this host, between and around power-ons): the ESP-IDF bootloader (host-sim's
//   bootloader/esp-idf.ts runs on the board's flash and names the slot that boots; the firmware
//   gets it in the ARGS frame), the network (HTTP proxied to the local update server through the
//   same metering and fault injection as the other engines), and the preference store.
// - The flash: the firmware does every write and erase on the file; each one is announced first
//   (FLASH_OP) and the host replays it on the board's NorFlash (host-sim/flash/nor-flash.ts),
//   which counts operations and applies the planned power cuts. A cut answers CUT: the firmware
//   halts at once, QEMU is killed, and the torn operation is the NorFlash's (the file gets its
//   bytes before the next power-on). After every power-on the file must equal the NorFlash's
//   bytes; a difference is an error (the C NOR rules and the simulator disagree).

import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { HttpHeaders, HttpRequest, HttpPort } from "../../src/ports.ts";
import type { SimBoard } from "../board.ts";
import { PowerCut } from "../flash/nor-flash.ts";
import { boardServices, flowControlled, type BoardHttp } from "../xs/board-services.ts";
import type { XsOutcome } from "../xs/host.ts";
import type { PreferenceValue } from "../xs/services.ts";
import { parseRuntimeEvent, type RuntimeArgs, type RuntimeEvent } from "../xs/runtime-protocol.ts";
import { firmwareElf, DEFAULT_RAM_LIMIT } from "./firmware-build.ts";
import { DONE_FIELD, FLASH_OP_FIELD, HTTP_OPEN_FIELD, readU32, REQUEST_FIELD, REQUEST_OP, TO_FIRMWARE, TO_HOST, u32, type Frame } from "./link.ts";
import { PSRAM_SIZE, QEMU, QemuProcess } from "./qemu-process.ts";

const run = promisify(execFile);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
/** The PSRAM past the flash: a staging area where the firmware puts the data of an announced
 * write, then the mailbox where the host puts HTTP body fragments (shared memory, as DMA buffers;
 * only the control frames cross the UART). */
const STAGING_SIZE = 256 * 1024;
const MAILBOX_MAX = 4 * 1024 * 1024;
const FLASH_WRITE = 1;
const FLASH_ERASE = 2;
const PREF_TAG = { MISSING: 0, BOOLEAN: 1, INT32: 2, STRING: 3, BUFFER: 4 } as const;
const ANSWER = { BYTES: 0, JSON: 1, ERROR: 2, VOID: 3 } as const;

export interface QemuStats {
  peakArena: number;
  peakStack: number;
  arenaLimit: number;
  ramLimit: number;
  flashOps: number;
  ms: number;
  /** Microseconds since reset and those spent waiting (WFI, the host's answers): with -icount
   * shift=0 one microsecond is 1000 instructions. */
  us: number;
  idleUs: number;
}

export interface QemuRunResult {
  outcome: XsOutcome;
  value?: unknown;
  error?: { name: string; message: string; stack?: string };
  reason?: string;
  /** The firmware's figures at the end of the power-on (RAM high-water marks). */
  stats?: QemuStats;
  /** Lines the firmware logged (one per event). */
  log: string[];
}

export interface QemuEngineOptions {
  /** RAM budget of the firmware in bytes (default 192 KiB... see firmware-build.ts). */
  ramLimit?: number;
  icount?: number;
  /** Per power-on limit of wall time (ms) before the run is an error. */
  timeoutMs?: number;
  /** Extra fields of the ARGS frame (bench/qemu.ts: {digests: {address, length}}). */
  bench?: Record<string, unknown>;
  /** Called with the firmware's figures after every power-on. */
  onStats?: (stats: QemuStats) => void;
}

/** Fails loudly when QEMU is missing (never a skip). */
export async function checkQemu(): Promise<void> {
  try {
    await run(QEMU, ["--version"]);
  } catch {
    throw new Error(`${QEMU} is missing: install Debian's qemu-system-arm (npm test's preflight does: scripts/system-packages.txt)`);
  }
}

export class QemuBoardEngine {
  onEvent: ((e: RuntimeEvent) => void) | undefined;
  private readonly dir: string;
  private readonly flashFile: string;
  private current: { halt: () => void } | undefined;

  private constructor(
    private readonly board: SimBoard,
    private readonly http: BoardHttp,
    private readonly log: (line: string) => void,
    private readonly elf: string,
    private readonly o: QemuEngineOptions,
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), "xs-ota-qemu-"));
    this.flashFile = path.join(this.dir, "flash.bin");
  }

  static async start(board: SimBoard, http: BoardHttp, log: (line: string) => void = () => undefined, o: QemuEngineOptions = {}): Promise<QemuBoardEngine> {
    await checkQemu();
    const elf = await firmwareElf(o.ramLimit ?? DEFAULT_RAM_LIMIT);
    return new QemuBoardEngine(board, http, log, elf, o);
  }

  /** The power is lost after the frames already sent (the chunk that crossed the threshold). */
  haltAfterQueued(reason: string): void {
    this.current?.halt();
    this.log(`qemu: ${reason}`);
  }

  async close(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One power-on: the flash file gets the board's bytes, QEMU boots the firmware with `args`. */
  powerOn(args: RuntimeArgs): Promise<QemuRunResult> {
    const board = this.board;
    const flashBytes = board.flash.snapshot();
    this.writeFlashFile(flashBytes);
    const staging = Math.ceil(flashBytes.byteLength / 0x10000) * 0x10000;
    const mailbox = staging + STAGING_SIZE;
    const mailboxSize = Math.min(MAILBOX_MAX, PSRAM_SIZE - mailbox);
    if (mailboxSize < 64 * 1024) throw new Error(`the board's flash (${flashBytes.byteLength} bytes) leaves no room for the mailbox in the PSRAM`);
    const shared = { staging, mailbox, mailboxSize };
    let mailboxAt = 0;
    const fd = openSync(this.flashFile, "r+");
    const services = boardServices(board, this.http);
    const log: string[] = [];
    const exchanges = new Map<number, { abort(): void }>();
    const delivered = new Map<number, (() => void)[]>();
    let result: QemuRunResult | undefined;
    let stats: QemuStats | undefined;
    let cut = false;
    let halted = false;

    return new Promise<QemuRunResult>((resolve) => {
      const finish = (r: Omit<QemuRunResult, "log" | "stats">): void => {
        result ??= { ...r, log };
      };
      const qemu: QemuProcess = new QemuProcess({
        elf: this.elf,
        flashFile: this.flashFile,
        semihostingLog: path.join(this.dir, "semihosting.log"),
        icount: this.o.icount,
        onFrame: (f) => {
          try {
            onFrame(f);
          } catch (e) {
            finish({ outcome: "error", error: { name: "Error", message: `qemu host: ${e instanceof Error ? e.message : String(e)}` } });
            qemu.kill();
          }
        },
        onNoise: (t) => this.log(`qemu: ${t.trimEnd()}`),
        onExit: (code, signal, stderr) => {
          clearTimeout(timer);
          closeSync(fd);
          for (const x of exchanges.values()) x.abort();
          exchanges.clear();
          if (!result) {
            if (halted || cut) finish({ outcome: "halted", reason: cut ? `power cut at flash operation ${board.flash.ops}` : "power lost" });
            else finish({ outcome: "error", error: { name: "Error", message: `QEMU exited (${signal ?? code}) without a result${stderr ? `: ${stderr.trim()}` : ""}` } });
          }
          if (!cut) this.checkFlashFile(board.flash.snapshot(), result!);
          this.current = undefined;
          resolve({ ...result!, stats });
        },
      });
      const timer = setTimeout(() => {
        finish({ outcome: "error", error: { name: "Error", message: `power-on timed out after ${this.o.timeoutMs ?? 300_000} ms` } });
        qemu.kill();
      }, this.o.timeoutMs ?? 300_000);
      this.current = {
        halt: () => {
          halted = true;
          qemu.send(TO_FIRMWARE.HALT);
        },
      };

      const httpSink = (id: number) => ({
        status: (code: number, headers: [string, string][]) =>
          qemu.send(TO_FIRMWARE.HTTP_RESPONSE, u32(id, code), utf8(JSON.stringify(headers))),
        data: (chunk: Uint8Array) => {
          if (chunk.byteLength > mailboxSize / 4) throw new Error(`an HTTP chunk of ${chunk.byteLength} bytes is too large for the mailbox`);
          if (mailboxAt + chunk.byteLength > mailboxSize) mailboxAt = 0;
          writeSync(fd, chunk, 0, chunk.byteLength, mailbox + mailboxAt);
          qemu.send(TO_FIRMWARE.HTTP_DATA, u32(id, mailbox + mailboxAt, chunk.byteLength));
          mailboxAt += chunk.byteLength;
        },
        end: () => {
          exchanges.delete(id);
          qemu.send(TO_FIRMWARE.HTTP_END, u32(id));
        },
        error: (reason: string) => {
          exchanges.delete(id);
          qemu.send(TO_FIRMWARE.HTTP_ERROR, u32(id), utf8(reason));
        },
        whenDelivered: (cb: () => void) => {
          const list = delivered.get(id) ?? [];
          list.push(cb);
          delivered.set(id, list);
        },
      });

      const onFrame = (f: Frame): void => {
        const p = f.payload;
        switch (f.type) {
          case TO_HOST.HELLO: {
            const geometry = board.flash.geometry;
            const sector = geometry.sectors[0].size;
            if (geometry.sectors.some((s) => s.size !== sector)) throw new Error("the qemu engine needs a flash of uniform sectors");
            if (geometry.size > PSRAM_SIZE) throw new Error(`the board's flash (${geometry.size} bytes) is larger than the PSRAM window`);
            const start = { args, bench: this.o.bench, flash: { size: geometry.size, sector, align: geometry.writeAlign, erased: geometry.erasedValue, ...shared } };
            qemu.send(TO_FIRMWARE.ARGS, utf8(JSON.stringify(start)));
            return;
          }
          case TO_HOST.LOG: {
            const line = text(p);
            log.push(line);
            this.log(`qemu: ${line}`);
            return;
          }
          case TO_HOST.TRACE: {
            const t = text(p);
            const event = parseRuntimeEvent(t);
            if (event) this.onEvent?.(event);
            else this.log(`qemu: ${t.replace(/\n$/, "")}`);
            return;
          }
          case TO_HOST.FLASH_OP:
            onFlashOp(p);
            return;
          case TO_HOST.HTTP_OPEN:
            onHttpOpen(p);
            return;
          case TO_HOST.HTTP_CLOSE: {
            const id = readU32(p, 0);
            exchanges.get(id)?.abort();
            exchanges.delete(id);
            fireDelivered(id);
            return;
          }
          case TO_HOST.HTTP_ACK:
            fireDelivered(readU32(p, 0));
            return;
          case TO_HOST.REQUEST:
            qemu.send(TO_FIRMWARE.ANSWER, answer(p[REQUEST_FIELD.OP], p.subarray(REQUEST_FIELD.PAYLOAD)));
            return;
          case TO_HOST.DONE: {
            const value = JSON.parse(text(p.subarray(DONE_FIELD.VALUE)));
            finish(p[DONE_FIELD.OK] === 1 ? { outcome: "done", value } : { outcome: "error", error: value });
            return;
          }
          case TO_HOST.RESTART:
            finish({ outcome: "restart" });
            return;
          case TO_HOST.FATAL:
            finish({ outcome: "error", error: { name: "Error", message: `firmware: ${text(p)}` } });
            return;
          case TO_HOST.STATS:
            stats = JSON.parse(text(p)) as QemuStats;
            this.o.onStats?.(stats);
            this.log(`qemu: peak RAM: arena ${stats.peakArena} of ${stats.arenaLimit} bytes, stack ${stats.peakStack}; ${stats.flashOps} flash operations, ${stats.ms} ms`);
            if (halted) qemu.kill(); // the firmware halted after its last frames
            return;
          default:
            throw new Error(`unknown frame 0x${f.type.toString(16)}`);
        }
      };

      const fireDelivered = (id: number): void => {
        const list = delivered.get(id);
        if (!list) return;
        delivered.delete(id);
        for (const cb of list) setImmediate(cb);
      };

      const onFlashOp = (p: Uint8Array): void => {
        const kind = p[FLASH_OP_FIELD.KIND];
        const address = readU32(p, FLASH_OP_FIELD.ADDRESS);
        const length = readU32(p, FLASH_OP_FIELD.LENGTH);
        try {
          if (board.flash.isDead) throw new PowerCut(board.flash.ops);
          if (kind === FLASH_WRITE) {
            if (length > STAGING_SIZE) throw new Error(`flash write of ${length} bytes is larger than the staging area`);
            const data = new Uint8Array(length);
            readSync(fd, data, 0, length, staging);
            board.flash.write(address, data);
          }
          else if (kind === FLASH_ERASE) board.flash.erase(address, length);
          else throw new Error(`flash operation kind ${kind}`);
        } catch (e) {
          if (e instanceof PowerCut || board.flash.isDead) {
            cut = true;
            qemu.send(TO_FIRMWARE.CUT);
            qemu.kill();
            return;
          }
          throw e;
        }
        qemu.send(TO_FIRMWARE.GO);
      };

      const onHttpOpen = (p: Uint8Array): void => {
        const id = readU32(p, HTTP_OPEN_FIELD.ID);
        const jsonLength = readU32(p, HTTP_OPEN_FIELD.JSON_LENGTH);
        const req = JSON.parse(text(p.subarray(HTTP_OPEN_FIELD.JSON, HTTP_OPEN_FIELD.JSON + jsonLength))) as {
          scheme: string; host: string; port: number; method: string; path: string; headers: [string, string][];
        };
        const body = p.subarray(HTTP_OPEN_FIELD.JSON + jsonLength);
        const headers: HttpHeaders = {};
        for (const [name, value] of req.headers) {
          const k = name.toLowerCase();
          if (k === "host" || k === "connection") continue;
          headers[k] = k in headers ? `${headers[k]}, ${value}` : value;
        }
        const request: HttpRequest = { url: `${req.scheme}://${req.host}:${req.port}${req.path}`, method: req.method as HttpRequest["method"], headers };
        if (body.byteLength) request.body = body.slice();
        const sink = httpSink(id);
        const port: HttpPort = (this.http.wrap ?? ((x: HttpPort) => x))(flowControlled(this.http.network, sink));
        const exchange = port.request(request, {
          response: (status, h) => sink.status(status, Object.entries(h)),
          data: (chunk) => sink.data(chunk),
          end: () => sink.end(),
          error: (reason) => sink.error(reason),
        });
        exchanges.set(id, exchange);
      };

      const answer = (op: number, payload: Uint8Array): Uint8Array => {
        try {
          switch (op) {
            case REQUEST_OP.PREF_GET: {
              const { domain, key } = JSON.parse(text(payload)) as { domain: string; key: string };
              return bytesAnswer(encodePref(services.preference.get(domain, key)));
            }
            case REQUEST_OP.PREF_SET: {
              const n = readU32(payload, 0);
              const { domain, key } = JSON.parse(text(payload.subarray(4, 4 + n))) as { domain: string; key: string };
              services.preference.set(domain, key, decodePref(payload.subarray(4 + n)));
              return Uint8Array.of(ANSWER.VOID);
            }
            case REQUEST_OP.PREF_DELETE: {
              const { domain, key } = JSON.parse(text(payload)) as { domain: string; key: string };
              services.preference.delete(domain, key);
              return Uint8Array.of(ANSWER.VOID);
            }
            case REQUEST_OP.PREF_KEYS: {
              const { domain } = JSON.parse(text(payload)) as { domain: string };
              return jsonAnswer(services.preference.keys(domain));
            }
            case REQUEST_OP.NET_GET:
              return jsonAnswer(services.system?.net?.(text(payload)) ?? null);
            default:
              throw new Error(`unknown request ${op}`);
          }
        } catch (e) {
          return withStatus(ANSWER.ERROR, utf8(JSON.stringify({ name: "Error", message: e instanceof Error ? e.message : String(e) })));
        }
      };
    });
  }

  private writeFlashFile(bytes: Uint8Array): void {
    const fd = openSync(this.flashFile, "a+");
    closeSync(fd);
    const w = openSync(this.flashFile, "r+");
    try {
      writeSync(w, bytes, 0, bytes.byteLength, 0);
      const rest = PSRAM_SIZE - bytes.byteLength;
      if (rest > 0) writeSync(w, new Uint8Array(rest).fill(0xff), 0, rest, bytes.byteLength);
    } finally {
      closeSync(w);
    }
  }

  /** The file after a power-on without a cut equals the NorFlash (the same operations, the same
   * NOR rules); a difference means the firmware and the simulator disagree (flashMismatch). */
  private checkFlashFile(expected: Uint8Array, result: QemuRunResult): void {
    const fd = openSync(this.flashFile, "r");
    const actual = new Uint8Array(expected.byteLength);
    try {
      readSync(fd, actual, 0, actual.byteLength, 0);
    } finally {
      closeSync(fd);
    }
    flashMismatch(expected, actual, result);
  }
}

/** Compares the firmware's flash file with the simulator's bytes and records a difference in
 * `result`. The host replays an operation when it is announced, before the firmware does it: a
 * firmware that stops between the two (a FATAL such as the RAM budget while it waits for GO)
 * leaves that operation in the simulator only. Its own error is then the cause and stays the
 * message; the difference is added to it, never put in its place. */
export function flashMismatch(expected: Uint8Array, actual: Uint8Array, result: QemuRunResult): void {
  for (let i = 0; i < actual.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      const difference = `the firmware's flash differs from the simulator's at 0x${i.toString(16)} (0x${actual[i].toString(16)} vs 0x${expected[i].toString(16)})`;
      if (result.outcome === "error" && result.error) result.error = { ...result.error, message: `${result.error.message} (then ${difference})` };
      else {
        result.outcome = "error";
        result.error = { name: "Error", message: difference };
      }
      return;
    }
  }
}

function withStatus(status: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = status;
  out.set(body, 1);
  return out;
}
const bytesAnswer = (b: Uint8Array): Uint8Array => withStatus(ANSWER.BYTES, b);
const jsonAnswer = (v: unknown): Uint8Array => withStatus(ANSWER.JSON, utf8(JSON.stringify(v)));

function encodePref(value: PreferenceValue | undefined): Uint8Array {
  if (value === undefined) return Uint8Array.of(PREF_TAG.MISSING);
  if (typeof value === "boolean") return Uint8Array.of(PREF_TAG.BOOLEAN, value ? 1 : 0);
  if (typeof value === "number") {
    const out = new Uint8Array(5);
    out[0] = PREF_TAG.INT32;
    new DataView(out.buffer).setInt32(1, value, true);
    return out;
  }
  if (typeof value === "string") return withStatus(PREF_TAG.STRING, utf8(value));
  return withStatus(PREF_TAG.BUFFER, value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
}

function decodePref(b: Uint8Array): PreferenceValue {
  switch (b[0]) {
    case PREF_TAG.BOOLEAN:
      return b[1] !== 0;
    case PREF_TAG.INT32:
      return new DataView(b.buffer, b.byteOffset + 1, 4).getInt32(0, true);
    case PREF_TAG.STRING:
      return text(b.subarray(1));
    case PREF_TAG.BUFFER:
      return b.slice(1);
    default:
      throw new Error(`preference type ${b[0]}`);
  }
}
