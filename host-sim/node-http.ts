// The Http port on node:http, streaming: body chunks reach the runtime as they arrive.

import * as http from "node:http";
import type { HttpHandlers, HttpPort, HttpRequest, HttpHeaders } from "../src/ports.ts";

export const nodeHttp: HttpPort = {
  request(req: HttpRequest, h: HttpHandlers) {
    let done = false;
    const fail = (reason: string) => {
      if (done) return;
      done = true;
      h.error(reason);
    };
    const r = http.request(req.url, { method: req.method ?? "GET", headers: req.headers, agent: false }, (res) => {
      const headers: HttpHeaders = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
      h.response(res.statusCode ?? 0, headers);
      res.on("data", (chunk: Buffer) => {
        if (!done) h.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      });
      // A body cut short by the server ends with 'close' (or 'end') and res.complete false.
      const finish = () => {
        if (done) return;
        if (!res.complete) return fail("connection closed before the end of the body");
        done = true;
        h.end();
      };
      res.on("end", finish);
      res.on("close", finish);
      res.on("error", (e) => fail(e.message));
    });
    r.on("error", (e) => fail(e.message));
    if (req.body) r.write(req.body);
    r.end();
    return {
      abort() {
        done = true;
        r.destroy();
      },
    };
  },
};
