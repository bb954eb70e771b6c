// The update state machine. boot() settles whatever a restart left behind (a trial boot, an
// update in flight); update() downloads an offer into the inactive slot, verifies it, stages it
// and restarts. Every step is recorded in the journal first, so a cut anywhere resumes or
// finishes the update and never stages an image whose digests do not match.

import type { FlashPartition, Platform } from "../ports.ts";
import { RewriteSlot, type BootTarget, type ImageCheck, type SlotInfo, type TrialState } from "../targets/boot-target.ts";
import { EspIdfTarget } from "../targets/esp-idf/esp-idf-target.ts";
import { download, type DownloadSink, type DownloadTuning } from "../download/downloader.ts";
import { ImageDigests, digestMismatch } from "../download/image-digests.ts";
import { withFlashErrors } from "../flash/flash-errors.ts";
import { FlashWriteError, SlotWriter } from "../flash/slot-writer.ts";
import { ErrorCode, OtaError, errorMessage, type ErrorCodeValue } from "../errors.ts";
import { Journal, type JournalState } from "./journal.ts";
import { parseOffer, type Offer } from "./offer.ts";
import { decide } from "./policy.ts";
import type { BootReport, Phase, Progress, UpdateResult } from "./types.ts";
import { compareVersions, versionProblem } from "./version.ts";
import { printable } from "../util/printable.ts";
import { HeadCheck } from "./head-check.ts";
import { checkDeltaBase, fetchDelta, type DeltaHost } from "./delta-intake.ts";

const HASH_CHUNK = 4096;
/** AgentOptions.checkpointUnit's default. */
const DEFAULT_CHECKPOINT_UNIT = 4096;
/** Resumes from the same offset that may make no progress before the next attempt starts again
 * from byte 0 (a resume that fails the same way twice). */
const MAX_RESUME_TRIES = 2;
/** Trial boots an image gets before the agent gives up on it (power loss during a trial, or a
 * bootloader cut, aborts a trial just like a crash does). */
const MAX_STAGE_ATTEMPTS = 3;
/** The refusal of an update() or beginLocal() while another one runs. */
export const ALREADY_RUNNING = "an update is already running";

export interface AgentOptions {
  platform: Platform;
  /** The bootloader the agent stages images for (src/targets/). Default: the ESP-IDF target on
   * the platform's partitions, chip, digests and signatures, with projectName, otadataLabel and
   * rollback below. */
  target?: BootTarget;
  /** Runs on a trial boot; true confirms the new image, false rolls back. */
  selfTest?: () => boolean | Promise<boolean>;
  onProgress?: (p: Progress) => void;
  /** Default target: images must carry this esp_app_desc project name, when set. */
  projectName?: string;
  journalLabel?: string;
  /** Default target: the otadata partition's label (default "otadata"). */
  otadataLabel?: string;
  /** Default target: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE of the bootloader (default true). */
  rollback?: boolean;
  /** Stall, minimum rate, deadline, retries and backoff of the download; the defaults suit a
   * cellular modem: 30 s stall, 512 B/s over 60 s, no deadline, 8 failures in a row without
   * 4096 bytes of progress, backoff 1 s doubling up to 60 s with jitter (see DownloadTuning). */
  download?: DownloadTuning;
  /** Durable progress is recorded at least every this many bytes inside flash sectors larger than
   * it (a 128 KiB STM32F4 sector is not a cheap checkpoint unit); default 4096. A resume continues
   * inside such a sector when the bytes after its checkpoint still read erased (SlotWriter). */
  checkpointUnit?: number;
  /** Called when the download is interrupted and resumes (for logs and counters). */
  onInterruption?: (reason: string, position: number) => void;
}

/** A local upgrade in progress (Agent.beginLocal). */
export interface LocalSession {
  readonly offer: Offer;
  /** Bytes received so far. */
  readonly position: number;
  /** Writes the next bytes into the inactive slot; throws OtaError (-3 past the size, -4 flash). */
  write(chunk: Uint8Array): void;
  /** Checks the size, digests and image, then stages it and restarts (as update() does). */
  finish(): UpdateResult;
  /** Abandons the update: the journal forgets it; the slot keeps whatever was written. */
  cancel(): void;
}

/** Bytes on their way into the inactive slot (see openIntake). */
interface Intake {
  readonly position: number;
  write(chunk: Uint8Array): void;
  /** Start again at byte 0. */
  restart(): void;
  /** Flushes, compares the offer's digests, checks the image; throws OtaError(-3). */
  verify(): ImageCheck;
}

export class Agent {
  private readonly p: Platform;
  private readonly o: AgentOptions;
  private readonly bootTarget: BootTarget;
  private readonly journal: Journal;
  private lastPercent = 0;
  /** Set while an update() runs or a local session is open: one update at a time. */
  private busy = false;

  constructor(options: AgentOptions) {
    this.o = options;
    // Every partition the agent opens throws its failures as OtaError(-4) (flash-errors.ts).
    this.p = { ...options.platform, partitions: withFlashErrors(options.platform.partitions) };
    this.bootTarget = options.target ?? new EspIdfTarget({
      partitions: this.p.partitions,
      digests: this.p.digests,
      signatures: this.p.signatures,
      chip: this.p.chip,
      otadataLabel: options.otadataLabel,
      rollback: options.rollback,
      projectName: options.projectName,
    });
    this.journal = new Journal(this.p.partitions.open(options.journalLabel ?? "otajournal"));
    this.journal.load();
  }

  /** The running slot. */
  running(): SlotInfo {
    return this.bootTarget.runningSlot();
  }

  /** The slot the next update goes to, and the room an image has there. */
  target(): SlotInfo {
    return this.bootTarget.nextSlot();
  }

  runningVersion(): string {
    return this.bootTarget.runningImage().version;
  }

  /** The journaled offer whose download was interrupted, if any. */
  pending(): Offer | undefined {
    const j = this.journal.state;
    return j.phase === "download" ? j.offer : undefined;
  }

  journalState(): JournalState {
    return this.journal.state;
  }

  /** Settles what the last restart left: trial boot, staged or interrupted update. */
  async boot(): Promise<BootReport> {
    const target = this.bootTarget;
    if (target.settleAtBoot?.()) {
      const report: BootReport = { version: this.runningVersion(), slot: this.running().label, imageState: target.runningState().name };
      this.log("info", `boot: the ${target.kind} target changed what boots next; restarting`);
      this.p.system.restart();
      return report;
    }
    const running = this.running();
    const version = this.runningVersion();
    let state = target.runningState();
    const j = this.journal.state;
    if (state.trial) {
      const passed = await this.runSelfTest();
      if (passed) {
        target.confirm();
        state = target.runningState();
      } else if (target.rollbackPossible()) {
        if (j.offer) this.journal.save({ ...j, phase: "rejected" });
        target.markInvalid();
        this.p.system.restart();
        return { version, slot: running.label, imageState: "invalid" };
      } else {
        this.log("error", "self-test failed and there is no image to roll back to; staying on trial");
      }
    }
    const report: BootReport = { version, slot: running.label, imageState: state.name };
    this.log("info", `boot: running ${version} from ${running.label} (${report.imageState}), journal ${j.phase}`);
    const last = await this.settleJournal(running, version, state);
    if (last) report.lastUpdate = last;
    return report;
  }

  /** Resumes the journaled update, if one was interrupted. A journaled offer that is no longer
   * acceptable is discarded (logged), so that it is not tried again at every boot. */
  async resume(): Promise<UpdateResult | undefined> {
    const offer = this.pending();
    if (!offer) return undefined;
    try {
      parseOffer(offer);
    } catch (e) {
      const reason = e instanceof OtaError ? e.reason : errorMessage(e);
      const from = this.journal.state.fromVersion ?? "";
      this.log("warn", `journal: discarding the interrupted update to ${String(offer.version)}: ${reason}`);
      this.journal.clear();
      return { ok: false, errorCode: ErrorCode.UpdateFailed, reason, component: String(offer.component), fromVersion: from, toVersion: String(offer.version) };
    }
    return this.update(offer);
  }

  /** Applies an offer: on success the device restarts into the new image (on the host, the
   * restart port decides what happens); the result says what went wrong otherwise. */
  async update(input: unknown): Promise<UpdateResult> {
    if (this.busy) {
      this.log("warn", `update refused: ${ALREADY_RUNNING}`);
      return { ok: false, errorCode: ErrorCode.UpdateFailed, reason: ALREADY_RUNNING, component: "app", fromVersion: "", toVersion: "" };
    }
    this.busy = true;
    try {
      return await this.runUpdate(input);
    } finally {
      this.busy = false;
    }
  }

  private async runUpdate(input: unknown): Promise<UpdateResult> {
    let fromVersion = "";
    let offer: Offer | undefined;
    this.lastPercent = 0;
    try {
      offer = parseOffer(input);
      fromVersion = this.runningVersion();
      const target = this.prepare(offer, fromVersion);
      if (offer.delta) {
        const base = checkDeltaBase(this.deltaHost(), offer, fromVersion);
        await fetchDelta(this.deltaHost(), offer, target, fromVersion, base, this.resumes(offer, target));
      } else {
        await this.fetchAndVerify(offer, target, fromVersion);
      }
      this.stage(offer, target, 1);
      this.log("info", `${offer.version} verified and staged in ${target.label}; restarting`);
      this.progress("restart", offer.size, offer.size);
      this.p.system.restart();
      return result(offer, fromVersion, 0, "staged; restarting into the new image");
    } catch (e) {
      const err = failure(e);
      const code: ErrorCodeValue = err.code;
      const reason = err.reason;
      if (code === ErrorCode.VerifyFailed) this.journal.clear();
      this.log("error", `update failed (${code}): ${reason}`);
      const component = offer?.component ?? "app";
      return { ok: false, errorCode: code, reason, component, fromVersion, toVersion: offer?.version ?? "" };
    }
  }

  /** Local upgrade (QuecPython `fota` local mode): the application pushes the image it receives
   * over UART or BLE instead of a download. `input` is an offer without a URL (parseOffer's
   * local variant, all three digests required); the same checks, journal, slot writer,
   * verification and boot flag as update(). Throws OtaError when the offer is refused. */
  beginLocal(input: unknown): LocalSession {
    if (this.busy) {
      this.log("warn", `local update refused: ${ALREADY_RUNNING}`);
      throw new OtaError(ErrorCode.UpdateFailed, ALREADY_RUNNING);
    }
    this.busy = true;
    let offer: Offer;
    let fromVersion: string;
    let target: SlotInfo;
    let intake: Intake;
    try {
      offer = parseOffer(input, { local: true });
      fromVersion = this.runningVersion();
      target = this.prepare(offer, fromVersion);
      this.lastPercent = 0;
      intake = this.openIntake(offer, target, fromVersion, false);
    } catch (e) {
      this.busy = false;
      throw e;
    }
    let open = true;
    // Every way the session closes (finish, cancel, a failure) lets the next update run.
    const close = () => {
      open = false;
      this.busy = false;
    };
    const failed = (e: unknown): OtaError => {
      close();
      const err = failure(e);
      if (err.code === ErrorCode.VerifyFailed) this.journal.clear();
      this.log("error", `local update failed (${err.code}): ${err.reason}`);
      return err;
    };
    return {
      offer,
      get position() {
        return intake.position;
      },
      write: (chunk) => {
        if (!open) throw new OtaError(ErrorCode.UpdateFailed, "the local update is closed");
        if (intake.position + chunk.length > offer.size) {
          throw failed(new OtaError(ErrorCode.VerifyFailed, `more than the offer's ${offer.size} bytes`));
        }
        try {
          intake.write(chunk);
        } catch (e) {
          throw failed(e);
        }
      },
      finish: () => {
        if (!open) throw new OtaError(ErrorCode.UpdateFailed, "the local update is closed");
        try {
          if (intake.position !== offer.size) throw new OtaError(ErrorCode.VerifyFailed, `got ${intake.position} of ${offer.size} bytes`);
          intake.verify();
          this.stage(offer, target, 1);
        } catch (e) {
          const err = failed(e);
          return { ok: false, errorCode: err.code, reason: err.reason, component: offer.component, fromVersion, toVersion: offer.version };
        }
        close();
        this.progress("restart", offer.size, offer.size);
        this.p.system.restart();
        return result(offer, fromVersion, 0, "staged; restarting into the new image");
      },
      cancel: () => {
        if (!open) return;
        close();
        this.journal.clear();
      },
    };
  }

  private prepare(offer: Offer, fromVersion: string): SlotInfo {
    if (offer.component !== "app") throw new OtaError(ErrorCode.UpdateFailed, `component ${offer.component} is not handled by this agent`);
    if (this.bootTarget.runningState().trial) {
      throw new OtaError(ErrorCode.UpdateFailed, "the running image is still on trial; boot() must confirm it first");
    }
    // SemVer 2.0 only (version.ts), checked before any flash write: the image must carry the
    // offer's version byte for byte, so a version that cannot be ordered is refused here.
    const offerProblem = versionProblem(offer.version);
    if (offerProblem) throw new OtaError(ErrorCode.UpdateFailed, `offer: ${offerProblem}`);
    const runningProblem = versionProblem(fromVersion);
    if (runningProblem) throw new OtaError(ErrorCode.UpdateFailed, `running image: ${runningProblem}; versions cannot be ordered`);
    const order = compareVersions(offer.version, fromVersion);
    if (order <= 0) {
      throw new OtaError(ErrorCode.UpdateFailed, `version ${offer.version} is not newer than the running ${fromVersion}`);
    }
    const target = this.target();
    const decision = decide(offer, {
      batteryPercent: this.p.system.batteryPercent(),
      rssi: this.p.system.rssi(),
      freeSpace: target.size,
    });
    if (!decision.accept) throw new OtaError(ErrorCode.UpdateFailed, decision.reason);
    return target;
  }

  /** Whether the journal holds an interrupted download of this offer into this slot. */
  private resumes(offer: Offer, target: SlotInfo): boolean {
    const j = this.journal.state;
    return j.phase === "download" && j.slot === target.label && sameOffer(j.offer, offer);
  }

  /** What a delta update (delta-intake.ts) uses of the agent. */
  private deltaHost(): DeltaHost {
    return {
      platform: this.p,
      target: this.bootTarget,
      journal: this.journal,
      download: this.o.download,
      onInterruption: this.o.onInterruption,
      progress: (phase, bytes, total) => this.progress(phase, bytes, total),
      log: (level, message) => this.log(level, message),
      hashPrefix: (part, end, digests, total) => this.hashPrefix(part, end, digests, total),
      verifyImage: (part, offer) => this.verifyImage(part, offer),
    };
  }

  private async fetchAndVerify(offer: Offer, target: SlotInfo, fromVersion: string): Promise<ImageCheck> {
    const intake = this.openIntake(offer, target, fromVersion, this.resumes(offer, target));
    const resumedFrom = intake.position;
    const sink: DownloadSink = {
      get position() {
        return intake.position;
      },
      restart: (validator) => {
        intake.restart();
        this.journal.save({ ...this.journal.state, validator, progress: 0, resumeAt: undefined, resumeTries: undefined });
      },
      setValidator: (validator) => {
        if (validator !== this.journal.state.validator) this.journal.save({ ...this.journal.state, validator });
      },
      data: (chunk) => intake.write(chunk),
    };
    try {
      await download(this.p.http, this.p.clock, sink, {
        url: offer.url,
        size: offer.size,
        validator: resumedFrom > 0 ? this.journal.state.validator : undefined,
        ...this.o.download,
        onInterruption: this.o.onInterruption,
      });
    } catch (e) {
      // A download failure (-2) is the network's: the slot and the journal are sound, and starting
      // again from byte 0 would not help. It does not count as a failed resume.
      const s = this.journal.state;
      if (resumedFrom > 0 && e instanceof OtaError && e.code === ErrorCode.DownloadFailed && s.resumeAt === resumedFrom && (s.resumeTries ?? 0) > 0) {
        this.journal.save({ ...s, resumeTries: (s.resumeTries ?? 0) - 1 });
      }
      throw e;
    }
    return intake.verify();
  }

  /** Opens the inactive slot for an image: the journal names it (unless resuming), no boot record
   * may select the slot, the durable prefix is hashed again, and every complete sector becomes a
   * checkpoint. Shared by downloads and local upgrades. `resume`: the journal holds a download of
   * this offer into this slot; where it continues is resumePoint's decision (byte 0 included). */
  private openIntake(offer: Offer, target: SlotInfo, fromVersion: string, resume: boolean): Intake {
    const part = this.p.partitions.open(target.label);
    const writer = new SlotWriter(part, this.o.checkpointUnit ?? DEFAULT_CHECKPOINT_UNIT);
    const start = resume ? this.resumePoint(writer, offer) : 0;
    this.log("info", start > 0
      ? `resuming ${offer.version} into ${target.label} from the journal at byte ${start} of ${offer.size}`
      : `writing ${offer.version} (${offer.size} bytes) into ${target.label} from byte 0`);
    if (start === 0) this.journal.save({ phase: "download", offer, fromVersion, slot: target.label, progress: 0 });
    this.bootTarget.releaseSlot(target.label);
    const digests = new ImageDigests(this.p.digests);
    this.progress("check", 0, offer.size);
    this.hashPrefix(part, start, digests, offer.size);
    writer.seek(start);
    let durable = start;
    writer.onSectorDone = (end) => {
      if (end <= durable) return;
      durable = end;
      this.journal.checkpoint(Math.min(end, offer.size));
    };
    // The image's head is checked as soon as it is in (BootTarget.checkHead): a wrong image is
    // refused after its first bytes, not after the whole download.
    const head = new HeadCheck(this.bootTarget, offer);
    if (start > 0) head.feed(part.read(0, Math.min(start, this.bootTarget.headSize)));
    return {
      get position() {
        return writer.position;
      },
      write: (chunk) => {
        head.feed(chunk);
        digests.update(chunk);
        writer.write(chunk);
        this.progress("download", writer.position, offer.size);
      },
      restart: () => {
        head.reset();
        digests.reset();
        writer.seek(0);
        durable = 0;
      },
      verify: () => {
        writer.flush();
        const mismatch = digestMismatch(offer, digests.finish());
        if (mismatch) throw new OtaError(ErrorCode.VerifyFailed, mismatch);
        return this.verifyImage(part, offer);
      },
    };
  }

  /** Where the journaled download continues: the start of the sector holding its durable
   * progress (the rest of that sector is fetched again, and the prefix re-hash covers exactly the
   * bytes below it, all in flash). Returns 0, with a log line, when the progress cannot belong to
   * this offer and slot, or when MAX_RESUME_TRIES resumes from the same offset made no progress.
   * Otherwise the attempt is counted in the journal before anything else happens, so that a cut,
   * a crash or an error during the resume counts too. */
  private resumePoint(writer: SlotWriter, offer: Offer): number {
    const j = this.journal.state;
    const p = j.progress;
    const slotSize = writer.part.geometry.size;
    const hex = (n: number) => `0x${n.toString(16)}`;
    if (!Number.isSafeInteger(p) || p < 0 || p > offer.size || p > slotSize) {
      this.log("warn", `journal: progress ${String(p)} is outside the ${offer.size}-byte offer or the ${slotSize}-byte slot ${writer.part.label}; discarding it and starting again from byte 0`);
      return 0;
    }
    const start = writer.resumeStart(p);
    if (start !== p) this.log("info", `journal: progress ${hex(p)} is not on a sector boundary; resuming at ${hex(start)}`);
    if (start === 0) return 0;
    const tries = j.resumeAt === start ? (j.resumeTries ?? 0) : 0;
    if (tries >= MAX_RESUME_TRIES) {
      this.log("warn", `journal: ${tries} resumes at ${hex(start)} made no progress; starting again from byte 0`);
      return 0;
    }
    this.journal.save({ ...j, resumeAt: start, resumeTries: tries + 1 });
    this.log("info", `journal: resuming the download at ${hex(start)} of ${offer.size} bytes`);
    return start;
  }

  /** Re-hashes the durable prefix from flash: native digests cannot export their state. */
  private hashPrefix(part: FlashPartition, end: number, digests: ImageDigests, total: number): void {
    for (let at = 0; at < end; at += HASH_CHUNK) {
      digests.update(part.read(at, Math.min(HASH_CHUNK, end - at)));
      this.progress("check", Math.min(at + HASH_CHUNK, end), total);
    }
  }

  /** The target's whole check of the written image (BootTarget.checkImage): anything it throws
   * that is not an OtaError is a verification failure. */
  private verifyImage(part: FlashPartition, offer: Offer): ImageCheck {
    this.progress("verify", 0, offer.size);
    let check: ImageCheck;
    try {
      check = this.bootTarget.checkImage((at, n) => part.read(at, n), offer);
    } catch (e) {
      throw e instanceof OtaError ? e : new OtaError(ErrorCode.VerifyFailed, errorMessage(e));
    }
    this.progress("verify", offer.size, offer.size);
    return check;
  }

  private stage(offer: Offer, target: SlotInfo, attempts: number): void {
    this.progress("stage", offer.size, offer.size);
    this.journal.save({ ...this.journal.state, phase: "staging", progress: offer.size, attempts });
    try {
      this.bootTarget.stage(target.label);
    } catch (e) {
      if (e instanceof RewriteSlot) {
        // The download resumes from e.from (resumePoint): the sector is erased and written again.
        this.log("warn", `stage: ${e.reason}`);
        this.journal.save({ ...this.journal.state, phase: "download", progress: Math.min(e.from, offer.size), attempts: undefined, resumeAt: undefined, resumeTries: undefined });
      }
      throw e;
    }
    this.journal.save({ ...this.journal.state, phase: "staged" });
  }

  /** What the journal says happened before this boot; finishes a stage a cut interrupted. */
  private async settleJournal(running: SlotInfo, version: string, state: TrialState): Promise<UpdateResult | undefined> {
    const j = this.journal.state;
    const offer = j.offer;
    if (j.phase === "idle" || !offer) return undefined;
    const from = j.fromVersion ?? "";
    // The offered image runs: from the slot it was written to (ESP-IDF, dual bank), or from the
    // slot the bootloader copied it into (MCUboot swaps it into the primary). No other image
    // carries the offer's version: prepare() refuses an offer that is not newer than the running.
    if (version === offer.version) {
      if (state.confirmed) {
        this.journal.clear();
        return result(offer, from, 0, `running ${version} from ${running.label}, confirmed`);
      }
      return undefined;
    }
    if (j.phase === "rejected") {
      this.journal.clear();
      return result(offer, from, ErrorCode.UpdateFailed, `${offer.version} failed its self-test; rolled back to ${version}`);
    }
    if (j.phase === "download") {
      // An interrupted download: update() or resume() continues it, unless it can never be.
      const why = this.unresumable(j, version);
      if (why) {
        this.log("warn", `journal: discarding the interrupted download of ${offer.version}: ${why}`);
        this.journal.clear();
      }
      return undefined;
    }
    // Staged, or staging, and the old image runs: the boot flag was half written, or the trial
    // was aborted (a cut during the trial or in the bootloader's own rewrite looks like a crash).
    // Check the slot again and give the image another trial, a bounded number of times.
    const attempts = j.attempts ?? 1;
    if (j.phase === "staged" && attempts >= MAX_STAGE_ATTEMPTS) {
      this.journal.clear();
      return result(offer, from, ErrorCode.UpdateFailed, `${offer.version} did not confirm its trial boot after ${attempts} attempts; running ${version}`);
    }
    if (j.phase === "staging" || j.phase === "staged") {
      const target = this.bootTarget.slots().find((s) => s.label === j.slot);
      if (!target || target.label === running.label) {
        this.journal.clear();
        return result(offer, from, ErrorCode.UpdateFailed, "journal names no usable slot");
      }
      try {
        const part = this.p.partitions.open(target.label);
        const digests = new ImageDigests(this.p.digests);
        this.hashPrefix(part, offer.size, digests, offer.size);
        const mismatch = digestMismatch(offer, digests.finish());
        if (mismatch) throw new OtaError(ErrorCode.VerifyFailed, mismatch);
        this.verifyImage(part, offer);
        this.stage(offer, target, j.phase === "staged" ? attempts + 1 : attempts);
      } catch (e) {
        if (e instanceof RewriteSlot) return undefined; // the journal holds the download again
        this.journal.clear();
        const err = failure(e);
        return result(offer, from, err.code, err.reason);
      }
      this.p.system.restart();
    }
    return undefined;
  }

  /** Why a journaled download cannot continue on this boot, or "" when it can. */
  private unresumable(j: JournalState, running: string): string {
    const target = this.target();
    if (j.slot !== target.label) return `it was written into ${String(j.slot)}, the next update goes to ${target.label}`;
    if (j.offer!.delta && j.offer!.delta.baseVersion !== running) return `its patch applies to ${j.offer!.delta.baseVersion}, the device runs ${running}`;
    try {
      if (compareVersions(j.offer!.version, running) <= 0) return `${j.offer!.version} is not newer than the running ${running}`;
    } catch (e) {
      return errorMessage(e);
    }
    return "";
  }

  private async runSelfTest(): Promise<boolean> {
    if (!this.o.selfTest) return true;
    try {
      return (await this.o.selfTest()) === true;
    } catch (e) {
      this.log("error", `self-test threw: ${errorMessage(e)}`);
      return false;
    }
  }

  private progress(phase: Phase, bytes: number, total: number): void {
    if (!this.o.onProgress) return;
    const weight: Record<Phase, [number, number]> = {
      check: [0, 0], download: [0, 90], verify: [90, 97], stage: [97, 99], restart: [99, 100], confirm: [100, 100], rollback: [100, 100],
    };
    const [lo, hi] = weight[phase];
    const percent = Math.max(this.lastPercent, Math.floor(lo + ((hi - lo) * bytes) / Math.max(1, total)));
    this.lastPercent = percent;
    this.o.onProgress({ phase, bytes, total, percent });
  }

  private log(level: "info" | "warn" | "error", message: string): void {
    this.p.log?.log(level, message);
  }
}

/** The same image (the URL may change between offers: the bytes are what matter). */
function sameOffer(a: Offer | undefined, b: Offer): boolean {
  return !!a && a.size === b.size && a.sha256 === b.sha256 && a.version === b.version && a.component === b.component &&
    a.delta?.size === b.delta?.size && a.delta?.baseVersion === b.delta?.baseVersion;
}

/** The code of a failure: an OtaError keeps its own (flash partitions throw -4 through
 * withFlashErrors, the downloader -2), a slot writer error is -4, anything else was not expected
 * and is -1 with its message. */
function failure(e: unknown): OtaError {
  if (e instanceof OtaError) return e;
  if (e instanceof FlashWriteError) return new OtaError(ErrorCode.FlashWriteFailed, `flash: ${e.message}`);
  return new OtaError(ErrorCode.UpdateFailed, `unexpected: ${errorMessage(e)}`);
}

function result(offer: Offer, from: string, code: 0 | ErrorCodeValue, reason: string): UpdateResult {
  return { ok: code === 0, errorCode: code, reason: printable(reason), component: offer.component, fromVersion: from, toVersion: offer.version };
}
