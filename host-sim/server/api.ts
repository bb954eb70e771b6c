// The server's HTTP side on node:http (no framework: the routes are few, the file route needs
// Range streaming, the page needs SSE, and node:http keeps the dependency list short): the JSON
// API under /api, package files under /files, the HTTP manifest dialect under /d, and the live
// page at /. Every API error is JSON {error} with a 4xx status; a refused request changes nothing.

import * as http from "node:http";
import busboy from "busboy";
import { errorMessage } from "../../src/errors.ts";
import { handleHttpDialect } from "./dialects.ts";
import { serveFile, type FileStats } from "./files.ts";
import { MAX_FILES, type Packages, type UploadedFile } from "./packages.ts";
import type { Rollout } from "./rollout.ts";
import { ApiError, bad, id, name, notFound, object, onlyKeys, text } from "./validate.ts";
import { PAGE_HTML } from "./page.ts";

/** JSON request bodies (plans, actions): 64 KiB is far above any plan. */
export const MAX_JSON_BYTES = 64 * 1024;

export interface ApiContext {
  packages: Packages;
  rollout: Rollout;
  fileStats: FileStats;
  maxFileBytes: number;
  status: () => Record<string, unknown>;
}

function readBody(req: http.IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    let failed = false;
    req.on("data", (d: Buffer) => {
      if (failed) return;
      n += d.length;
      if (n > max) {
        failed = true;
        reject(new ApiError(413, `request body larger than ${max} bytes`));
        return;
      }
      parts.push(d);
    });
    req.on("end", () => failed || resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

async function json(req: http.IncomingMessage): Promise<unknown> {
  const bytes = await readBody(req, MAX_JSON_BYTES);
  if (bytes.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    bad("the request body is not JSON");
  }
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, null, 1);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** Package upload: multipart/form-data (fields product, kind, sourceVersion, name, and one file
 * field per component, named by the component: app=@app.bin) or a raw body with the same
 * fields in the query (?product=p&component=app&filename=app.bin). */
async function upload(req: http.IncomingMessage, url: URL, ctx: ApiContext) {
  const ctype = req.headers["content-type"] ?? "";
  const limit = ctx.maxFileBytes;
  const fields: Record<string, string> = {};
  const files: UploadedFile[] = [];
  if (ctype.startsWith("multipart/form-data")) {
    await new Promise<void>((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, limits: { fileSize: limit, files: MAX_FILES + 1, fields: 20, fieldSize: 1024 } });
      } catch (e) {
        reject(new ApiError(400, `multipart: ${errorMessage(e)}`));
        return;
      }
      let failure: ApiError | undefined;
      bb.on("field", (k, v) => (fields[k] = v));
      bb.on("file", (field, stream, info) => {
        const parts: Buffer[] = [];
        stream.on("data", (d: Buffer) => parts.push(d));
        stream.on("limit", () => (failure ??= new ApiError(413, `${info.filename || field}: larger than the ${limit}-byte file limit`)));
        stream.on("close", () => files.push({ component: field, filename: info.filename || `${field}.bin`, bytes: Buffer.concat(parts) }));
      });
      bb.on("filesLimit", () => (failure ??= new ApiError(400, `a package holds at most ${MAX_FILES} files`)));
      bb.on("error", (e) => reject(new ApiError(400, `multipart: ${errorMessage(e)}`)));
      bb.on("close", () => (failure ? reject(failure) : resolve()));
      req.pipe(bb);
    });
  } else {
    for (const [k, v] of url.searchParams) fields[k] = v;
    const bytes = await readBody(req, limit);
    files.push({ component: fields.component ?? "app", filename: fields.filename ?? "app.bin", bytes, version: fields.version });
    delete fields.component;
    delete fields.filename;
    delete fields.version;
  }
  onlyKeys(fields, ["product", "kind", "sourceVersion", "name", "versions"], "upload");
  // Versions of raw (non-image) files: versions=assets:1.2.0,other:1.0.0
  if (fields.versions) {
    for (const entry of fields.versions.split(",")) {
      const [c, v] = entry.split(":");
      const f = files.find((x) => x.component === c);
      if (!f) bad(`versions names component ${c}, which has no file`);
      f.version = v;
    }
  }
  if (fields.kind !== undefined && fields.kind !== "full" && fields.kind !== "delta") bad(`kind must be "full" or "delta"`);
  return ctx.packages.add({
    product: fields.product as string,
    kind: fields.kind as "full" | "delta" | undefined,
    sourceVersion: fields.sourceVersion,
    name: fields.name,
    files,
  });
}

export function createApiServer(ctx: ApiContext): http.Server {
  const sse = new Set<http.ServerResponse>();
  ctx.rollout.onChange((e) => {
    if (e.kind === "kick" || sse.size === 0) return;
    const line = `event: change\ndata: ${JSON.stringify(e)}\n\n`;
    for (const res of sse) res.write(line);
  });

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const p = url.pathname;
    const method = req.method ?? "GET";
    if (handleHttpDialect(ctx.rollout, req, res, url, () => readBody(req, MAX_JSON_BYTES))) return;
    const file = /^\/files\/([0-9a-f]{64})\.bin$/.exec(p);
    if (file && (method === "GET" || method === "HEAD")) {
      const path = ctx.packages.filePath(file[1]);
      if (!path) notFound(`no stored file ${file[1]}`);
      serveFile(req, res, path, file[1], ctx.fileStats);
      return;
    }
    if (p === "/" && method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(PAGE_HTML) }).end(PAGE_HTML);
      return;
    }
    if (p === "/api/stream" && method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": xs-ota server\n\n");
      sse.add(res);
      res.on("close", () => sse.delete(res));
      return;
    }
    const seg = p.split("/").slice(1);
    if (seg[0] !== "api") notFound(`no route ${method} ${p}`);
    const r = ctx.rollout;
    switch (`${method} ${seg.slice(1, 2).join("/")}`) {
      case "GET status":
        return send(res, 200, ctx.status());
      case "GET packages":
        if (seg.length === 2) return send(res, 200, ctx.packages.list());
        if (seg.length === 3) return send(res, 200, ctx.packages.get(id(seg[2], "package id")));
        break;
      case "POST packages":
        if (seg.length === 2) return send(res, 201, await upload(req, url, ctx));
        break;
      case "DELETE packages":
        if (seg.length === 3) {
          ctx.packages.remove(id(seg[2], "package id"));
          return send(res, 200, { deleted: Number(seg[2]) });
        }
        break;
      case "GET plans":
        if (seg.length === 2) return send(res, 200, r.plans().map((x) => r.planStats(x.id)));
        if (seg.length === 3) return send(res, 200, r.planStats(id(seg[2], "plan id")));
        break;
      case "POST plans": {
        if (seg.length === 2) return send(res, 201, r.createPlan(await json(req)));
        const pid = id(seg[2], "plan id");
        if (seg.length === 4 && ["activate", "pause", "resume", "cancel"].includes(seg[3])) {
          const body = object(await json(req), "body");
          onlyKeys(body, ["reason"], "body");
          const reason = body.reason === undefined ? undefined : text(body.reason, "reason");
          r.setStatus(pid, seg[3] as "activate", reason);
          return send(res, 200, r.planStats(pid));
        }
        if (seg.length === 6 && seg[3] === "devices" && seg[5] === "confirm") {
          return send(res, 200, r.confirmDevice(pid, name(decodeURIComponent(seg[4]), "device")));
        }
        break;
      }
      case "GET devices":
        if (seg.length === 2) {
          const product = url.searchParams.get("product");
          return send(res, 200, r.devices(product === null ? undefined : name(product, "product")));
        }
        if (seg.length === 4) {
          const product = name(decodeURIComponent(seg[2]), "product");
          const dev = name(decodeURIComponent(seg[3]), "device");
          return send(res, 200, { ...r.device(product, dev), events: r.events({ product, device: dev, limit: 500 }) });
        }
        break;
      case "GET events": {
        const q = url.searchParams;
        const num = (k: string) => (q.get(k) === null ? undefined : id(q.get(k)!, k));
        return send(res, 200, r.events({
          product: q.get("product") === null ? undefined : name(q.get("product"), "product"),
          device: q.get("device") === null ? undefined : name(q.get("device"), "device"),
          planId: num("plan"), after: q.get("after") === "0" ? 0 : num("after"), limit: Math.min(num("limit") ?? 200, 5000),
        }));
      }
    }
    notFound(`no route ${method} ${p}`);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((e) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof ApiError) send(res, e.status, { error: e.message });
      else send(res, 500, { error: errorMessage(e) });
      // Drain what the client still sends so it reads the answer.
      req.resume();
    });
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const res of sse) res.end();
    return close(cb);
  };
  return server;
}

