// What host-sim must provide so that the runtime bundle, running inside the real XS engine
// (xsnap-worker), can use the Moddable modules it imports. The XS-side shims
// (host-sim/xs/shims/*.js) implement the Moddable module APIs and forward every native call
// over xsnap's synchronous issueCommand channel to host.ts, which calls these services.
//
// Conventions:
// - Everything here is synchronous except HTTP, whose results arrive later through the sink.
//   XS is blocked while a service call runs, exactly like a native call on the device.
// - A service reports a failure by throwing an Error; its message becomes the message of the
//   Error thrown in XS (so use the device's messages, e.g. "write failed", "can't find partition").
// - Throwing XsHaltError stops the board at once (power cut, watchdog...): the XS worker is
//   killed while it waits for the answer, so no XS code runs after the faulting call.
// - Bytes passed to a service are only valid during the call (copy them if you keep them).

/** Value types Moddable's `preference` stores (ESP32 modPreference.c): boolean, int32, string,
 * ArrayBuffer (handed to the host as Uint8Array). */
export type PreferenceValue = boolean | number | string | Uint8Array;

/** ECMA-419 `status()` of a flash partition. ESP32 returns only size/blockLength/blocks;
 * Zephyr adds writeAlign and eraseValue (moddable-sdk.md §1.2). */
export interface XsFlashStatus {
  size: number;
  blockLength: number;
  blocks: number;
  writeAlign?: number;
  eraseValue?: number;
}

/** An open flash partition. Offsets are relative to the partition. */
export interface XsFlashPartition {
  /** Partition size in bytes. */
  readonly size: number;
  /** Erase unit in bytes (`blockSize` of the legacy module, `blockLength` of ECMA-419). */
  readonly blockSize: number;
  read(offset: number, length: number): Uint8Array;
  /** Programs bytes. NOR rules (alignment, bits only 1 -> 0) are the service's business:
   * throw Error("write failed") (or a more precise message) to refuse. */
  write(offset: number, data: Uint8Array): void;
  /** Erases blocks [startBlock, endBlock) (ECMA-419 eraseBlock; legacy erase(n) = [n, n+1)). */
  eraseBlocks(startBlock: number, endBlock: number): void;
  /** Defaults to {size, blockLength: blockSize, blocks: size / blockSize} (the ESP32 shape). */
  status?(): XsFlashStatus;
  /** Called when XS closes the partition (ECMA-419 close()) or the worker ends. */
  close?(): void;
}

export interface XsFlashService {
  /** Opens a partition by the name the Moddable APIs take: on ESP32 "xs", "running", "nextota"
   * or a *data* partition label (moddable-sdk.md §1.1/§1.2). Throw Error("can't find partition")
   * when there is none. `writable` is false for ECMA-419 mode "r". */
  open(path: string, writable: boolean): XsFlashPartition;
  /** Labels of all partitions, in table order (iterating the ECMA-419 default export). */
  labels(): string[];
}

/** Moddable `preference`: values keep their type. Name/size limits are enforced in XS by the
 * shim (see XsEngineOptions.preference), so a service only stores. */
export interface XsPreferenceService {
  get(domain: string, key: string): PreferenceValue | undefined;
  set(domain: string, key: string, value: PreferenceValue): void;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

export interface XsHttpRequest {
  /** "http" or "https" (the request used SecureSocket). */
  scheme: "http" | "https";
  /** Host name or address, without port. */
  host: string;
  port: number;
  method: string;
  /** Path with query, as given to the Request ("/" by default). */
  path: string;
  /** Request headers in the order given (names as written by the caller). The Moddable client
   * always sends "Connection: close" and adds Host and content-length itself; they are not here. */
  headers: [string, string][];
  /** Request body (a String body is UTF-8 encoded; a streamed body (`body: true`) is collected
   * from the requestFragment callbacks first). */
  body?: Uint8Array;
}

/** Where the HTTP service reports the exchange, at any later time (or synchronously inside
 * request()). Call order: status once, data zero or more times, then end or error once. */
export interface XsHttpSink {
  /** Status code and response headers (names in any case; XS lower-cases them). */
  status(code: number, headers: [string, string][]): void;
  /** A body chunk (copied by the host; may be split into smaller fragments for XS). */
  data(chunk: Uint8Array): void;
  /** The body ended as the server framed it (success). */
  end(): void;
  /** The connection failed or was cut. */
  error(reason: string): void;
  /** Calls `callback` (later, never inside this call) once every body chunk handed over so far
   * has been delivered to XS, or dropped because the request was closed or the worker stopped.
   * For flow control: a service that pauses its source until then models the device's TCP
   * window (the device only receives what it reads), so no byte is counted as received that a
   * dead or slow board never took. */
  whenDelivered(callback: () => void): void;
}

export interface XsHttpService {
  request(request: XsHttpRequest, sink: XsHttpSink): { abort(): void };
}

/** A streaming digest computed on the host (the device computes digests natively too). */
export interface XsDigest {
  update(data: Uint8Array): void;
  /** Returns the digest; with `more` the state is kept so hashing can continue
   * (Moddable `close(true)`). Without `more` the state is final (see host.ts for what later
   * writes do). */
  finish(more: boolean): Uint8Array;
}

export interface XsDigestService {
  /** `name` is Moddable's: "MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512".
   * Throw Error("crypt: unsupported digest") for others. */
  create(name: string): XsDigest;
}

export interface XsSystemService {
  /** The runtime asked for a reset (System.restart(), FFI esp_restart()). The host stops the
   * worker right after this returns; the caller boots the next worker. */
  restart?(): void;
  /** Functions called through `mc/ffi` (`new FFI().name(...args)`), e.g.
   * esp_ota_mark_app_valid_cancel_rollback. Arguments and the result are JSON values. */
  ffi?(name: string, args: unknown[]): unknown;
  /** `Net.get(name)` of the legacy "net" module, e.g. "RSSI" (undefined when not associated). */
  net?(name: string): string | number | undefined;
}

/** Everything the XS engine needs from the host. */
/** What the `mqtt` module's Client constructor was given (TLS when its Socket was SecureSocket). */
export interface XsMqttOptions {
  host: string;
  port: number;
  id: string;
  user?: string;
  password?: string;
  keepAliveMs?: number;
  path?: string;
  tls: boolean;
}

/** Where a connection's events go; each becomes one event (turn) in XS. */
export interface XsMqttSink {
  /** CONNACK: the Client's onReady. */
  ready(): void;
  message(topic: string, payload: Uint8Array): void;
  /** The connection closed (broker, network, failed connect): onClose. Once. */
  close(): void;
}

export interface XsMqttConnection {
  publish(topic: string, payload: Uint8Array): void;
  subscribe(topic: string): void;
  /** XS closed it, or the worker ended: no sink call after this. */
  close(): void;
}

/** Moddable `mqtt` (the legacy Client, QoS 0 as the module sends). */
export interface XsMqttService {
  connect(options: XsMqttOptions, sink: XsMqttSink): XsMqttConnection;
}

export interface XsServices {
  flash: XsFlashService;
  preference: XsPreferenceService;
  http?: XsHttpService;
  mqtt?: XsMqttService;
  /** Defaults to node:crypto (host-sim/xs/host.ts nodeDigests). */
  digest?: XsDigestService;
  system?: XsSystemService;
  /** trace() output and diagnostics from the XS side. Default: kept in XsEngine.log. */
  log?(text: string): void;
}

/** Thrown by a service to stop the board at once (power cut, brown-out...). */
export class XsHaltError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "XsHaltError";
  }
}
