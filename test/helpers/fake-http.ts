// In-memory HTTP ports for download tests, driven by a VirtualTime clock (the server's own, so
// its timers are not counted as the device's). Each behaviour is one misbehaving server.

import type { ClockPort, HttpHandlers, HttpPort, HttpRequest, TimerHandle } from "../../src/ports.ts";

export type Behaviour =
  /** Serves the image with Range support, all at once. */
  | { kind: "good" }
  /** Sends headers, then one byte every `everyMs`, never faster. */
  | { kind: "trickle"; everyMs: number }
  /** One byte per connection, then the connection drops. */
  | { kind: "flap" }
  /** Headers, then nothing, forever. */
  | { kind: "silent" }
  /** Answers every request with this status and no body. */
  | { kind: "status"; status: number }
  /** request() throws synchronously, as Node's http.request does on a URL it cannot use. */
  | { kind: "throw"; message: string };

export interface FakeHttp extends HttpPort {
  requests: HttpRequest[];
  /** Exchanges neither finished nor aborted. */
  readonly open: number;
}

function rangeStart(req: HttpRequest): number {
  const r = req.headers?.["range"];
  return r === undefined ? 0 : Number(r.slice("bytes=".length, r.indexOf("-")));
}

export function fakeHttp(image: Uint8Array, clock: ClockPort, behaviour: Behaviour): FakeHttp {
  const requests: HttpRequest[] = [];
  let open = 0;
  return {
    requests,
    get open() {
      return open;
    },
    request(req: HttpRequest, h: HttpHandlers) {
      requests.push(req);
      if (behaviour.kind === "throw") throw new TypeError(behaviour.message);
      open++;
      let done = false;
      let timer: TimerHandle | undefined;
      const close = () => {
        if (done) return;
        done = true;
        open--;
        if (timer !== undefined) clock.clearTimeout(timer);
      };
      const from = rangeStart(req);
      const headers: Record<string, string> = { etag: '"v1"', "content-length": String(image.length - from) };
      if (from > 0) headers["content-range"] = `bytes ${from}-${image.length - 1}/${image.length}`;
      const status = from > 0 ? 206 : 200;
      void Promise.resolve().then(() => {
        if (done) return;
        if (behaviour.kind === "status") {
          h.response(behaviour.status, {});
          if (!done) h.end();
          return close();
        }
        h.response(status, headers);
        if (done) return;
        if (behaviour.kind === "good") {
          h.data(image.slice(from));
          if (!done) h.end();
          return close();
        }
        if (behaviour.kind === "flap") {
          h.data(image.slice(from, from + 1));
          if (!done) h.error("connection closed before the end of the body");
          return close();
        }
        if (behaviour.kind === "trickle") {
          let at = from;
          const tick = () => {
            timer = undefined;
            if (done) return;
            h.data(image.slice(at, at + 1));
            at++;
            if (done) return;
            if (at >= image.length) {
              h.end();
              return close();
            }
            timer = clock.setTimeout(tick, behaviour.everyMs);
          };
          timer = clock.setTimeout(tick, behaviour.everyMs);
        }
        // silent: nothing more
      });
      return { abort: close };
    },
  };
}
