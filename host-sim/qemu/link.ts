// The framing between the QEMU firmware and the host over the board's UART0 (firmware/link.c,
// firmware/firmware.h has the same table): 0xA5, type u8, payload length u32 little-endian,
// payload. Types below 0x80 go to the host, 0x80 and up to the firmware.

export const SYNC = 0xa5;
const HEAD = 6;

export const TO_HOST = {
  LOG: 0x01, // UTF-8 line
  HELLO: 0x02, // JSON {firmware, ramLimit, arenaLimit}
  DONE: 0x03, // u8 ok (1 resolved, 0 rejected), JSON value or {name, message, stack}
  RESTART: 0x04, // SYSRESETREQ follows
  FLASH_OP: 0x05, // u8 kind (1 write, 2 erase), 3 x 0, u32 address, u32 length, data of a write
  HTTP_OPEN: 0x06, // u32 id, u32 JSON length, JSON {scheme, host, port, method, path, headers}, body
  HTTP_CLOSE: 0x07, // u32 id
  HTTP_ACK: 0x08, // u32 id: a body fragment was handled (its promise jobs ran)
  REQUEST: 0x09, // u8 op, payload; answered by ANSWER
  FATAL: 0x0a, // UTF-8 reason; the firmware exits
  STATS: 0x0b, // JSON {peakArena, peakStack, arenaLimit, ramLimit, flashOps, ms}
  TRACE: 0x0c, // UTF-8 text of trace()
} as const;

export const TO_FIRMWARE = {
  GO: 0x81,
  CUT: 0x82,
  ARGS: 0x83, // JSON {args, flash: {size, sector, align, erased}}
  HTTP_RESPONSE: 0x84, // u32 id, u32 status, JSON [[name, value], ...]
  HTTP_DATA: 0x85, // u32 id, bytes
  HTTP_END: 0x86, // u32 id
  HTTP_ERROR: 0x87, // u32 id, UTF-8 reason
  ANSWER: 0x88, // u8 status (0 bytes, 1 JSON, 2 error JSON, 3 void), payload
  HALT: 0x89, // power lost: halt once the frames before this one were handled
} as const;

/** Payload offsets of the frames with fixed fields (the tables above; firmware/firmware.h). */
export const FLASH_OP_FIELD = { KIND: 0, ADDRESS: 4, LENGTH: 8 } as const;
export const HTTP_OPEN_FIELD = { ID: 0, JSON_LENGTH: 4, JSON: 8 } as const;
export const REQUEST_FIELD = { OP: 0, PAYLOAD: 1 } as const;
export const DONE_FIELD = { OK: 0, VALUE: 1 } as const;

/** Operations of REQUEST (the same numbers as host-sim/xs/protocol.ts OP where they overlap). */
export const REQUEST_OP = { NET_GET: 8, PREF_GET: 20, PREF_SET: 21, PREF_DELETE: 22, PREF_KEYS: 23 } as const;

export interface Frame {
  type: number;
  payload: Uint8Array;
}

export function encodeFrame(type: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(HEAD + n);
  out[0] = SYNC;
  out[1] = type;
  new DataView(out.buffer).setUint32(2, n, true);
  let at = HEAD;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(4 * i, v >>> 0, true));
  return out;
}

export function readU32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

/** Reassembles frames from the UART byte stream. Bytes before a sync byte are noise (a boot
 * message of another program) and are handed to `noise`. */
export class FrameReader {
  private buffer = new Uint8Array(0);

  constructor(private readonly onFrame: (f: Frame) => void, private readonly noise: (b: Uint8Array) => void = () => undefined) {}

  push(chunk: Uint8Array): void {
    const merged = new Uint8Array(this.buffer.byteLength + chunk.byteLength);
    merged.set(this.buffer, 0);
    merged.set(chunk, this.buffer.byteLength);
    let at = 0;
    for (;;) {
      const sync = merged.indexOf(SYNC, at);
      if (sync < 0) {
        if (merged.byteLength > at) this.noise(merged.subarray(at));
        at = merged.byteLength;
        break;
      }
      if (sync > at) this.noise(merged.subarray(at, sync));
      at = sync;
      if (merged.byteLength - at < HEAD) break;
      const length = readU32(merged, at + 2);
      if (merged.byteLength - at < HEAD + length) break;
      const frame = { type: merged[at + 1], payload: merged.slice(at + HEAD, at + HEAD + length) };
      at += HEAD + length;
      this.onFrame(frame);
    }
    this.buffer = merged.slice(at);
  }
}
