// A delta update (offer.delta): the patch streams in through the downloader (Range, If-Range,
// retries) into the PatchApplier (src/delta/); the old image is read from the running slot and
// the produced image goes through the slot writer into the target slot. The produced image then
// gets exactly the checks a downloaded one gets (the offer's digests over it, BootTarget's head
// and image checks), and the agent stages it as usual.
//
// Resume: each time the produced image completes a flash sector (the slot writer's durable unit),
// the applier's whole state (404 bytes, src/delta/apply-state.ts) goes into the journal with the
// target progress as one record (Journal.deltaCheckpoint). After a cut, the target is written
// again from that sector, its prefix re-hashed from flash, and the patch fetched from the
// state's patch offset with Range and If-Range on the patch's validator. No extra partition.
//
// Base image: the patch must be for the running image. offer.delta.baseVersion must be the
// running version (-1 before anything is fetched, so the cloud offers the full image instead);
// offer.delta.baseSha256, when given, and the SHA-256 in an esp_delta_ota header must equal the
// running image's digest as esp_partition_get_sha256 gives it (BootTarget.runningImageDigest;
// ESP-IDF: the appended hash), else -3 before the first write.

import type { FlashPartition, Platform } from "../ports.ts";
import type { BootTarget, ImageCheck, SlotInfo } from "../targets/boot-target.ts";
import { download, type DownloadSink, type DownloadTuning } from "../download/downloader.ts";
import { ImageDigests, digestMismatch } from "../download/image-digests.ts";
import { SlotWriter } from "../flash/slot-writer.ts";
import { PatchApplier, type PatchApplyOptions, type PatchIo } from "../delta/patch-applier.ts";
import { decodeApplyState } from "../delta/apply-state.ts";
import { ESP_DELTA_MAGIC } from "../delta/esp-delta-header.ts";
import { ErrorCode, OtaError, errorMessage } from "../errors.ts";
import { toHex } from "../util/bytes.ts";
import type { Journal } from "./journal.ts";
import type { Offer } from "./offer.ts";
import type { Phase } from "./types.ts";
import { HeadCheck } from "./head-check.ts";

/** Resumes from the same patch offset that made no progress before starting again from byte 0
 * (as agent.ts does for full images). */
const MAX_RESUME_TRIES = 2;
const HASH_CHUNK = 4096;

/** What the agent lends the delta intake. */
export interface DeltaHost {
  /** Partitions already throwing OtaError(-4) (withFlashErrors). */
  platform: Platform;
  target: BootTarget;
  journal: Journal;
  download?: DownloadTuning;
  onInterruption?: (reason: string, position: number) => void;
  progress(phase: Phase, bytes: number, total: number): void;
  log(level: "info" | "warn" | "error", message: string): void;
  /** Re-hashes [0, end) of the slot into `digests`. */
  hashPrefix(part: FlashPartition, end: number, digests: ImageDigests, total: number): void;
  /** BootTarget.checkImage over the slot, as for a full image. */
  verifyImage(part: FlashPartition, offer: Offer): ImageCheck;
}

/** The running image as a patch's base. */
export interface DeltaBase {
  length: number;
  sha256: Uint8Array;
}

/** Checks that the delta offer fits the running image, before any byte is fetched: -1 when the
 * patch is for another version, -3 when the offer names another base SHA-256. */
export function checkDeltaBase(host: DeltaHost, offer: Offer, runningVersion: string): DeltaBase {
  const d = offer.delta!;
  if (d.baseVersion !== runningVersion) {
    throw new OtaError(ErrorCode.UpdateFailed, `no patch for the running version: the patch applies to ${d.baseVersion}, this device runs ${runningVersion}`);
  }
  const base = runningBase(host);
  if (d.baseSha256 !== undefined && d.baseSha256 !== toHex(base.sha256)) {
    throw new OtaError(ErrorCode.VerifyFailed, `delta patch: the patch is for another base image (SHA-256 ${d.baseSha256}; the running image is ${toHex(base.sha256)})`);
  }
  return base;
}

/** The running image's length and digest: the target's own (ESP: the appended hash), else the
 * SHA-256 of the whole running slot. */
function runningBase(host: DeltaHost): DeltaBase {
  const t = host.target;
  if (t.runningImageDigest) {
    try {
      return t.runningImageDigest();
    } catch (e) {
      throw e instanceof OtaError ? e : new OtaError(ErrorCode.VerifyFailed, `the running image: ${errorMessage(e)}`);
    }
  }
  const part = host.platform.partitions.open(t.runningSlot().label);
  const size = part.geometry.size;
  const sha = host.platform.digests.create("sha256");
  for (let at = 0; at < size; at += HASH_CHUNK) sha.update(part.read(at, Math.min(HASH_CHUNK, size - at)));
  return { length: size, sha256: sha.finish() };
}

/** Downloads and applies the patch into `slot`, then checks the produced image (digests, image
 * checks). `resuming`: the journal holds a download of this offer into this slot. */
export async function fetchDelta(host: DeltaHost, offer: Offer, slot: SlotInfo, fromVersion: string, base: DeltaBase, resuming: boolean): Promise<ImageCheck> {
  const d = offer.delta!;
  const journal = host.journal;
  const part = host.platform.partitions.open(slot.label);
  const old = host.platform.partitions.open(host.target.runningSlot().label);
  const writer = new SlotWriter(part);
  let sector = Infinity;
  for (const s of part.geometry.sectors) if (s.size < sector) sector = s.size;
  const options: PatchApplyOptions = {
    oldSize: base.length,
    baseSha256: base.sha256,
    maxTargetSize: Math.min(slot.size, offer.size),
    checkpointEvery: sector,
  };
  const saved = resuming ? resumeState(host, writer, offer) : undefined;
  const startTarget = saved ? saved.targetOffset : 0;
  host.log("info", saved
    ? `resuming the delta to ${offer.version} into ${slot.label} from the journal: patch byte ${saved.patchOffset} of ${d.size}, image byte ${startTarget} of ${offer.size}`
    : `applying a ${d.size}-byte patch from ${fromVersion} to ${offer.version} (${offer.size} bytes) into ${slot.label}`);
  if (!saved) journal.save({ phase: "download", offer, fromVersion, slot: slot.label, progress: 0 });
  host.target.releaseSlot(slot.label);
  const digests = new ImageDigests(host.platform.digests);
  host.progress("check", 0, offer.size);
  host.hashPrefix(part, startTarget, digests, offer.size);
  writer.seek(startTarget);
  const head = new HeadCheck(host.target, offer);
  if (startTarget > 0) head.feed(part.read(0, Math.min(startTarget, host.target.headSize)));

  let applier: PatchApplier | undefined;
  const io: PatchIo = {
    readOld: (at, n) => old.read(at, n),
    write: (bytes) => {
      head.feed(bytes);
      digests.update(bytes);
      writer.write(bytes);
      host.progress("download", writer.position, offer.size);
    },
    checkpoint: (t) => {
      // A safe point of the applier at the end of a durable sector (on a map of unequal sectors
      // only the ends of sectors count).
      if (writer.sectorStart(t) !== t || t >= offer.size) return;
      writer.flush();
      journal.deltaCheckpoint(t, applier!.snapshot());
    },
  };
  if (saved) applier = PatchApplier.resume(saved.state, io, { ...options, espHeader: saved.espHeader });
  const sink: DownloadSink = {
    get position() {
      return applier ? applier.patchOffset : 0;
    },
    restart: (validator) => {
      applier = undefined;
      head.reset();
      digests.reset();
      writer.seek(0);
      journal.save({ ...journal.state, validator, progress: 0, applyState: undefined, resumeAt: undefined, resumeTries: undefined });
    },
    setValidator: (validator) => {
      if (validator !== journal.state.validator) journal.save({ ...journal.state, validator });
    },
    data: (chunk) => {
      if (chunk.length === 0) return;
      // An esp_delta_ota patch starts with its magic (bytes 10 de cd fc); a plain detools
      // sequential patch with 0x10 as its first byte would be type 1 (in-place), refused anyway.
      if (!applier) applier = new PatchApplier(io, { ...options, espHeader: chunk[0] === (ESP_DELTA_MAGIC & 0xff) });
      applier.feed(chunk);
    },
  };
  const resumedFrom = sink.position;
  try {
    await download(host.platform.http, host.platform.clock, sink, {
      url: offer.url,
      size: d.size,
      validator: resumedFrom > 0 ? journal.state.validator : undefined,
      ...host.download,
      onInterruption: host.onInterruption,
    });
  } catch (e) {
    // A network failure (-2) is not a failed resume (see agent.ts fetchAndVerify).
    const s = journal.state;
    if (resumedFrom > 0 && e instanceof OtaError && e.code === ErrorCode.DownloadFailed && s.resumeAt === resumedFrom && (s.resumeTries ?? 0) > 0) {
      journal.save({ ...s, resumeTries: (s.resumeTries ?? 0) - 1 });
    }
    throw e;
  }
  if (!applier) throw new OtaError(ErrorCode.VerifyFailed, "delta patch: no bytes");
  const produced = applier.finish();
  if (produced !== offer.size) throw new OtaError(ErrorCode.VerifyFailed, `delta patch: it produces ${produced} bytes, the offer names ${offer.size}`);
  writer.flush();
  const mismatch = digestMismatch(offer, digests.finish());
  if (mismatch) throw new OtaError(ErrorCode.VerifyFailed, `the image the patch produced: ${mismatch}`);
  return host.verifyImage(part, offer);
}

interface SavedState {
  state: Uint8Array;
  espHeader: boolean;
  patchOffset: number;
  targetOffset: number;
}

/** The journaled apply state, when it can continue: it belongs to this offer and slot, its
 * target offset is the journaled durable progress on a sector start, and fewer than
 * MAX_RESUME_TRIES resumes from its patch offset made no progress. Otherwise undefined (start
 * from byte 0), with a log line. The attempt is counted in the journal first. */
function resumeState(host: DeltaHost, writer: SlotWriter, offer: Offer): SavedState | undefined {
  const j = host.journal.state;
  if (!j.applyState) return undefined;
  let saved: SavedState;
  try {
    const st = decodeApplyState(j.applyState);
    saved = { state: j.applyState, espHeader: st.espHeader, patchOffset: st.patchOffset, targetOffset: st.target };
    const ok = st.target === j.progress && st.target > 0 && st.target < offer.size && writer.sectorStart(st.target) === st.target &&
      st.toSize === offer.size && st.patchOffset > 0 && st.patchOffset < offer.delta!.size;
    if (!ok) throw new Error(`it is at image byte ${st.target} (journal: ${j.progress}) and patch byte ${st.patchOffset} of a ${st.toSize}-byte image`);
  } catch (e) {
    host.log("warn", `journal: the delta apply state cannot continue (${errorMessage(e)}); starting again from byte 0`);
    return undefined;
  }
  const tries = j.resumeAt === saved.patchOffset ? (j.resumeTries ?? 0) : 0;
  if (tries >= MAX_RESUME_TRIES) {
    host.log("warn", `journal: ${tries} resumes at patch byte ${saved.patchOffset} made no progress; starting again from byte 0`);
    return undefined;
  }
  host.journal.save({ ...j, resumeAt: saved.patchOffset, resumeTries: tries + 1 });
  return saved;
}
