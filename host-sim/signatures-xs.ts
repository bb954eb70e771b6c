// Runs src/crypto and the MCUboot / Secure Boot V2 verifiers inside the real XS engine
// (xsnap-worker, host-sim/xs/worker.ts), for test/signatures-xs.test.ts and
// bench/signatures-xs.ts. The script is signatures-xs-entry.ts bundled by esbuild (present in a
// source checkout through tsx; only tests and benchmarks use this file). The host serves the
// native parts over issueCommand: SHA-256/384/512 and raw RSA from node:crypto, ECDSA from
// node-signatures.ts, and reads of the image under test.

import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeSignatures } from "./node-signatures.ts";
import { XsWorker, replyText, type RunResult } from "./xs/worker.ts";

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), "signatures-xs-entry.ts");

let bundled: Promise<string> | undefined;

/** The XS script (built once per process). */
export function signaturesXsBundle(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import("esbuild");
    const out = await build({ entryPoints: [ENTRY], bundle: true, format: "iife", target: "es2022", platform: "neutral", write: false, logLevel: "silent" });
    return out.outputFiles[0].text;
  })();
  return bundled;
}

interface Request {
  op: "digest" | "ecdsa" | "rsa" | "read";
  algorithm?: string;
  curve?: "p256" | "p384";
  lens?: number[];
  exponent?: number;
  n?: number;
  offset?: number;
  length?: number;
}

export interface XsCallResult<T> {
  value: T;
  /** XS meter units of the call (the host's native stand-ins are not metered). */
  compute: number;
  /** Host commands the call issued. */
  commands: number;
  /** XS slot heap after the call (meter currentHeapCount). */
  heapSlots: number;
}

/** An xsnap worker with the signature bundle loaded. */
export class XsSignatures {
  /** The image that `read` commands serve. */
  image: Uint8Array = new Uint8Array(0);
  private constructor(private readonly worker: XsWorker) {}

  static async start(): Promise<XsSignatures> {
    let self: XsSignatures | undefined;
    const worker = new XsWorker({ name: "xs-signatures", handleCommand: (req) => self!.serve(req) });
    self = new XsSignatures(worker);
    await worker.evaluate(await signaturesXsBundle());
    return self;
  }

  private serve(req: Uint8Array): Uint8Array {
    const view = new DataView(req.buffer, req.byteOffset, req.byteLength);
    const hl = view.getUint32(0, true);
    const h = JSON.parse(new TextDecoder().decode(req.subarray(4, 4 + hl))) as Request;
    const payload = req.subarray(4 + hl);
    switch (h.op) {
      case "digest":
        return new Uint8Array(createHash(h.algorithm!).update(payload).digest());
      case "read":
        return this.image.slice(h.offset!, h.offset! + h.length!);
      case "ecdsa": {
        const parts: Uint8Array[] = [];
        let o = 0;
        for (const n of h.lens!) parts.push(payload.subarray(o, (o += n)));
        return Uint8Array.of(nodeSignatures.ecdsaVerify(h.curve!, parts[0], parts[1], parts[2], parts[3]) ? 1 : 0);
      }
      case "rsa": {
        try {
          const m = nodeSignatures.rsaPublic(payload.subarray(0, h.n!), h.exponent!, payload.subarray(h.n!));
          const out = new Uint8Array(1 + m.length);
          out.set(m, 1);
          return out;
        } catch (e) {
          if (e instanceof RangeError) return Uint8Array.of(1);
          throw e;
        }
      }
    }
  }

  /** Evaluates `xsSig.<fn>(...args)` in XS and parses its JSON result. */
  async call<T>(fn: string, ...args: unknown[]): Promise<XsCallResult<T>> {
    const r: RunResult = await this.worker.evaluate(`xsSig.${fn}(...${JSON.stringify(args)})`);
    return { value: JSON.parse(replyText(r)) as T, compute: r.meter.compute, commands: r.commands, heapSlots: r.meter.currentHeapCount };
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
