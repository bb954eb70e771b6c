// MQTT brokers for the simulated cloud: aedes embedded in this process (the default), or
// Debian's mosquitto started as a child process (the interop test). mosquitto listens on
// loopback; aedes on loopback unless the update server listens on another address (a real
// device on the LAN reaches both the HTTP routes and the broker there).

import * as net from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import type { AddressInfo, Socket } from "node:net";
import { Aedes } from "aedes";

const LOOPBACK = "127.0.0.1";

export interface Broker {
  /** How this process reaches the broker: mqtt://127.0.0.1:<port>, or the external URL. */
  readonly url: string;
  readonly kind: "aedes" | "mosquitto" | "external";
  /** The port a local broker listens on (undefined for an external one). */
  readonly port?: number;
  close(): Promise<void>;
}

/** aedes on `host` (default 127.0.0.1), on `port` (default: a random free port). */
export async function startAedes(port = 0, host = LOOPBACK): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const local = host === "0.0.0.0" || host === "::" ? LOOPBACK : host;
  return {
    url: `mqtt://${local.includes(":") ? `[${local}]` : local}:${bound}`,
    kind: "aedes",
    port: bound,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Where Debian installs mosquitto, or the first `mosquitto` on PATH; undefined when absent. */
export function findMosquitto(): string | undefined {
  const dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", ...(process.env.PATH ?? "").split(":")];
  for (const d of dirs) {
    const p = `${d}/mosquitto`;
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on port ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `mosquitto -p <port>` (mosquitto 2 without a configuration file listens on loopback only
 * and allows anonymous clients there). Throws when the binary is missing: callers that need it
 * must fail, not skip. */
export async function startMosquitto(binary = findMosquitto()): Promise<Broker> {
  if (!binary) throw new Error("mosquitto is not installed (Debian: apt-get install -y mosquitto)");
  const port = await freePort();
  const child = spawn(binary, ["-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, child, 5000);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kind: "mosquitto",
    port,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A broker by name, or an external one by mqtt:// URL (closing it is a no-op). aedes listens
 * on `aedesHost` (default loopback). */
export async function startBroker(which: "aedes" | "mosquitto" | string = "aedes", aedesPort = 0, aedesHost = LOOPBACK): Promise<Broker> {
  if (which === "aedes") return startAedes(aedesPort, aedesHost);
  if (which === "mosquitto") return startMosquitto();
  if (/^mqtts?:\/\//.test(which)) return { url: which, kind: "external", close: async () => undefined };
  throw new Error(`unknown broker ${which}: aedes, mosquitto or an mqtt:// URL`);
}
