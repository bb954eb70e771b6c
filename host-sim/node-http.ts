// The Http port on node:http, streaming: body chunks reach the runtime as they arrive.

import * as http from "node:http";
import type { HttpHandlers, HttpPort, HttpRequest, HttpHeaders } from "../src/ports.ts";

export const nodeHttp: HttpPort = {
  request(req: HttpRequest, h: HttpHandlers) {
    let done = false;
    const r = http.request(req.url, { method: req.method ?? "GET", headers: req.headers, agent: false }, (res) => {
      const headers: HttpHeaders = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
      h.response(res.statusCode ?? 0, headers);
      res.on("data", (chunk: Buffer) => {
        if (!done) h.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      });
      res.on("end", () => {
        if (done) return;
        done = true;
        if (res.complete) h.end();
        else h.error("connection closed before the end of the body");
      });
      res.on("error", (e) => {
        if (done) return;
        done = true;
        h.error(e.message);
      });
      res.on("close", () => {
        if (done) return;
        done = true;
        if (res.complete) h.end();
        else h.error("connection closed before the end of the body");
      });
    });
    r.on("error", (e) => {
      if (done) return;
      done = true;
      h.error(e.message);
    });
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
