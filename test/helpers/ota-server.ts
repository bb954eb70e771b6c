// Test helpers for the update server: a server in a fresh temporary data folder, JSON calls to
// its API, a package upload of a test image, and waiting for a condition.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildTestImage } from "../../host-sim/image-builder.ts";
import { OtaServer, type ServerOptions } from "../../host-sim/server/service.ts";

export function tempDir(prefix = "xs-ota-server-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startServer(o: Partial<ServerOptions> = {}): Promise<OtaServer> {
  return OtaServer.start({ dataDir: o.dataDir ?? tempDir(), ...o });
}

export async function call(server: { base: string }, method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** Uploads a valid ESP32 app image of `version` as a raw body. */
export async function uploadImage(server: { base: string }, product: string, version: string, size = 32 * 1024): Promise<{ status: number; json: any }> {
  const bytes = buildTestImage({ version, size });
  const res = await fetch(`${server.base}/api/packages?product=${product}&filename=app-${version}.bin`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes });
  return { status: res.status, json: await res.json() };
}

export async function until(pred: () => boolean | Promise<boolean>, ms = 30_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
