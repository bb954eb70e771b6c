// XsServices on a simulated board (host-sim/board.ts): what the XS engine serves to the runtime
// bundle during one power-on of `xs-ota sim update --engine xs`.
// - flash: the ESP32 natives' names (moddable-sdk.md §1): "running" (the slot the bootloader
//   booted, opened read-only by the platform), "nextota" (esp_ota_get_next_update_partition: the
//   OTA slot after the running one), "xs" (the first partition of type 0x40 subtype 0x01: the
//   journal, "otajournal"), and data partitions by label ("otadata", "nvs", ...). The partitions
//   are views of the board's NorFlash, opened on the chip of the current power-on; a PowerCut
//   (planned cut, or power already lost) becomes XsHaltError, so the worker dies inside the call.
// - preference: the board's kvStore (buffers of the domain "xsota" under their key, as the node
//   engine stores them; other domains as "domain/key"), other value types in memory.
// - http: the network port given (node:http) through `wrap` (the sim's HttpMeter: byte counts,
//   deterministic chunks, --reboot-at), with flow control in front of the wrap: the network's
//   chunks are handed on one at a time, the next once XS has read the previous one. So the meter
//   counts what the board takes when it takes it, as with the Node engine, where a chunk is
//   handled synchronously: a board that dies (or lags) does not "receive" what it never read.
// - digests: node:crypto (the engine's default). system: restart marks the board; RSSI from the
//   board's readings.

import type { HttpHandlers, HttpHeaders, HttpPort, HttpRequest } from "../../src/ports.ts";
import type { FlashPartition, PartitionInfo } from "../../src/ports.ts";
import type { BoardReadings } from "../board.ts";
import { PowerCut, type NorFlash } from "../flash/nor-flash.ts";
import { XsHaltError, type PreferenceValue, type XsFlashPartition, type XsHttpService, type XsHttpSink, type XsServices } from "./services.ts";

const APP = 0x00;
const DATA = 0x01;
const XS_TYPE = 0x40;
const XS_SUBTYPE = 0x01;
const OTA_FIRST = 0x10;
const OTA_LAST = 0x1f;
const DEFAULT_DOMAIN = "xsota";

/** What the services need of a simulated board: an ESP board (board.ts) or an STM32 one
 * (layout-board.ts, whose regions it lists with ESP-style partition types). */
export interface ServedBoard {
  flash: NorFlash;
  running: string;
  restartRequested: boolean;
  readonly kvStore: Map<string, Uint8Array>;
  readings: BoardReadings;
  readonly entries: readonly PartitionInfo[];
  readonly profile: { sectorSize: number };
  partition(label: string): FlashPartition;
  /** Named regions inside partitions the natives open as partitions of their own (the MCUboot
   * primary slot's trailer sectors). */
  readonly regions?: readonly ServedRegion[];
}

/** A region of partition `label`, [offset, offset + size), opened under `path`. */
export interface ServedRegion {
  path: string;
  label: string;
  offset: number;
  size: number;
}

/** The erase unit the flash module reports for [offset, offset + size) of a partition: its
 * smallest sector (every sector of the STM32F4's partitions is one size; the platform takes a
 * mixed map from its sectorMap option). */
function blockSizeOf(board: ServedBoard, view: FlashPartition, offset: number, size: number): number {
  let block = 0;
  for (const s of view.geometry.sectors) {
    if (s.offset + s.size <= offset || s.offset >= offset + size) continue;
    if (block === 0 || s.size < block) block = s.size;
  }
  return block || board.profile.sectorSize;
}

/** Runs a flash operation; a power cut stops the board (the worker) inside the call. */
function guard<T>(board: ServedBoard, op: () => T): T {
  if (board.flash.isDead) throw new XsHaltError(`power cut at flash operation ${board.flash.ops}`);
  try {
    return op();
  } catch (e) {
    if (e instanceof PowerCut || board.flash.isDead) throw new XsHaltError(e instanceof Error ? e.message : String(e));
    // FlashRuleError and bounds errors: an Error in XS with the same message.
    throw new Error(e instanceof Error ? e.message : String(e));
  }
}

/** The label the ESP32 natives open under `path`, or undefined ("can't find partition"). */
export function labelOf(board: ServedBoard, path: string): string | undefined {
  const entries = board.entries;
  if (path === "running") return board.running || undefined;
  if (path === "nextota") {
    const slots = entries.filter((e) => e.type === APP && e.subtype >= OTA_FIRST && e.subtype <= OTA_LAST).sort((a, b) => a.subtype - b.subtype);
    if (slots.length === 0) return undefined;
    const i = slots.findIndex((e) => e.label === board.running);
    return slots[(i + 1) % slots.length].label;
  }
  if (path === "xs") return entries.find((e) => e.type === XS_TYPE && e.subtype === XS_SUBTYPE)?.label;
  return entries.find((e) => e.type === DATA && e.label === path)?.label;
}

/** `inner` with its callbacks handed on in order, a body chunk only once XS has read the
 * previous ones (XsHttpSink.whenDelivered). Aborting drops what is still held. */
export function flowControlled(inner: HttpPort, sink: XsHttpSink): HttpPort {
  return {
    request(req, h) {
      const held: (() => void)[] = [];
      let waiting = false;
      let aborted = false;
      const pump = (): void => {
        while (!waiting && !aborted && held.length) {
          const next = held.shift()!;
          next();
        }
      };
      const hold = (step: () => void): void => {
        held.push(step);
        pump();
      };
      const handlers: HttpHandlers = {
        response: (status, headers) => hold(() => h.response(status, headers)),
        data: (chunk) =>
          hold(() => {
            h.data(chunk);
            waiting = true;
            sink.whenDelivered(() => {
              waiting = false;
              pump();
            });
          }),
        end: () => hold(() => h.end()),
        error: (reason) => hold(() => h.error(reason)),
      };
      const exchange = inner.request(req, handlers);
      return {
        abort: () => {
          aborted = true;
          held.length = 0;
          exchange.abort();
        },
      };
    },
  };
}

export interface BoardHttp {
  /** The network (node:http). */
  network: HttpPort;
  /** Wraps the flow-controlled network port (e.g. HttpMeter.wrap). Default: none. */
  wrap?: (port: HttpPort) => HttpPort;
}

export function boardServices(board: ServedBoard, net: BoardHttp): XsServices {
  const others = new Map<string, PreferenceValue>();
  const kvKey = (domain: string, key: string): string => (domain === DEFAULT_DOMAIN ? key : `${domain}/${key}`);

  const httpService: XsHttpService = {
    request(req, sink) {
      const headers: HttpHeaders = {};
      for (const [name, value] of req.headers) {
        const k = name.toLowerCase();
        if (k === "host" || k === "connection") continue;
        headers[k] = k in headers ? `${headers[k]}, ${value}` : value;
      }
      const request: HttpRequest = {
        url: `${req.scheme}://${req.host}:${req.port}${req.path}`,
        method: req.method as HttpRequest["method"],
        headers,
      };
      if (req.body) request.body = req.body;
      const http = (net.wrap ?? ((p: HttpPort) => p))(flowControlled(net.network, sink));
      const exchange = http.request(request, {
        response: (status, h) => sink.status(status, Object.entries(h)),
        data: (chunk) => sink.data(chunk),
        end: () => sink.end(),
        error: (reason) => sink.error(reason),
      });
      return { abort: () => exchange.abort() };
    },
  };

  return {
    flash: {
      open(path: string): XsFlashPartition {
        const region = board.regions?.find((r) => r.path === path);
        const label = region ? region.label : labelOf(board, path);
        if (!label) throw new Error("can't find partition");
        const entry = board.entries.find((e) => e.label === label)!;
        const view = guard(board, () => board.partition(label));
        const base = region ? region.offset : 0;
        const size = region ? region.size : entry.size;
        const blockSize = blockSizeOf(board, view, base, size);
        const check = (offset: number, length: number): void => {
          if (offset < 0 || length < 0 || offset + length > size) throw new Error(`${path}: [${offset}, +${length}) outside the partition`);
        };
        return {
          size,
          blockSize,
          read: (offset, length) => guard(board, () => (check(offset, length), view.read(base + offset, length))),
          write: (offset, data) => guard(board, () => (check(offset, data.byteLength), view.write(base + offset, data))),
          eraseBlocks: (start, end) => guard(board, () => (check(start * blockSize, (end - start) * blockSize), view.erase(base + start * blockSize, (end - start) * blockSize))),
        };
      },
      labels: () => [...board.entries.map((e) => e.label), ...(board.regions ?? []).map((r) => r.path)],
    },
    preference: {
      get(domain, key) {
        const k = kvKey(domain, key);
        const bytes = board.kvStore.get(k);
        return bytes ? bytes.slice() : others.get(k);
      },
      set(domain, key, value) {
        const k = kvKey(domain, key);
        if (value instanceof Uint8Array) {
          others.delete(k);
          board.kvStore.set(k, value.slice());
        } else {
          board.kvStore.delete(k);
          others.set(k, value);
        }
      },
      delete(domain, key) {
        const k = kvKey(domain, key);
        board.kvStore.delete(k);
        others.delete(k);
      },
      keys(domain) {
        const out: string[] = [];
        const prefix = domain === DEFAULT_DOMAIN ? "" : `${domain}/`;
        for (const k of new Set([...board.kvStore.keys(), ...others.keys()])) {
          if (domain === DEFAULT_DOMAIN ? !k.includes("/") : k.startsWith(prefix)) out.push(k.slice(prefix.length));
        }
        return out;
      },
    },
    http: httpService,
    system: {
      restart: () => {
        board.restartRequested = true;
      },
      net: (name) => (name === "RSSI" ? board.readings.rssi : undefined),
    },
  };
}
