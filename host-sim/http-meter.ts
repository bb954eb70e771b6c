// Wraps an Http port to count what the device received (and which image bytes, to measure
// bytes fetched again), and to cut the board's power once it has received a given number of
// bytes (--reboot-at).

import type { HttpPort } from "../src/ports.ts";
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
  /** Image byte ranges received, to tell new bytes from bytes fetched again. */
  private covered: [number, number][] = [];
  /** Thresholds of total received bytes at which power is lost (consumed in order). */
  rebootAt: number[] = [];
  onPowerLoss: (() => void) | undefined;
  private dead = false;

  /** A fresh power-on: requests work again. */
  revive(): void {
    this.dead = false;
  }

  fetchedAgain(): number {
    const merged: [number, number][] = [];
    for (const [a, b] of [...this.covered].sort((x, y) => x[0] - y[0])) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else merged.push([a, b]);
    }
    const unique = merged.reduce((n, [a, b]) => n + b - a, 0);
    return this.received - unique;
  }

  wrap(inner: HttpPort): HttpPort {
    return {
      request: (req, h) => {
        if (this.dead) throw new PowerLost();
        let at = 0;
        let exchange: { abort(): void } | undefined;
        const ex = inner.request(req, {
          response: (status, headers) => {
            at = status === 206 ? (parseContentRange(headers["content-range"])?.start ?? 0) : 0;
            h.response(status, headers);
          },
          data: (chunk) => {
            if (this.dead) return;
            let part = chunk;
            const limit = this.rebootAt[0];
            const cut = limit !== undefined && this.received + chunk.length >= limit;
            if (cut) part = chunk.subarray(0, limit - this.received);
            this.received += part.length;
            this.covered.push([at, at + part.length]);
            at += part.length;
            if (part.length > 0) h.data(part);
            if (cut) {
              this.rebootAt.shift();
              this.dead = true;
              exchange?.abort();
              this.onPowerLoss?.();
            }
          },
          end: () => {
            if (!this.dead) h.end();
          },
          error: (reason) => {
            if (!this.dead) h.error(reason);
          },
        });
        exchange = ex;
        return ex;
      },
    };
  }
}
