// Runs src/delta's patch applier inside the real XS engine (xsnap-worker, host-sim/xs/worker.ts),
// for test/delta-xs.test.ts and bench/delta.ts: delta-xs-entry.ts bundled by esbuild, as
// host-sim/signatures-xs.ts does for the signature verifiers. The host serves the old image and
// the patch once; each apply() is one metered XS operation.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { toHex } from "../../src/util/bytes.ts";
import { XsWorker, type RunResult } from "../xs/worker.ts";

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), "delta-xs-entry.ts");

let bundled: Promise<string> | undefined;

/** The XS script (built once per process). */
export function deltaXsBundle(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import("esbuild");
    const out = await build({ entryPoints: [ENTRY], bundle: true, format: "iife", target: "es2022", platform: "neutral", write: false, logLevel: "silent" });
    return out.outputFiles[0].text;
  })();
  return bundled;
}

export interface XsApplyResult {
  target: Uint8Array;
  /** XS meter units of the apply. */
  compute: number;
  /** XS slot heap after the apply, in bytes (16 per slot). */
  heapSlotBytes: number;
  /** Bytes the XS machine had reserved (chunks and slots) after the apply. */
  allocateBytes: number;
}

export interface XsApplyOptions {
  /** Patch bytes per feed() call. */
  piece: number;
  /** The patch has esp_delta_ota's header naming this base digest. */
  baseSha256?: Uint8Array;
  checkpointEvery?: number;
  /** Snapshot at this patch offset and continue on an applier resumed from it. */
  resumeAt?: number;
}

/** An xsnap worker with the delta bundle loaded and one old image / patch pair. */
export class XsDelta {
  private constructor(private readonly worker: XsWorker) {}

  static async start(old: Uint8Array, patch: Uint8Array): Promise<XsDelta> {
    const worker = new XsWorker({
      name: "xs-delta",
      handleCommand: (req) => (new TextDecoder().decode(req) === "old" ? old : patch),
    });
    const self = new XsDelta(worker);
    await worker.evaluate(await deltaXsBundle());
    await worker.evaluate("xsDelta.load()");
    return self;
  }

  async apply(options: XsApplyOptions): Promise<XsApplyResult> {
    const args = { ...options, baseSha256: options.baseSha256 ? toHex(options.baseSha256) : undefined };
    const r: RunResult = await this.worker.evaluate(`xsDelta.apply(${JSON.stringify(args)})`);
    return { target: r.reply, compute: r.meter.compute, heapSlotBytes: r.meter.currentHeapCount * 16, allocateBytes: r.meter.allocate };
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
