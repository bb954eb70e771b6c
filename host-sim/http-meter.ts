// Wraps an Http port between the simulated network and the runtime:
//  - counts the body bytes the device received, and which image bytes, to measure bytes
//    fetched again;
//  - hands body chunks on cut at multiples of `chunk` image bytes, whatever TCP delivered, so the
//    flash operations of a run do not depend on the network's timing (power-cut sweeps replay
//    exactly);
//  - cuts the board's power once it has received a given number of bytes (--reboot-at);
//  - closes the connection right after the device received a given image byte (--drop-at): each
//    entry fires once, on the first response that delivers that byte, whichever request or
//    power-on that is. Done here rather than in the server so that a byte the server sent but the
//    device never received (power lost first) does not count.

import type { HttpHandlers, HttpPort } from "../src/ports.ts";
import { parseContentRange } from "../src/download/content-range.ts";

export class PowerLost extends Error {
  constructor() {
    super("board has no power");
    this.name = "PowerLost";
  }
}

export class HttpMeter {
  /** Body bytes received, over the whole run. */
  received = 0;
  /** Thresholds of total received bytes at which power is lost (consumed in order). */
  rebootAt: number[] = [];
  /** Image bytes after which the connection is closed, each once (not yet fired). */
  dropAt: number[] = [];
  chunk = 1024;
  onPowerLoss: (() => void) | undefined;
  /** Image byte ranges received, to tell new bytes from bytes fetched again. */
  private covered: [number, number][] = [];
  private dead = false;
  /** Exchanges not yet ended, so that a restart can close them. */
  private open = new Set<{ abort(): void }>();

  /** A fresh power-on: requests work again. */
  revive(): void {
    this.dead = false;
  }

  /** The board restarts (watchdog): its connections close and it receives nothing more until
   * revive(). */
  halt(): void {
    this.dead = true;
    const open = [...this.open];
    this.open.clear();
    for (const x of open) x.abort();
  }

  fetchedAgain(): number {
    const merged: [number, number][] = [];
    for (const [a, b] of [...this.covered].sort((x, y) => x[0] - y[0])) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else merged.push([a, b]);
    }
    return this.received - merged.reduce((n, [a, b]) => n + b - a, 0);
  }

  wrap(inner: HttpPort): HttpPort {
    return {
      request: (req, h) => {
        if (this.dead) throw new PowerLost();
        let at = 0;
        let held = new Uint8Array(0);
        let exchange: { abort(): void } | undefined;
        /** This request's connection was closed by a --drop-at entry. */
        let dropped = false;
        const deliver = (bytes: Uint8Array, flush: boolean) => {
          let data = bytes;
          if (held.length) {
            data = new Uint8Array(held.length + bytes.length);
            data.set(held);
            data.set(bytes, held.length);
          }
          let i = 0;
          while (i < data.length && !this.dead && !dropped) {
            const drop = this.nextDrop(at);
            const want = Math.min(this.chunk - (at % this.chunk), drop === undefined ? Infinity : drop + 1 - at);
            if (data.length - i < want && !flush) break;
            const n = Math.min(want, data.length - i);
            at += this.give(h, data.subarray(i, i + n), at, () => exchange?.abort());
            i += n;
            if (drop !== undefined && at === drop + 1 && !this.dead) {
              this.dropAt.splice(this.dropAt.indexOf(drop), 1);
              dropped = true;
              exchange?.abort();
              h.error("connection closed by the server (--drop-at)");
            }
          }
          held = data.slice(i);
        };
        const settle = () => exchange && this.open.delete(exchange);
        exchange = inner.request(req, {
          response: (status, headers) => {
            at = status === 206 ? (parseContentRange(headers["content-range"])?.start ?? 0) : 0;
            h.response(status, headers);
          },
          data: (chunk) => {
            if (!this.dead && !dropped) deliver(chunk, false);
          },
          end: () => {
            settle();
            if (!this.dead && !dropped) deliver(new Uint8Array(0), true);
            if (!this.dead && !dropped) h.end();
          },
          error: (reason) => {
            settle();
            if (!this.dead && !dropped) deliver(new Uint8Array(0), true);
            if (!this.dead && !dropped) h.error(reason);
          },
        });
        this.open.add(exchange);
        return exchange;
      },
    };
  }

  /** The lowest --drop-at byte not yet fired at or after image offset `at`. */
  private nextDrop(at: number): number | undefined {
    let best: number | undefined;
    for (const b of this.dropAt) if (b >= at && (best === undefined || b < best)) best = b;
    return best;
  }

  /** Hands one chunk to the runtime, cutting the power at the next --reboot-at threshold.
   * Returns the bytes delivered. */
  private give(h: HttpHandlers, chunk: Uint8Array, at: number, abort: () => void): number {
    const limit = this.rebootAt[0];
    const cut = limit !== undefined && this.received + chunk.length >= limit;
    const part = cut ? chunk.subarray(0, limit - this.received) : chunk;
    this.received += part.length;
    this.covered.push([at, at + part.length]);
    if (part.length > 0) h.data(part);
    if (cut) {
      this.rebootAt.shift();
      this.dead = true;
      abort();
      this.onPowerLoss?.();
    }
    return part.length;
  }
}
