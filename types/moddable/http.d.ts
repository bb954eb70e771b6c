// Legacy HTTP client, `import {Request} from "http"`.
// Written from shared/reference/moddable-sdk.md §4.1 and modules/network/http/http.js. Manifest:
// $(MODULES)/network/http/manifest.json (preloads "http"). Type names as in the SDK's http.d.ts
// (HTTPRequestOptions, HTTPRequestCallback). Differences from it, on purpose, where its typing is
// wrong against http.js: `error` is -2 (the SDK says -1), `responseFragment` is 4 (the SDK says 3);
// the callback has a `this`; HTTPRequestOptions types `Socket` and `secure` and is not a union
// with TCPSocketOptions (the project declares no "socket" module).

declare module "http" {
  export interface HTTPRequestOptions {
    /** Host name (DNS) or use `address`. */
    host?: string;
    address?: string;
    /** Default 80. */
    port?: number;
    /** Default "/". Includes the query string. */
    path?: string;
    /** Default "GET". */
    method?: string;
    /**
     * A flat array of alternating names and values, e.g. ["Range", "bytes=4096-"]. Values are
     * toString()ed. The client always sends "Connection: close" and adds "Host: <host>" (without the
     * port) unless a Host header is given.
     */
    headers?: (string | number)[];
    /** A String (ASCII) or ArrayBuffer, or true to stream the body through callback message 0. */
    body?: string | ArrayBuffer | true;
    /** String or ArrayBuffer to receive the whole body in message 5; undefined (default) for fragments (message 4). */
    response?: StringConstructor | ArrayBufferConstructor;
    /** Socket class, e.g. SecureSocket from "securesocket" for HTTPS (with port 443). */
    Socket?: unknown;
    /** TLS options for the Socket class. */
    secure?: Record<string, unknown>;
  }

  /**
   * The callback protocol. `this` is the Request. Messages:
   *   0 requestFragment (value1: max bytes; return a String/ArrayBuffer or undefined when done),
   *   1 status (value1: status code), 2 header (value1: lower-case name, value2: trimmed value),
   *   3 headersComplete, 4 responseFragment (value1: bytes available now; read them with this.read),
   *   5 responseComplete (value1: the body when `response` was set),
   *   any negative message: error or disconnect (http.js sends -2, Request.error).
   * After an error or completion the request closes itself.
   */
  export type HTTPRequestCallback = (
    this: Request,
    message: number,
    value1?: unknown,
    value2?: unknown,
  ) => string | ArrayBuffer | undefined | void;

  export class Request {
    constructor(options: HTTPRequestOptions);
    callback?: HTTPRequestCallback;
    /** Reads what is available now (or at most `count` bytes) from the response body. */
    read(type: ArrayBufferConstructor, count?: number): ArrayBuffer | undefined;
    read(type: StringConstructor, count?: number): string | undefined;
    /** Skips what is available (http.js reads with a null type; the SDK typing omits this form). */
    read(type: null, count?: number): void;
    /** Aborts immediately; no further callbacks. */
    close(): void;

    static readonly requestFragment: 0;
    static readonly status: 1;
    static readonly header: 2;
    static readonly headersComplete: 3;
    static readonly responseFragment: 4;
    static readonly responseComplete: 5;
    /** The runtime value is -2 (the SDK typing says -1, which is wrong); treat any negative message as an error. */
    static readonly error: -2;
  }

  /** Minimal declaration: xs-ota does not use the server. */
  export class Server {
    constructor(options?: { port?: number });
    callback?: (this: unknown, message: number, value1?: unknown, value2?: unknown) => unknown;
    close(connections?: boolean): void;
  }

  const http: { readonly Request: typeof Request; readonly Server: typeof Server };
  export default http;
}
