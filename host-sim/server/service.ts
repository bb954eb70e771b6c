// `xs-ota server`: the update server a developer runs on a laptop. One process: the SQLite store
// in --data, the HTTP API/page/files/manifest routes on --port, and the MQTT dialect clouds on a
// broker (aedes embedded and listening on its own port by default, or an external mqtt:// URL).

import type { AddressInfo, Socket } from "node:net";
import * as os from "node:os";
import type * as http from "node:http";
import { startBroker, type Broker } from "../cloud/mqtt-broker.ts";
import { createApiServer } from "./api.ts";
import { MqttDialects } from "./dialects.ts";
import type { FileStats } from "./files.ts";
import { MAX_FILE_BYTES, Packages } from "./packages.ts";
import { Rollout } from "./rollout.ts";
import { openStore, type Store } from "./store.ts";

export interface ServerOptions {
  /** Folder of the database and the package files (created). */
  dataDir: string;
  /** HTTP port (0: any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1; 0.0.0.0 for a real device on the LAN). */
  host?: string;
  /** Host name or address devices use to reach this server in file URLs and the embedded broker
   * (default: host; when host is 0.0.0.0 or ::, this machine's first non-loopback IPv4 address,
   * else 127.0.0.1). */
  publicHost?: string;
  /** "aedes" (embedded, default), "mosquitto", or mqtt://host:port of an external broker. */
  broker?: string;
  /** Port of the embedded aedes broker (default: any free port). */
  brokerPort?: number;
  maxFileBytes?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export class OtaServer {
  private sockets = new Set<Socket>();
  private constructor(
    readonly store: Store,
    readonly packages: Packages,
    readonly rollout: Rollout,
    readonly http: http.Server,
    readonly broker: Broker,
    readonly dialects: MqttDialects,
    private readonly publicHost: string,
    readonly fileStats: FileStats,
  ) {}

  static async start(o: ServerOptions): Promise<OtaServer> {
    const store = openStore(o.dataDir);
    const maxFileBytes = o.maxFileBytes ?? MAX_FILE_BYTES;
    const packages = new Packages(store, maxFileBytes);
    const host = o.host ?? "127.0.0.1";
    const publicHost = o.publicHost ?? (host === "0.0.0.0" || host === "::" ? lanAddress() ?? "127.0.0.1" : host);
    let self: OtaServer | undefined;
    const rollout = new Rollout(store, packages, { fileBase: () => self!.base, now: o.now });
    const fileStats: FileStats = { requests: 0, bytesServed: 0 };
    const server = createApiServer({
      packages, rollout, fileStats, maxFileBytes,
      status: () => ({ http: self?.base, broker: self?.deviceBrokerUrl, brokerKind: self?.broker.kind, dataDir: o.dataDir, ...fileStats }),
    });
    let broker: Broker | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(o.port ?? 0, host, () => resolve());
      });
      broker = await startBroker(o.broker ?? "aedes", o.brokerPort, host);
      const dialects = await MqttDialects.connect(broker.url, rollout, o.log);
      self = new OtaServer(store, packages, rollout, server, broker, dialects, publicHost, fileStats);
      server.on("connection", (s) => {
        self!.sockets.add(s);
        s.on("close", () => self!.sockets.delete(s));
      });
      return self;
    } catch (e) {
      server.close();
      await broker?.close().catch(() => undefined);
      store.close();
      throw e;
    }
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** http://<publicHost>:<port> */
  get base(): string {
    const h = this.publicHost.includes(":") ? `[${this.publicHost}]` : this.publicHost;
    return `http://${h}:${this.port}`;
  }

  /** The broker's URL as a device on the network sees it: the embedded broker listens on the
   * server's address, so devices reach it at the public host; an external broker is its URL. */
  get deviceBrokerUrl(): string {
    if (this.broker.kind !== "aedes" || this.broker.port === undefined) return this.broker.url;
    const h = this.publicHost.includes(":") ? `[${this.publicHost}]` : this.publicHost;
    return `mqtt://${h}:${this.broker.port}`;
  }

  async close(): Promise<void> {
    await this.dialects.close().catch(() => undefined);
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    await this.broker.close();
    this.store.close();
  }
}

/** This machine's first non-internal IPv4 address: what a device on the LAN can reach. */
function lanAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}
