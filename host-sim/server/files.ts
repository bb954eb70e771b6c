// Serves stored package files to devices: GET with Content-Length, a strong ETag (the file's
// SHA-256), Accept-Ranges, and single byte ranges with If-Range (RFC 9110 §14), which is what
// src/download/downloader.ts resumes with.

import * as fs from "node:fs";
import type * as http from "node:http";

export interface FileStats {
  requests: number;
  bytesServed: number;
}

export function serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, sha256: string, stats: FileStats): void {
  stats.requests++;
  const size = fs.statSync(file).size;
  const etag = `"${sha256}"`;
  const range = req.headers["range"];
  const ifRange = req.headers["if-range"];
  let start = 0;
  let end = size - 1;
  let status = 200;
  const m = typeof range === "string" ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m && (ifRange === undefined || ifRange === etag)) {
    start = Number(m[1]);
    if (m[2] !== "") end = Math.min(end, Number(m[2]));
    if (start >= size || start > end) {
      res.writeHead(416, { "content-range": `bytes */${size}` }).end();
      return;
    }
    status = 206;
  }
  const headers: http.OutgoingHttpHeaders = {
    "content-type": "application/octet-stream", "content-length": end - start + 1, etag, "accept-ranges": "bytes",
  };
  if (status === 206) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file, { start, end });
  stream.on("data", (chunk) => (stats.bytesServed += chunk.length));
  stream.on("error", () => res.destroy());
  res.on("close", () => stream.destroy());
  stream.pipe(res);
}
