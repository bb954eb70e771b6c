// Device mode of the runtime bundle (`xs-ota sim fleet --engine xs`): what examples/esp32's
// ota.ts does after agent.boot() on a board, inside XS: poll `xs-ota server` in its HTTP manifest
// dialect (HttpDevice over the platform's HTTP port and clock, i.e. the http and timer shims),
// report progress and results, and install what it offers. agent.update() restarts the board on
// success (the host kills the worker inside System.restart()), so the returned promise settles
// only when there is nothing to serve (an invalid image whose restart returned).
//
// Type-checked by tsconfig.moddable.json (XS globals, Moddable declarations, no Node).

import type { Agent } from "../../src/agent/agent.ts";
import type { BootReport, Progress } from "../../src/agent/types.ts";
import type { Platform } from "../../src/ports.ts";
import { HttpDevice } from "../../src/protocol/http-device.ts";
import type { RuntimeDevice, RuntimeEvent, RuntimeResult } from "./runtime-protocol.ts";

/** Where the agent's onProgress goes once the device client exists. */
export interface ProgressSink {
  progress?: (p: Progress) => void;
}

export function serveDevice(
  platform: Platform,
  agent: Agent,
  boot: BootReport,
  d: RuntimeDevice,
  sink: ProgressSink,
  emit: (e: RuntimeEvent) => void,
): Promise<RuntimeResult> {
  // A new image that failed its self-test must not report its version (ota.ts).
  if (boot.imageState === "invalid") return Promise.resolve({ boot });
  const device = new HttpDevice({
    http: platform.http,
    clock: platform.clock,
    server: d.server,
    product: d.product,
    device: d.device,
    report: boot,
    readings: () => ({ batteryPercent: platform.system.batteryPercent(), rssi: platform.system.rssi(), freeSpace: agent.target().size }),
    update: (offer) => agent.update(offer),
    pollMs: d.pollMs,
    backoffMs: d.backoffMs,
    backoffMaxMs: d.backoffMaxMs,
    timeoutMs: d.timeoutMs,
    progress: d.progress,
    onResult: (result) => emit({ kind: "result", result }),
    onPoll: (outcome) => {
      if (outcome.kind === "rejected" || outcome.kind === "error") emit({ kind: "poll", outcome: outcome.kind, reason: outcome.reason });
    },
  });
  sink.progress = (p) => device.progress(p);
  device.start();
  return new Promise<RuntimeResult>(() => undefined);
}
