// The XS side of host-sim/delta/delta-xs.ts: src/delta's applier inside the real XS engine
// (xsnap). Bundled by esbuild into a script defining globalThis.xsDelta. The old image and the
// patch come from the host over issueCommand once (load), so that the metered apply() is the
// applier's own work, with the old image in memory as a memory-mapped flash slot is on a device.
// apply() returns the target bytes.

import { PatchApplier, type PatchApplyOptions } from "../../src/delta/patch-applier.ts";
import { fromHex } from "../../src/util/bytes.ts";

declare function issueCommand(request: ArrayBuffer): ArrayBuffer;

let old: Uint8Array = new Uint8Array(0);
let patch: Uint8Array = new Uint8Array(0);

function fetchBytes(what: string): Uint8Array {
  const req = new Uint8Array(what.length);
  for (let i = 0; i < what.length; i++) req[i] = what.charCodeAt(i);
  return new Uint8Array(issueCommand(req.buffer));
}

interface ApplyArgs {
  piece: number;
  baseSha256?: string;
  checkpointEvery?: number;
  /** Snapshot at this patch offset, drop the applier, resume from the snapshot. */
  resumeAt?: number;
}

(globalThis as Record<string, unknown>).xsDelta = {
  load(): number {
    old = fetchBytes("old");
    patch = fetchBytes("patch");
    return old.length + patch.length;
  },
  apply(args: ApplyArgs): ArrayBuffer {
    let target = new Uint8Array(0);
    let length = 0;
    const io = {
      readOld: (offset: number, n: number) => old.subarray(offset, offset + n),
      write(bytes: Uint8Array) {
        if (length + bytes.length > target.length) {
          const next = new Uint8Array(Math.max(applier.toSize, length + bytes.length));
          next.set(target.subarray(0, length));
          target = next;
        }
        target.set(bytes, length);
        length += bytes.length;
      },
    };
    const options: PatchApplyOptions = { oldSize: old.length, checkpointEvery: args.checkpointEvery };
    if (args.baseSha256) Object.assign(options, { espHeader: true, baseSha256: fromHex(args.baseSha256) });
    let applier = new PatchApplier(io, options);
    let at = 0;
    while (at < patch.length) {
      let n = args.piece;
      if (args.resumeAt !== undefined && at < args.resumeAt && at + n > args.resumeAt) n = args.resumeAt - at;
      applier.feed(patch.subarray(at, at + n));
      at += n;
      if (at === args.resumeAt) {
        const state = applier.snapshot();
        applier = PatchApplier.resume(state, io, options);
      }
    }
    applier.finish();
    return target.buffer.slice(0, length) as ArrayBuffer;
  },
};
