// Runs src/crypto and the MCUboot / Secure Boot V2 verifiers inside the real XS engine (host-sim's
// engine "xs", host-sim/xs/host.ts) on the Moddable platform's SignaturePort and DigestPort, for
// test/signatures-xs.test.ts and bench/signatures-xs.ts. The script is signatures-xs-entry.ts
// bundled by esbuild with the Moddable specifiers mapped to host-sim's shims, which serve the
// native parts as on a device: `crypt` digests, `ecdsa`/`curve`/`ecp` and `rsa` (the
// SDK's semantics, computed by the host: host-sim/xs/public-key-service.ts), and the image under
// test as the flash partition "image". Only tests and benchmarks use this file.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { startXsEngine, type XsEngine } from "./xs/host.ts";
import { createMemoryServices, type MemoryServices } from "./xs/memory-services.ts";
import { moddableGlobalsEsbuild } from "./xs/moddable-globals.ts";

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), "signatures-xs-entry.ts");
const IMAGE_PARTITION_SIZE = 0x40000;

let bundled: Promise<string> | undefined;

/** The XS script (built once per process). */
export function signaturesXsBundle(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import("esbuild");
    const out = await build({
      entryPoints: [ENTRY],
      bundle: true,
      format: "iife",
      target: "es2022",
      platform: "neutral",
      write: false,
      logLevel: "silent",
      plugins: [moddableGlobalsEsbuild() as never],
    });
    return out.outputFiles[0].text;
  })();
  return bundled;
}

export interface XsCallResult<T> {
  value: T;
  /** XS meter units of the call; the shims standing in for the Moddable natives are not metered. */
  compute: number;
  /** Requests to the host (native calls) during the call, posted ones included. */
  commands: number;
  /** XS slot heap (16-byte slots) at the end of the call, garbage included (meter currentHeapCount). */
  heapSlots: number;
}

/** An XS engine with the signature bundle loaded. */
export class XsSignatures {
  private constructor(
    private readonly engine: XsEngine,
    private readonly services: MemoryServices,
  ) {}

  static async start(): Promise<XsSignatures> {
    const services = createMemoryServices({ partitions: [{ label: "image", type: "data", size: IMAGE_PARTITION_SIZE }] });
    const engine = await startXsEngine({ bundleCode: await signaturesXsBundle(), services, name: "xs-signatures" });
    return new XsSignatures(engine, services);
  }

  /** The image the "image" partition holds (the rest of the partition is erased). */
  set image(bytes: Uint8Array) {
    if (bytes.length > IMAGE_PARTITION_SIZE) throw new RangeError(`image larger than ${IMAGE_PARTITION_SIZE} bytes`);
    const p = this.services.flash.partition("image");
    p.bytes.fill(0xff);
    p.bytes.set(bytes);
  }

  /** Runs `fn(...args)` of signatures-xs-entry.ts in XS and returns its JSON result. */
  async call<T>(fn: string, ...args: unknown[]): Promise<XsCallResult<T>> {
    const r = await this.engine.run({ fn, args });
    if (r.outcome !== "done") throw new Error(`xsSig.${fn}: ${r.outcome} ${r.error?.name ?? ""}: ${r.error?.message ?? r.reason ?? ""}`);
    return { value: r.value as T, compute: r.stats.compute, commands: r.stats.commands + r.stats.posted, heapSlots: r.stats.maxHeapCount };
  }

  /** The live slot heap after a collection (nothing running). */
  liveHeapCount(): Promise<number> {
    return this.engine.liveHeapCount();
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
