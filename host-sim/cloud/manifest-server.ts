// HTTP manifest serving for the polling dialect: GET /manifest.json answers the current
// document with an ETag (304 to a matching If-None-Match), POST /report records the device's
// progress reports. The first `failFirst` polls get 503 (backoff tests). Loopback, random port.

import * as http from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import { ProtocolLog } from "./protocol-log.ts";

export class ManifestServer {
  readonly log = new ProtocolLog();
  /** Bodies of POST /report, in order. */
  readonly reports: string[] = [];
  polls = 0;
  /** The document: an object (sent as JSON), or a string sent as is (hostile tests). */
  document: unknown;
  failFirst: number;
  private server: http.Server;
  private sockets = new Set<Socket>();

  constructor(document: unknown, options: { failFirst?: number } = {}) {
    this.document = document;
    this.failFirst = options.failFirst ?? 0;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get manifestUrl(): string {
    return `${this.base}/manifest.json`;
  }

  get reportUrl(): string {
    return `${this.base}/report`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private body(): string {
    return typeof this.document === "string" ? this.document : JSON.stringify(this.document);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === "GET" && req.url === "/manifest.json") {
      this.polls++;
      const inm = req.headers["if-none-match"];
      this.log.add("device->cloud", "GET /manifest.json", inm ? `If-None-Match: ${inm}` : "");
      if (this.polls <= this.failFirst) {
        this.log.add("cloud->device", "GET /manifest.json", "503");
        res.writeHead(503, { "content-length": 0 }).end();
        return;
      }
      const body = this.body();
      const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
      if (inm === etag) {
        this.log.add("cloud->device", "GET /manifest.json", "304");
        res.writeHead(304, { etag }).end();
        return;
      }
      this.log.add("cloud->device", "GET /manifest.json", body);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), etag });
      res.end(body);
      return;
    }
    if (req.method === "POST" && req.url === "/report") {
      const parts: Buffer[] = [];
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => {
        const body = Buffer.concat(parts).toString("utf8");
        this.reports.push(body);
        this.log.add("device->cloud", "POST /report", body);
        res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(404, { "content-length": 0 }).end();
  }
}
