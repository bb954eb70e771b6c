// A small in-memory XsServices for the XS bridge's own tests and benchmarks: RAM flash with NOR
// rules, a preference map, a scripted HTTP server with Range support, a restart counter.
// State lives in the objects, so it survives engine.reboot() like flash survives a reset.
// The real board simulation and the local update server of host-sim plug into the same
// interfaces (services.ts).

import type {
  PreferenceValue,
  XsFlashPartition,
  XsFlashService,
  XsHttpRequest,
  XsHttpService,
  XsHttpSink,
  XsPreferenceService,
  XsServices,
  XsSystemService,
} from "./services.ts";

export interface MemoryPartitionSpec {
  label: string;
  /** "app" partitions are reachable only as "running" / "nextota" (ESP32 label lookup finds
   * data partitions only). */
  type: "app" | "data";
  size: number;
  /** Erase unit; default 4096. */
  blockSize?: number;
  /** Default 0xff. */
  erasedValue?: number;
  /** Every write offset and length must be a multiple of this; default 1. */
  writeAlign?: number;
}

export class MemoryPartition implements XsFlashPartition {
  readonly bytes: Uint8Array;
  readonly blockSize: number;
  readonly erasedValue: number;
  readonly writeAlign: number;
  /** Operation counters (for tests). */
  readonly counts = { reads: 0, writes: 0, erases: 0, bytesWritten: 0 };

  constructor(readonly spec: MemoryPartitionSpec) {
    this.blockSize = spec.blockSize ?? 4096;
    this.erasedValue = spec.erasedValue ?? 0xff;
    this.writeAlign = spec.writeAlign ?? 1;
    if (spec.size % this.blockSize) throw new Error(`partition ${spec.label}: size is not a multiple of the block size`);
    this.bytes = new Uint8Array(spec.size).fill(this.erasedValue);
  }

  get size(): number {
    return this.bytes.byteLength;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new Error("read failed");
    this.counts.reads++;
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, data: Uint8Array): void {
    if (data.byteLength <= 0) throw new Error("invalid");
    if (offset < 0 || offset + data.byteLength > this.size) throw new Error("write failed");
    if (offset % this.writeAlign || data.byteLength % this.writeAlign) throw new Error("write failed: misaligned");
    // NOR: programming can only clear bits (erased 0xff) / set bits (erased 0x00)
    const target = this.bytes.subarray(offset, offset + data.byteLength);
    for (let i = 0; i < data.byteLength; i++) {
      const old = target[i]!;
      const v = data[i]!;
      if (this.erasedValue === 0xff ? (v & ~old & 0xff) !== 0 : (old & ~v & 0xff) !== 0)
        throw new Error(`write failed: byte ${offset + i} is not erased`);
    }
    if (this.erasedValue === 0xff) for (let i = 0; i < data.byteLength; i++) target[i] = target[i]! & data[i]!;
    else for (let i = 0; i < data.byteLength; i++) target[i] = target[i]! | data[i]!;
    this.counts.writes++;
    this.counts.bytesWritten += data.byteLength;
  }

  eraseBlocks(startBlock: number, endBlock: number): void {
    const blocks = this.size / this.blockSize;
    if (startBlock < 0 || endBlock > blocks || startBlock > endBlock) throw new Error("erase failed");
    this.bytes.fill(this.erasedValue, startBlock * this.blockSize, endBlock * this.blockSize);
    this.counts.erases += endBlock - startBlock;
  }
}

export class MemoryFlash implements XsFlashService {
  readonly partitions = new Map<string, MemoryPartition>();

  constructor(
    specs: MemoryPartitionSpec[],
    /** Labels that "running" and "nextota" resolve to (settable, e.g. after a slot switch). */
    public slots: { running?: string; nextota?: string } = {},
  ) {
    for (const s of specs) this.partitions.set(s.label, new MemoryPartition(s));
  }

  partition(label: string): MemoryPartition {
    const p = this.partitions.get(label);
    if (!p) throw new Error(`no partition ${label}`);
    return p;
  }

  open(path: string, _writable: boolean): XsFlashPartition {
    let label: string | undefined = path;
    if (path === "running") label = this.slots.running;
    else if (path === "nextota") label = this.slots.nextota;
    const p = label === undefined ? undefined : this.partitions.get(label);
    if (!p || (p.spec.type === "app" && label === path)) throw new Error("can't find partition");
    return p;
  }

  labels(): string[] {
    return [...this.partitions.keys()];
  }
}

export class MemoryPreferences implements XsPreferenceService {
  readonly domains = new Map<string, Map<string, PreferenceValue>>();
  /** set/delete count (wear). */
  writes = 0;

  get(domain: string, key: string): PreferenceValue | undefined {
    const v = this.domains.get(domain)?.get(key);
    return v instanceof Uint8Array ? v.slice() : v;
  }

  set(domain: string, key: string, value: PreferenceValue): void {
    let d = this.domains.get(domain);
    if (!d) this.domains.set(domain, (d = new Map()));
    d.set(key, value instanceof Uint8Array ? value.slice() : value);
    this.writes++;
  }

  delete(domain: string, key: string): void {
    this.domains.get(domain)?.delete(key);
    this.writes++;
  }

  keys(domain: string): string[] {
    return [...(this.domains.get(domain)?.keys() ?? [])];
  }
}

export interface MemoryHttpResponse {
  status: number;
  headers?: [string, string][];
  body?: Uint8Array;
  /** Body chunk size handed to the sink; default 16 KiB. */
  chunkSize?: number;
  /** Real ms between chunks (each chunk is sent from a macrotask anyway). Default 0. */
  chunkDelayMs?: number;
  /** Stop after this many body bytes and report an error (a cut connection). */
  cutAfter?: number;
}

export type MemoryRoute = (request: XsHttpRequest) => MemoryHttpResponse | undefined;

/** Serves bytes at a path with Range (bytes=N- and bytes=N-M), ETag and If-Range. */
export function staticRoute(path: string, body: Uint8Array, options: { etag?: string; chunkSize?: number; cutAfter?: number } = {}): MemoryRoute {
  const etag = options.etag ?? `"${body.byteLength.toString(16)}"`;
  return (req) => {
    if (req.path.split("?")[0] !== path) return undefined;
    const header = (name: string) => req.headers.find(([n]) => n.toLowerCase() === name)?.[1];
    const range = header("range");
    const ifRange = header("if-range");
    const base: [string, string][] = [
      ["ETag", etag],
      ["Accept-Ranges", "bytes"],
    ];
    const m = range && (!ifRange || ifRange === etag) ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), body.byteLength - 1) : body.byteLength - 1;
      if (start >= body.byteLength) return { status: 416, headers: [["Content-Range", `bytes */${body.byteLength}`], ["Content-Length", "0"]] };
      const part = body.subarray(start, end + 1);
      return {
        status: 206,
        headers: [...base, ["Content-Range", `bytes ${start}-${end}/${body.byteLength}`], ["Content-Length", String(part.byteLength)]],
        body: part,
        chunkSize: options.chunkSize,
        cutAfter: options.cutAfter,
      };
    }
    return { status: 200, headers: [...base, ["Content-Length", String(body.byteLength)]], body, chunkSize: options.chunkSize, cutAfter: options.cutAfter };
  };
}

export class MemoryHttp implements XsHttpService {
  /** Every request received, in order. */
  readonly seen: XsHttpRequest[] = [];
  constructor(public routes: MemoryRoute[] = []) {}

  request(request: XsHttpRequest, sink: XsHttpSink): { abort(): void } {
    this.seen.push({ ...request, headers: request.headers.map(([n, v]) => [n, v] as [string, string]) });
    let aborted = false;
    let timer: NodeJS.Timeout | undefined;
    const response = this.routes.map((r) => r(request)).find((r) => r !== undefined) ?? { status: 404, headers: [["Content-Length", "0"]] };
    const body = response.body ?? new Uint8Array(0);
    const chunk = response.chunkSize ?? 16 * 1024;
    const limit = response.cutAfter ?? Infinity;
    let at = 0;
    const step = () => {
      if (aborted) return;
      if (at >= body.byteLength) return sink.end();
      if (at >= limit) return sink.error("connection reset");
      const n = Math.min(chunk, body.byteLength - at, limit - at);
      sink.data(body.subarray(at, at + n));
      at += n;
      timer = setTimeout(step, response.chunkDelayMs ?? 0);
    };
    timer = setTimeout(() => {
      if (aborted) return;
      sink.status(response.status, response.headers ?? []);
      step();
    }, 0);
    return {
      abort: () => {
        aborted = true;
        if (timer) clearTimeout(timer);
      },
    };
  }
}

export interface MemoryServices extends XsServices {
  flash: MemoryFlash;
  preference: MemoryPreferences;
  http: MemoryHttp;
  system: XsSystemService & { restarts: number; ffiCalls: { name: string; args: unknown[] }[]; rssi?: number };
  logs: string[];
}

/** A complete in-memory XsServices (digests default to node:crypto in host.ts). */
export function createMemoryServices(
  options: { partitions?: MemoryPartitionSpec[]; slots?: { running?: string; nextota?: string }; routes?: MemoryRoute[] } = {},
): MemoryServices {
  const partitions = options.partitions ?? [
    { label: "ota_0", type: "app", size: 0x100000 },
    { label: "ota_1", type: "app", size: 0x100000 },
    { label: "storage", type: "data", size: 0x10000 },
  ];
  const logs: string[] = [];
  const system = {
    restarts: 0,
    ffiCalls: [] as { name: string; args: unknown[] }[],
    rssi: -60 as number | undefined,
    restart() {
      system.restarts++;
    },
    ffi(name: string, args: unknown[]) {
      system.ffiCalls.push({ name, args });
      return 0;
    },
    net(name: string) {
      return name === "RSSI" ? system.rssi : undefined;
    },
  };
  return {
    flash: new MemoryFlash(partitions, options.slots ?? { running: "ota_0", nextota: "ota_1" }),
    preference: new MemoryPreferences(),
    http: new MemoryHttp(options.routes ?? []),
    system,
    logs,
    log: (text: string) => {
      logs.push(text);
    },
  };
}
