// The host side of the `mqtt` shim (shims/mqtt.js): the connections XS opened, by id, over
// XsServices.mqtt. A connection's events are pushed as XS events (one turn each); an open
// connection counts as pending I/O (a device waiting for a message is not deadlocked).

import { EV, fromUtf8, utf8 } from "./protocol.ts";
import type { XsMqttConnection, XsMqttOptions, XsMqttService } from "./services.ts";

interface Pushed {
  kind: number;
  a?: number;
  b?: number;
  payload?: Uint8Array;
}

export class MqttConnections {
  private readonly open = new Map<number, XsMqttConnection>();

  constructor(
    private readonly service: () => XsMqttService | undefined,
    private readonly push: (event: Pushed) => void,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** OP.MQTT_OPEN: connection `id` (the host's) with the JSON options in `payload`. */
  connect(id: number, payload: Uint8Array): void {
    const service = this.service();
    if (!service) throw new Error("host-sim: no MQTT service");
    const options = JSON.parse(fromUtf8(payload)) as XsMqttOptions;
    let closed = false;
    let connection: XsMqttConnection | undefined;
    // Registered first: a service may report a failed connect from inside connect().
    this.open.set(id, {
      publish: (topic, data) => connection?.publish(topic, data),
      subscribe: (topic) => connection?.subscribe(topic),
      close: () => {
        closed = true;
        connection?.close();
      },
    });
    const live = (): boolean => !closed && this.open.has(id);
    connection = service.connect(options, {
      ready: () => void (live() && this.push({ kind: EV.MQTT_READY, a: id })),
      message: (topic, data) => {
        if (!live()) return;
        const t = utf8(topic);
        const out = new Uint8Array(t.byteLength + data.byteLength);
        out.set(t);
        out.set(data, t.byteLength);
        this.push({ kind: EV.MQTT_MESSAGE, a: id, b: t.byteLength, payload: out });
      },
      close: () => {
        if (!live()) return;
        closed = true;
        this.open.delete(id);
        this.push({ kind: EV.MQTT_CLOSE, a: id });
      },
    });
    if (closed) connection.close();
  }

  publish(id: number, topicLength: number, payload: Uint8Array): void {
    this.get(id).publish(fromUtf8(payload.subarray(0, topicLength)), new Uint8Array(payload.subarray(topicLength)));
  }

  subscribe(id: number, payload: Uint8Array): void {
    this.get(id).subscribe(fromUtf8(payload));
  }

  close(id: number): void {
    const c = this.open.get(id);
    this.open.delete(id);
    c?.close();
  }

  /** The worker ended (halt, restart, reboot): every connection drops. */
  closeAll(): void {
    const all = [...this.open.values()];
    this.open.clear();
    for (const c of all) c.close();
  }

  private get(id: number): XsMqttConnection {
    const c = this.open.get(id);
    if (!c) throw new Error("connection closed");
    return c;
  }
}
