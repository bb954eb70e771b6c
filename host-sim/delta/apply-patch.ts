// Applies a detools sequential patch on the host with the same src/delta code a device runs
// (for `xs-ota delta apply`, the server's checks and tests): the whole old image and patch in
// memory, the target returned. Errors are src/delta's: OtaError -3 with the reason.

import { PatchApplier, type PatchApplyOptions } from "../../src/delta/patch-applier.ts";
import { ByteSink } from "./bsdiff.ts";

export interface HostApplyOptions extends Partial<Omit<PatchApplyOptions, "oldSize">> {
  /** Patch bytes per feed() call (default 4096), as a download would deliver them. */
  piece?: number;
}

export function applyPatch(old: Uint8Array, patch: Uint8Array, options: HostApplyOptions = {}): Uint8Array {
  const { piece = 4096, ...rest } = options;
  const out = new ByteSink();
  const a = new PatchApplier({ readOld: (o, l) => old.subarray(o, o + l), write: (b) => out.append(b) }, { ...rest, oldSize: old.length });
  for (let i = 0; i < patch.length; i += piece) a.feed(patch.subarray(i, i + piece));
  a.finish();
  return out.bytes();
}
