// The message encoding between the XS shims (host-sim/xs/shims/*.js) and host.ts.
//
// Requests from XS (issueCommand) carry their 16-byte header at the END, events from the host
// (handleCommand) at the start; both little-endian:
//
//   request = payload ++ trailer      event = header ++ payload
//   header/trailer:
//     +0   u8    op (an OP value) / kind (an EV value)
//     +1   u24   events: 0. Requests: the length of the posted requests in front of this one
//                (below); in a posted request, its payload length
//     +4   u32   a
//     +8   u32   b
//     +12  u32   c
//   payload: raw bytes for data (flash, HTTP body, digest input) or UTF-8 JSON for control (ops
//   that mix both put the JSON first and its length in `a`).
//
// Why the trailer: inside XS the only fast copy of bytes is ArrayBuffer.prototype.slice /
// transfer (memcpy); TypedArray set / slice / new Uint8Array(view) copy element by element in
// xsnap's XS (about 25 us per 4 KiB, 2 meter units per byte). A request is built as
// payload.buffer.slice(view).transfer(n + 16) plus 16 bytes written through a DataView, so a
// 4 KiB write costs two memcpys. Events put the header first: XS reads the payload as a view
// of the event's own ArrayBuffer, with no copy at all.
//
// Posted requests (shims/core.js post()): requests whose answer XS does not use and that the
// host cannot refuse (timer set/clear, digest input) are queued in XS and sent in front of the
// next request, whose trailer gives their total length, or, when the turn ends first, as the
// result of the handleCommand operation (worker.ts RunResult.reply). Each is payload ++ trailer
// with its payload length in trailer bytes 1..3, so they are decoded from the end
// (decodePosted). The host handles them in order before the request they precede.
//
// Answers to requests (the bytes handed back to the blocked issueCommand):
//
//   +0   u8    ST value
//   +1   ...   payload (raw bytes for ST.BYTES, UTF-8 JSON for ST.JSON and ST.ERROR);
//              XS takes raw bytes with answer.slice(1) (a memcpy)
//
// Why binary at all: 256 x 4 KiB writes as JSON with arrays of numbers cost about 26 million
// XS meter units, 3.6 MiB on the pipe and ~300 ms; as JSON with base64 about 25 000 units,
// 1.35 MiB and ~35 ms; the binary request ~20 ms with 1.01 MiB (bench/xs-bridge.ts).

/** Requests from XS (the `op` byte of an issueCommand message). */
export const OP = {
  TRACE: 1, // payload: UTF-8 text
  DONE: 2, // a: 0 resolved / 1 rejected; payload: JSON value or {message, name, stack}
  CALLBACK_ERROR: 3, // payload: JSON {where, message, name, stack}; the run stops
  RESTART: 4,
  FFI: 5, // payload: JSON {name, args} -> JSON result
  TIME_TICKS: 6, // -> JSON number (ms)
  TIME_SET: 7, // payload: JSON {seconds}
  NET_GET: 8, // payload: UTF-8 name -> JSON value
  FLUSH: 9, // nothing: carries the posted requests when too many are queued

  FLASH_OPEN: 10, // payload: JSON {path, writable} -> JSON {id, size, blockSize}
  FLASH_READ: 11, // a: id, b: offset, c: length -> bytes
  FLASH_WRITE: 12, // a: id, b: offset, payload: data
  FLASH_ERASE: 13, // a: id, b: first block, c: end block (exclusive)
  FLASH_CLOSE: 14, // a: id
  FLASH_LABELS: 15, // -> JSON string[]
  FLASH_STATUS: 16, // a: id -> JSON status

  PREF_GET: 20, // payload: JSON {domain, key} -> bytes [type tag, value...]
  PREF_SET: 21, // a: JSON length, payload: JSON {domain, key} + [type tag, value...]
  PREF_DELETE: 22, // payload: JSON {domain, key}
  PREF_KEYS: 23, // payload: JSON {domain} -> JSON string[]

  HTTP_OPEN: 30, // a: JSON length, b: 1 if the body is streamed; payload: JSON request + body bytes -> JSON {id}
  HTTP_BODY: 31, // a: id, b: 1 = last fragment; payload: body bytes
  HTTP_CLOSE: 32, // a: id

  MQTT_OPEN: 33, // payload: JSON {host, port, id, user?, password?, keepAliveMs?, path?, tls} -> JSON {id}
  MQTT_PUBLISH: 34, // a: id, b: topic length; payload: UTF-8 topic ++ message bytes
  MQTT_SUBSCRIBE: 35, // a: id; payload: UTF-8 topic
  MQTT_CLOSE: 36, // a: id

  DIGEST_NEW: 40, // payload: UTF-8 name -> JSON {id, blockSize, outputSize}
  DIGEST_WRITE: 41, // a: id, payload: data
  DIGEST_CLOSE: 42, // a: id, b: 1 = more -> bytes
  DIGEST_RESET: 43, // a: id
  DIGEST_FREE: 44, // a: id

  EC_CURVE: 45, // payload: JSON curve name -> JSON {id, a, b, m, n, gx, gy} (hex) or null (shims/public-key.js)
  ECDSA_VERIFY: 46, // payload: JSON {curve: id, x, y, e, r, s} (hex) -> JSON boolean
  RSA_PROCESS: 47, // payload: JSON {e, m, c} (hex) -> JSON hex of c^e mod m

  TIMER_SET: 50, // a: id, b: initial ms, c: repeat ms (0 = one-shot)
  TIMER_CLEAR: 51, // a: id
  TIMER_DELAY: 52, // a: ms (blocking)
} as const;

/** Events from the host (the first byte of a handleCommand message). One event per xsnap
 * operation, so XS drains its promise jobs between two events, as on the device. */
export const EV = {
  START: 1, // payload: JSON args; calls globalThis[entry](args)
  TIMER: 2, // a: timer id
  HTTP_WRITABLE: 3, // a: request id, b: max bytes (streamed request body: requestFragment)
  HTTP_RESPONSE: 4, // a: request id, b: status; payload: JSON [[name, value], ...]
  HTTP_DATA: 5, // a: request id; payload: body bytes
  HTTP_END: 6, // a: request id
  HTTP_ERROR: 7, // a: request id; payload: UTF-8 reason
  COLLECT: 8, // measurements (XsEngineOptions.liveHeap): a full garbage collection, nothing else
  MQTT_READY: 9, // a: connection id (CONNACK)
  MQTT_MESSAGE: 10, // a: connection id, b: topic length; payload: UTF-8 topic ++ message bytes
  MQTT_CLOSE: 11, // a: connection id (broker, network, or a failed connect)
} as const;

/** First byte of an answer. */
export const ST = {
  BYTES: 0,
  JSON: 1,
  ERROR: 2, // payload: JSON {name, message}
  VOID: 3,
} as const;

/** Type tags of preference values (first byte of a PREF_GET answer / PREF_SET value). */
export const PREF = {
  MISSING: 0,
  BOOLEAN: 1,
  INT32: 2,
  STRING: 3,
  BUFFER: 4,
} as const;

export const HEADER_SIZE = 16;

export interface Envelope {
  op: number;
  a: number;
  b: number;
  c: number;
  payload: Uint8Array;
}

/** A request from XS and the posted requests sent in front of it. */
export interface XsRequest extends Envelope {
  /** The posted requests (decodePosted), empty when none. */
  posted: Uint8Array;
}

function trailerAt(msg: Uint8Array, end: number): { op: number; length: number; a: number; b: number; c: number } {
  const dv = new DataView(msg.buffer, msg.byteOffset + end - HEADER_SIZE, HEADER_SIZE);
  const first = dv.getUint32(0, true);
  return { op: first & 0xff, length: first >>> 8, a: dv.getUint32(4, true), b: dv.getUint32(8, true), c: dv.getUint32(12, true) };
}

/** Decodes a request from XS ([posted requests] ++ payload ++ trailer). */
export function decodeRequest(msg: Uint8Array): XsRequest {
  if (msg.byteLength < HEADER_SIZE) throw new Error(`short request (${msg.byteLength} bytes)`);
  const at = msg.byteLength - HEADER_SIZE;
  const { op, length, a, b, c } = trailerAt(msg, msg.byteLength);
  if (length > at) throw new Error(`bad request: ${length} bytes of posted requests in ${msg.byteLength}`);
  return { op, a, b, c, payload: msg.subarray(length, at), posted: msg.subarray(0, length) };
}

/** Decodes posted requests (each payload ++ trailer with its payload length), in order. */
export function decodePosted(bytes: Uint8Array): Envelope[] {
  const out: Envelope[] = [];
  for (let end = bytes.byteLength; end > 0; ) {
    if (end < HEADER_SIZE) throw new Error("bad posted requests: short trailer");
    const { op, length, a, b, c } = trailerAt(bytes, end);
    const start = end - HEADER_SIZE - length;
    if (start < 0) throw new Error("bad posted requests: payload length beyond the start");
    out.push({ op, a, b, c, payload: bytes.subarray(start, end - HEADER_SIZE) });
    end = start;
  }
  return out.reverse();
}

/** Encodes an event for XS (header ++ payload). */
export function encodeEvent(kind: number, a = 0, b = 0, c = 0, payload?: Uint8Array): Uint8Array {
  const n = payload?.byteLength ?? 0;
  const out = new Uint8Array(HEADER_SIZE + n);
  const dv = new DataView(out.buffer);
  out[0] = kind;
  dv.setUint32(4, a >>> 0, true);
  dv.setUint32(8, b >>> 0, true);
  dv.setUint32(12, c >>> 0, true);
  if (n) out.set(payload!, HEADER_SIZE);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

export function answerBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.byteLength);
  out[0] = ST.BYTES;
  out.set(bytes, 1);
  return out;
}

const VOID_ANSWER = new Uint8Array([ST.VOID]);

export function answerVoid(): Uint8Array {
  return VOID_ANSWER;
}

export function answerJson(value: unknown): Uint8Array {
  const body = enc.encode(JSON.stringify(value === undefined ? null : value));
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = ST.JSON;
  out.set(body, 1);
  return out;
}

export function answerError(err: unknown): Uint8Array {
  const e = err instanceof Error ? err : new Error(String(err));
  const name = e instanceof TypeError ? "TypeError" : e instanceof RangeError ? "RangeError" : "Error";
  const body = enc.encode(JSON.stringify({ name, message: e.message }));
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = ST.ERROR;
  out.set(body, 1);
  return out;
}

/** The constants as a JavaScript prelude for the shims (single source of truth). */
export function shimConstantsSource(): string {
  return [
    `const OP = ${JSON.stringify(OP)};`,
    `const EV = ${JSON.stringify(EV)};`,
    `const ST = ${JSON.stringify(ST)};`,
    `const PREF = ${JSON.stringify(PREF)};`,
    `const HEADER_SIZE = ${HEADER_SIZE};`,
  ].join("\n");
}
