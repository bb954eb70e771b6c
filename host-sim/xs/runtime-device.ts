// Device mode of the runtime bundle (`xs-ota sim fleet --engine xs`): what examples/esp32's
// ota.ts does after agent.boot() on a board, inside XS: talk to `xs-ota server` in one dialect of
// src/protocol/ over the platform's ports (http, timer and mqtt shims): HTTP manifest polling
// (HttpDevice, as examples/esp32), Alibaba-style topics or QuecThing-style plans over the
// Moddable mqtt module (createModdableMqtt); report progress and results, and install what it
// offers. agent.update() restarts the board on success (the host kills the worker inside
// System.restart()), so the returned promise settles only when there is nothing to serve (an
// invalid image whose restart returned).
//
// Type-checked by tsconfig.moddable.json (XS globals, Moddable declarations, no Node).

import type { Agent } from "../../src/agent/agent.ts";
import type { BootReport, Progress, UpdateResult } from "../../src/agent/types.ts";
import type { Platform } from "../../src/ports.ts";
import { createModdableMqtt } from "../../src/platform/moddable/mqtt.ts";
import { AlibabaOtaClient } from "../../src/protocol/alibaba-mqtt.ts";
import { HttpDevice } from "../../src/protocol/http-device.ts";
import { QuecPlanClient, connectQuecMqtt, mqttSender, quecTopics, type Plan, type PlanMemo } from "../../src/protocol/quec-plan.ts";
import { utf8Decode, utf8Encode } from "../../src/util/utf8.ts";
import type { RuntimeDevice, RuntimeEvent, RuntimeResult } from "./runtime-protocol.ts";

/** Where the agent's onProgress goes once the device client exists. */
export interface ProgressSink {
  progress?: (p: Progress) => void;
}

/** The QuecThing plan being installed, kept across the restart into the new image. */
const QUEC_MEMO = "quec.memo";

export async function serveDevice(
  platform: Platform,
  agent: Agent,
  boot: BootReport,
  d: RuntimeDevice,
  sink: ProgressSink,
  emit: (e: RuntimeEvent) => void,
): Promise<RuntimeResult> {
  // A new image that failed its self-test must not report its version (ota.ts).
  if (boot.imageState === "invalid") return { boot };
  const readings = () => ({ batteryPercent: platform.system.batteryPercent(), rssi: platform.system.rssi(), freeSpace: agent.target().size });
  const onResult = (result: UpdateResult): void => emit({ kind: "result", result });
  const dialect = d.dialect ?? "http";
  if (dialect === "http") {
    const device = new HttpDevice({
      http: platform.http,
      clock: platform.clock,
      server: d.server,
      product: d.product,
      device: d.device,
      report: boot,
      readings,
      update: (offer) => agent.update(offer),
      pollMs: d.pollMs,
      backoffMs: d.backoffMs,
      backoffMaxMs: d.backoffMaxMs,
      timeoutMs: d.timeoutMs,
      progress: d.progress,
      onResult,
      onPoll: (outcome) => {
        if (outcome.kind === "rejected" || outcome.kind === "error") emit({ kind: "poll", outcome: outcome.kind, reason: outcome.reason });
      },
    });
    sink.progress = (p) => device.progress(p);
    device.start();
  } else {
    if (!d.broker) throw new Error(`dialect ${dialect}: no broker given`);
    const mqtt = await createModdableMqtt({ host: d.broker.host, port: d.broker.port, id: `dev-${d.product}-${d.device}` });
    if (dialect === "alibaba") {
      // The device's policy: the plan's thresholds travel in extData; the readings are the board's.
      const client = new AlibabaOtaClient({
        mqtt, clock: platform.clock, productKey: d.product, deviceName: d.device, version: () => boot.version,
        progress: d.progress, update: (offer) => agent.update(offer), onResult,
      });
      sink.progress = (p) => client.progress(p);
      client.start(boot);
    } else {
      const topics = quecTopics(d.product, d.device);
      let plan: Plan | undefined;
      const client: QuecPlanClient = new QuecPlanClient({
        send: mqttSender(mqtt, topics.up), clock: platform.clock, version: () => boot.version, readings,
        onPlan: (p) => void (plan = p),
        // On a device agent.update() restarts before it returns (the client's own memo comes
        // after), so the plan is remembered before the update and forgotten if it fails.
        update: async (offer) => {
          if (plan) platform.kv.set(QUEC_MEMO, utf8Encode(JSON.stringify({ taskId: plan.taskId, component: plan.component, version: offer.version } satisfies PlanMemo)));
          const r = await agent.update(offer);
          if (!r.ok) platform.kv.delete(QUEC_MEMO);
          return r;
        },
        downloading: d.progress,
        onResult,
      });
      sink.progress = (p) => client.progress(p);
      connectQuecMqtt(mqtt, topics, client);
      const memo = platform.kv.get(QUEC_MEMO);
      if (memo && boot.lastUpdate) {
        client.start(boot, JSON.parse(utf8Decode(memo)) as PlanMemo);
        platform.kv.delete(QUEC_MEMO);
      }
      client.request();
    }
  }
  return new Promise<RuntimeResult>(() => undefined);
}
