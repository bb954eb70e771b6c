// MqttPort on the legacy `mqtt` module (moddable-sdk.md §4.3; modules/network/mqtt/mqtt.js).
// `import Client from "mqtt"` is a default export. QoS 0 only. publish() data must be a string or
// an ArrayBuffer (anything else goes through ArrayBuffer.fromString), so payloads are handed over
// as exact ArrayBuffers. Publishing or subscribing before onReady throws "connection closed", so
// createModdableMqtt resolves only once the broker has acknowledged the connection.
// The module is imported dynamically: apps that use no MQTT dialect need not include it
// ($(MODULES)/network/mqtt/manifest.json, which also pulls in websocket).

import type { MqttClientOptions } from "mqtt";
import type { MqttPort } from "../../ports.ts";
import { exactArrayBuffer } from "./flash-backend.ts";

// The types below appear in the shipped declarations, which must not import "mqtt": in an app's
// type-check that name can resolve to the npm package mqtt next to this one, which pulls in
// @types/node (issue 9 §6). So they are declared here; the `mqtt` module's Client fits them.

/** The last-will message (the `will` option of the mqtt Client). */
export interface ModdableMqttWill {
  topic: string;
  message: string | ArrayBuffer;
  retain?: boolean;
  quality?: number;
}

/** The part of an `mqtt` Client (the module's default export) that ModdableMqtt uses. */
export interface MqttClientLike {
  onMessage?: (topic: string, data: ArrayBuffer) => void;
  onClose?: () => void;
  publish(topic: string, data: string | ArrayBuffer): void;
  subscribe(topic: string): void;
  close(): void;
}

export interface ModdableMqttOptions {
  host: string;
  port?: number;
  id?: string;
  user?: string;
  password?: string | ArrayBuffer;
  will?: ModdableMqttWill;
  /** Keep-alive in milliseconds (0 disables it). */
  keepAliveMs?: number;
  /** MQTT over WebSocket when set. */
  path?: string;
  /** SecureSocket class and options for TLS. */
  Socket?: unknown;
  secure?: Record<string, unknown>;
}

export class ModdableMqtt implements MqttPort {
  readonly #client: MqttClientLike;
  readonly #handlers: ((topic: string, payload: Uint8Array) => void)[] = [];
  readonly #closeHandlers: (() => void)[] = [];
  readonly #topics: string[] = [];
  #open = true;

  constructor(client: MqttClientLike) {
    this.#client = client;
    client.onMessage = (topic: string, data: ArrayBuffer): void => {
      const payload = new Uint8Array(data);
      for (const h of this.#handlers) {
        try {
          h(topic, payload);
        } catch (e) {
          trace(`xs-ota mqtt: message handler failed: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
    };
    client.onClose = (): void => {
      this.#open = false;
      for (const h of this.#closeHandlers) h();
    };
  }

  get connected(): boolean {
    return this.#open;
  }

  /** Topics subscribed so far (to re-subscribe after a reconnect). */
  get topics(): readonly string[] {
    return this.#topics;
  }

  publish(topic: string, payload: Uint8Array): void {
    this.#check();
    this.#client.publish(topic, exactArrayBuffer(payload));
  }

  subscribe(topic: string): void {
    this.#check();
    this.#client.subscribe(topic);
    if (!this.#topics.includes(topic)) this.#topics.push(topic);
  }

  onMessage(handler: (topic: string, payload: Uint8Array) => void): void {
    this.#handlers.push(handler);
  }

  /** Called once when the connection closes (broker, network or close()). */
  onClose(handler: () => void): void {
    this.#closeHandlers.push(handler);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#client.close();
    for (const h of this.#closeHandlers) h();
  }

  #check(): void {
    if (!this.#open) throw new Error("mqtt: connection closed");
  }
}

/** Connects and resolves once the broker has sent CONNACK; rejects if the connection closes first
 * or the `mqtt` module is not in the build. */
export async function createModdableMqtt(options: ModdableMqttOptions): Promise<ModdableMqtt> {
  const { default: Client } = await import("mqtt");
  const dictionary: MqttClientOptions = { host: options.host };
  if (options.port !== undefined) dictionary.port = options.port;
  if (options.id !== undefined) dictionary.id = options.id;
  if (options.user !== undefined) dictionary.user = options.user;
  if (options.password !== undefined) dictionary.password = options.password;
  if (options.will !== undefined) dictionary.will = options.will;
  if (options.keepAliveMs !== undefined) dictionary.timeout = options.keepAliveMs;
  if (options.path !== undefined) dictionary.path = options.path;
  if (options.Socket !== undefined) dictionary.Socket = options.Socket;
  if (options.secure !== undefined) dictionary.secure = options.secure;
  return new Promise<ModdableMqtt>((resolve, reject) => {
    const client = new Client(dictionary);
    client.onReady = (): void => {
      resolve(new ModdableMqtt(client));
    };
    client.onClose = (): void => {
      reject(new Error(`mqtt: connection to ${options.host} closed before it was ready`));
    };
  });
}
