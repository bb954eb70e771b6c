// The MqttPort on the `mqtt` package (MQTT 3.1.1, QoS 1 both ways so a message is neither lost
// nor reordered on the loopback link), plus what a host needs around it: connect, wait until
// every subscribe and publish was acknowledged, close.

import mqtt, { type MqttClient } from "mqtt";
import type { MqttPort } from "../../src/ports.ts";

export interface NodeMqttPort extends MqttPort {
  readonly clientId: string;
  /** Resolves when every subscribe and publish so far was acknowledged by the broker. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function connectMqtt(url: string, clientId: string): Promise<NodeMqttPort> {
  const client: MqttClient = mqtt.connect(url, { clientId, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  const handlers: ((topic: string, payload: Uint8Array) => void)[] = [];
  const outstanding = new Set<Promise<void>>();
  const track = (start: (done: (err?: Error | null) => void) => void) => {
    const p = new Promise<void>((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
    outstanding.add(p);
    void p.finally(() => outstanding.delete(p)).catch(() => undefined);
  };
  client.on("message", (topic, payload) => {
    const bytes = new Uint8Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
    for (const h of handlers) h(topic, bytes);
  });
  return {
    clientId,
    publish(topic, payload) {
      track((done) => client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) => done(err)));
    },
    subscribe(topic) {
      track((done) => client.subscribe(topic, { qos: 1 }, (err) => done(err)));
    },
    onMessage(handler) {
      handlers.push(handler);
    },
    async settled() {
      while (outstanding.size > 0) await Promise.all([...outstanding]);
    },
    async close() {
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
