// Legacy MQTT client, `import Client from "mqtt"` (a default export; the comment at the top of
// mqtt.js shows `{Client}`, which is wrong). The SDK has no typings for this module.
// Written from shared/reference/moddable-sdk.md §4.3 and modules/network/mqtt/mqtt.js. Manifest:
// $(MODULES)/network/mqtt/manifest.json (includes websocket; preloads "mqtt"). QoS 0 only.

declare module "mqtt" {
  export interface MqttWill {
    topic: string;
    message: string | ArrayBuffer;
    retain?: boolean;
    quality?: number;
  }

  export interface MqttClientOptions {
    /** Required: the constructor throws "parameter host is required" without it. */
    host: string;
    /** Default 1883, or 80 when `path` is set. */
    port?: number;
    /** Client id; default "". */
    id?: string;
    user?: string;
    password?: string | ArrayBuffer;
    will?: MqttWill;
    /** Presence selects MQTT over WebSocket. */
    path?: string;
    /** Keep-alive in milliseconds; 0 or omitted disables keep-alive. */
    timeout?: number;
    /** Socket class, e.g. SecureSocket, for TLS. */
    Socket?: unknown;
    secure?: Record<string, unknown>;
  }

  export interface MqttPublishFlags {
    retain?: boolean;
    /** Only sets header bits: the client is QoS 0 only. */
    quality?: number;
    duplicate?: boolean;
  }

  export default class Client {
    constructor(options: MqttClientOptions);
    /** After CONNACK. Publishing or subscribing before it throws "connection closed". */
    onReady?: (this: Client) => void;
    onMessage?: (this: Client, topic: string, data: ArrayBuffer) => void;
    onClose?: (this: Client) => void;
    onSubscribe?: (this: Client, topic: string, qos: number) => void;
    /**
     * `data` must be a string or an ArrayBuffer: anything else goes through
     * ArrayBuffer.fromString(), so a Uint8Array would be sent as its string form.
     */
    publish(topic: string, data: string | ArrayBuffer, flags?: MqttPublishFlags): void;
    subscribe(topic: string): void;
    unsubscribe(topic: string): void;
    close(immediate?: boolean): void;
  }
}
