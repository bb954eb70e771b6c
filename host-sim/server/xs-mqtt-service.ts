// XsServices.mqtt for fleet boards on engine xs: each connection the runtime's `mqtt` Client
// opens inside XS is a connection of the `mqtt` package to the server's broker (node-mqtt.ts).
// A publish waits for the subscriptions sent before it to be acknowledged, so a request never
// overtakes the subscription it expects its answer on (the node engine awaits settled() there).
// A board without power sends nothing (canSend); closing flushes what it sent before, and the
// next power-on waits for that (idle()), so a report from before a restart never reaches the
// server after the first report of the new image.

import { connectMqtt, type NodeMqttPort } from "../cloud/node-mqtt.ts";
import type { XsMqttService } from "../xs/services.ts";

let connections = 0;

export interface BrokerMqttService extends XsMqttService {
  /** Resolves once every closed connection has delivered what it sent and ended: the next
   * power-on waits for it, as a reboot takes longer than the broker's acknowledgements. */
  idle(): Promise<void>;
}

export function brokerMqttService(canSend: () => boolean): BrokerMqttService {
  const closing = new Set<Promise<void>>();
  return {
    async idle() {
      while (closing.size > 0) await Promise.all([...closing]);
    },
    connect(o, sink) {
      let port: NodeMqttPort | undefined;
      let closed = false;
      let chain: Promise<void> = Promise.resolve();
      const url = `${o.tls ? "mqtts" : "mqtt"}://${o.host}:${o.port}`;
      connectMqtt(url, `${o.id}-${++connections}-${process.pid}`).then(
        (m) => {
          if (closed) return void m.close();
          port = m;
          m.onMessage((topic, payload) => sink.message(topic, payload));
          sink.ready();
        },
        () => sink.close(),
      );
      // Publishes go out at once, in order on the connection, except behind a subscribe that the
      // broker has not acknowledged yet.
      let subscribing: Promise<void> | undefined;
      const send = (step: (m: NodeMqttPort) => void): void => {
        if (!port) return;
        if (!subscribing) return step(port);
        const m = port;
        chain = chain.then(() => step(m));
      };
      return {
        publish(topic, payload) {
          if (!canSend()) return;
          const bytes = payload.slice();
          send((m) => m.publish(topic, bytes));
        },
        subscribe(topic) {
          send((m) => m.subscribe(topic));
          const m = port;
          if (!m) return;
          const acked = (chain = chain.then(() => m.settled().catch(() => undefined)));
          subscribing = acked;
          void acked.then(() => {
            if (subscribing === acked) subscribing = undefined;
          });
        },
        close() {
          if (closed) return;
          closed = true;
          const m = port;
          const done = (chain = chain.then(async () => {
            if (!m) return;
            await m.settled().catch(() => undefined);
            await m.close();
          }));
          closing.add(done);
          void done.finally(() => closing.delete(done));
        },
      };
    },
  };
}
