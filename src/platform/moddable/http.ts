// HttpPort on the legacy `http` module's Request (moddable-sdk.md §4.1; modules/network/http/http.js).
// The callback protocol: 1 status, 2 header (lower-case name), 3 headersComplete, 4 responseFragment
// (read what is available with this.read(ArrayBuffer)), 5 responseComplete, and any negative
// message is an error or a disconnect (http.js sends -2; the SDK typing says -1). http.js decodes
// chunked bodies and treats "no length, connection closed" as complete.

import { Request } from "http";
import type { HTTPRequestOptions } from "http";
import Timer from "timer";
import type { HttpExchange, HttpHandlers, HttpHeaders, HttpPort, HttpRequest } from "../../ports.ts";
import { exactArrayBuffer } from "./flash-backend.ts";
import { parseUrl } from "./url.ts";

/** For https:// URLs: the app's SecureSocket class (from "securesocket", $(MODULES)/crypt/tls.json)
 * and its `secure` dictionary (CA certificate etc.). Without it https:// requests fail. */
export interface HttpsOptions {
  Socket: unknown;
  secure?: Record<string, unknown>;
}

// Callback message numbers (http.js). Literal copies so the comparisons compile against any typing.
const MSG_STATUS = 1;
const MSG_HEADER = 2;
const MSG_HEADERS_COMPLETE = 3;
const MSG_RESPONSE_FRAGMENT = 4;
const MSG_RESPONSE_COMPLETE = 5;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ModdableHttp implements HttpPort {
  readonly #https: HttpsOptions | undefined;

  constructor(https?: HttpsOptions) {
    this.#https = https;
  }

  request(req: HttpRequest, handlers: HttpHandlers): HttpExchange {
    const method = req.method ?? "GET";
    let request: Request | undefined;
    let finished = false;
    let inCallback = false;
    let status = 0;
    const headers: HttpHeaders = {};

    // Closing a Request from inside its own callback makes http.js touch the deleted socket
    // (e.g. this.read(null) after a chunk), so a close requested there is deferred by one turn.
    const close = (): void => {
      const r = request;
      request = undefined;
      if (!r) return;
      if (inCallback) Timer.set(() => r.close(), 0);
      else r.close();
    };
    const fail = (reason: string): void => {
      if (finished) return;
      finished = true;
      close();
      handlers.error(reason);
    };

    try {
      const url = parseUrl(req.url);
      const options: HTTPRequestOptions = { host: url.host, port: url.port, path: url.path, method };
      if (url.scheme === "https") {
        if (!this.#https) throw new Error("https:// needs the https option (a SecureSocket class) in createModdablePlatform");
        options.Socket = this.#https.Socket;
        if (this.#https.secure) options.secure = this.#https.secure;
      }
      const list: string[] = [];
      let hasHost = false;
      for (const name of Object.keys(req.headers ?? {})) {
        const value = (req.headers as HttpHeaders)[name];
        if (name.toLowerCase() === "host") hasHost = true;
        list.push(name, value);
      }
      // http.js sends "Host: <host>" without the port; a non-default port must be in it.
      if (!hasHost && url.explicitPort) list.push("Host", `${url.host}:${url.port}`);
      if (list.length) options.headers = list;
      if (req.body) options.body = exactArrayBuffer(req.body);
      request = new Request(options);
    } catch (e) {
      // Keep the contract (exactly one of end/error, never from inside request()).
      const reason = `http: ${describe(e)}`;
      Timer.set(() => fail(reason), 0);
      return { abort: () => { finished = true; } };
    }

    const onMessage = (self: Request, message: number, value1: unknown, value2: unknown): void => {
      if (finished) {
        if (message === MSG_RESPONSE_FRAGMENT) self.read(null);
        return;
      }
      if (message < 0) {
        // http.js closes the request itself after an error (done() calls close(), moddable-sdk.md
        // §4.1): nothing to close, and no deferred close timer to outlive the exchange.
        request = undefined;
        fail(`http: connection failed or closed early (message ${message})`);
        return;
      }
      switch (message) {
        case MSG_STATUS:
          status = Number(value1);
          break;
        case MSG_HEADER: {
          const name = String(value1);
          const value = String(value2);
          headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
          break;
        }
        case MSG_HEADERS_COMPLETE:
          handlers.response(status, headers);
          if (method === "HEAD" && !finished) {
            // No body follows; http.js would wait for content-length bytes and then report an error.
            finished = true;
            close();
            handlers.end();
          }
          break;
        case MSG_RESPONSE_FRAGMENT: {
          const chunk = self.read(ArrayBuffer);
          if (chunk && chunk.byteLength) handlers.data(new Uint8Array(chunk));
          break;
        }
        case MSG_RESPONSE_COMPLETE:
          finished = true;
          request = undefined; // http.js closes the request itself after this message
          handlers.end();
          break;
      }
    };

    request.callback = function (this: Request, message: number, value1?: unknown, value2?: unknown): undefined {
      inCallback = true;
      try {
        onMessage(this, message, value1, value2);
      } catch (e) {
        // Never let an exception unwind into http.js (it would corrupt its state machine).
        fail(`http: handler failed: ${describe(e)}`);
      } finally {
        inCallback = false;
      }
      return undefined;
    };

    return {
      abort: (): void => {
        if (finished) return;
        finished = true;
        close();
      },
    };
  }
}
