// The local update server: serves firmware images over HTTP on loopback with Content-Length,
// ETag and Range/If-Range (RFC 9110), a JSON offer, and fault injection for the tests.

import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

export interface Build {
  /** Distinguishes builds of the same version (the ETag changes with it). */
  id: number;
  /** The bytes served: the image, or the patch of a delta package. */
  bytes: Uint8Array;
  /** Delta package: the image the patch produces (the offer's size and digests are its). */
  image?: Uint8Array;
}

export interface ServerFaults {
  /** Flip this byte of the served image (the offer keeps the good digests). */
  corruptByte?: number;
  /** Answer 200 with the whole image to Range requests. */
  ignoreRange?: boolean;
  /** After sending byte B, swap in `nextBuild` and close the connection. */
  changeEtagAt?: number;
  /** Stop sending at byte B without closing (once). */
  stallAt?: number;
  /** Appended to the ETag: the same bytes under a new validator. */
  etagSuffix?: string;
  /** The Nth image request (1-based) gets this status. */
  httpErrors?: Map<number, number>;
}

export interface ServedImage {
  version: string;
  build: Build;
  /** The build that --change-etag-at swaps in. */
  nextBuild?: Build;
  /** The builds are delta packages: patches for a device running this base. */
  delta?: { baseVersion: string; baseSha256: string };
}

export interface ServerStats {
  imageRequests: number;
  bytesSent: number;
  ranges: (string | undefined)[];
  statuses: number[];
}

export interface OfferJson {
  component: string;
  version: string;
  size: number;
  url: string;
  md5: string;
  crc32: string;
  sha256: string;
  delta?: { baseVersion: string; baseSha256: string; size: number };
}

export function digestsOf(bytes: Uint8Array): { md5: string; crc32: string; sha256: string } {
  return {
    md5: createHash("md5").update(bytes).digest("hex"),
    crc32: (crc32(bytes) >>> 0).toString(16).padStart(8, "0"),
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

export class UpdateServer {
  readonly stats: ServerStats = { imageRequests: 0, bytesSent: 0, ranges: [], statuses: [] };
  private server: http.Server;
  private sockets = new Set<Socket>();
  private image: ServedImage;
  private faults: ServerFaults;
  private stalled = false;
  private changed = false;
  /** Overrides the offer's size (for --oversize). */
  offerSize: number | undefined;

  constructor(image: ServedImage, faults: ServerFaults = {}) {
    this.image = image;
    this.faults = faults;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return this.base;
  }

  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  imageUrl(): string {
    return `${this.base}/firmware/app-${this.image.version}.bin`;
  }

  /** Delta packages: where the full image of the current build is served too (for a device
   * that runs another version than the patch's base). */
  fullImageUrl(): string {
    return `${this.base}/firmware/app-${this.image.version}.full.bin`;
  }

  /** Delta packages: the full image's offer (no delta), or undefined for a full build. */
  fullOffer(): OfferJson | undefined {
    const b = this.image.build.image;
    if (!b) return undefined;
    return { component: "app", version: this.image.version, size: this.offerSize ?? b.length, url: this.fullImageUrl(), ...digestsOf(b) };
  }

  /** Delta packages: the digests of the patch bytes (what a dialect that signs the download, as
   * Alibaba's sign does, carries), or undefined for a full build. */
  patchDigests(): { md5: string; crc32: string; sha256: string } | undefined {
    return this.image.build.image ? digestsOf(this.image.build.bytes) : undefined;
  }

  /** The offer for the current build, digests of the good bytes. */
  offer(): OfferJson {
    const build = this.image.build;
    const b = build.image ?? build.bytes;
    const offer: OfferJson = { component: "app", version: this.image.version, size: this.offerSize ?? b.length, url: this.imageUrl(), ...digestsOf(b) };
    if (this.image.delta) offer.delta = { ...this.image.delta, size: build.bytes.length };
    return offer;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private etag(): string {
    return `"${this.image.version}-b${this.image.build.id}${this.faults.etagSuffix ?? ""}"`;
  }

  private served(): Uint8Array {
    const b = this.image.build.bytes;
    const n = this.faults.corruptByte;
    if (n === undefined || n < 0 || n >= b.length) return b;
    const copy = b.slice();
    copy[n] ^= 0xff;
    return copy;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "/";
    if (url === "/offer.json") {
      const body = JSON.stringify(this.offer());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const full = url === `/firmware/app-${this.image.version}.full.bin` && this.image.build.image !== undefined;
    if (url !== `/firmware/app-${this.image.version}.bin` && !full) {
      res.writeHead(404).end();
      return;
    }
    const n = ++this.stats.imageRequests;
    const range = req.headers["range"];
    this.stats.ranges.push(range);
    const forced = this.faults.httpErrors?.get(n);
    if (forced !== undefined) return this.status(res, forced);

    const bytes = full ? this.image.build.image! : this.served();
    const etag = full ? this.etag().replace(/"$/, '-full"') : this.etag();
    let start = 0;
    let status = 200;
    const m = typeof range === "string" ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    const ifRange = req.headers["if-range"];
    if (m && !this.faults.ignoreRange && (ifRange === undefined || ifRange === etag)) {
      start = Number(m[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { "content-range": `bytes */${bytes.length}` }).end();
        this.stats.statuses.push(416);
        return;
      }
      status = 206;
    }
    const headers: http.OutgoingHttpHeaders = {
      "content-type": "application/octet-stream",
      "content-length": bytes.length - start,
      etag,
      "accept-ranges": "bytes",
    };
    if (status === 206) headers["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(status, headers);
    this.stats.statuses.push(status);
    this.stream(res, bytes, start);
  }

  private status(res: http.ServerResponse, code: number): void {
    this.stats.statuses.push(code);
    res.writeHead(code, { "content-length": 0 }).end();
  }

  /** Sends bytes [start, end) in chunks, applying stall/etag-change faults by absolute offset.
   * (--drop-at is the device side's: host-sim/http-meter.ts.) */
  private stream(res: http.ServerResponse, bytes: Uint8Array, start: number): void {
    const f = this.faults;
    let stop = bytes.length;
    let action: "stall" | "change" | undefined;
    const consider = (at: number | undefined, what: "stall" | "change") => {
      if (at !== undefined && at >= start && at < stop) {
        stop = at + 1;
        action = what;
      }
    };
    if (!this.stalled) consider(f.stallAt, "stall");
    if (!this.changed && this.image.nextBuild) consider(f.changeEtagAt, "change");
    const CHUNK = 16 * 1024;
    let at = start;
    const pump = () => {
      while (at < stop) {
        const end = Math.min(stop, at + CHUNK);
        const ok = res.write(bytes.subarray(at, end));
        this.stats.bytesSent += end - at;
        at = end;
        if (!ok) {
          res.once("drain", pump);
          return;
        }
      }
      if (action === undefined) {
        res.end();
        return;
      }
      if (action === "stall") {
        this.stalled = true;
        return; // keep the socket open, send nothing more
      }
      if (action === "change" && this.image.nextBuild) {
        this.changed = true;
        this.image = { ...this.image, build: this.image.nextBuild, nextBuild: undefined };
      }
      // Let the written bytes leave, then cut the connection.
      res.socket?.end();
    };
    res.on("close", () => {
      at = stop;
    });
    pump();
  }
}
