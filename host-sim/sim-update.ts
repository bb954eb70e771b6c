// `xs-ota sim update`: a whole update on a simulated board. The board runs 1.0.0 (or whatever
// --flash holds), the local server offers 2.0.0 (or one minor above a running 2.0.0 or newer, or
// --to-version), the agent downloads, verifies and stages it,
// the simulated bootloader reboots into it on trial, and the agent confirms it. Faults: server
// corruption and connection faults, power loss after N received bytes, power cuts at flash
// operation K (before / torn-write / torn-erase), a failing self-test, an oversize offer.

import { Agent } from "../src/agent/agent.ts";
import type { BootReport, Phase, Progress, UpdateResult } from "../src/agent/types.ts";
import { boardProfile } from "./boards/profiles.ts";
import { SimBoard } from "./board.ts";
import { LayoutBoard, type LayoutBoot } from "./layout-board.ts";
import { buildStm32Image } from "./stm32-images.ts";
import type { KeyObject } from "node:crypto";
import { buildImageOfSize, buildTestImage, type TestImageOptions } from "./image-builder.ts";
import { UpdateServer, type Build, type ServerFaults, type OfferJson } from "./server.ts";
import { createPatch, type PatchCompression } from "./delta/create-patch.ts";
import { toHex } from "../src/util/bytes.ts";
import { createHash } from "node:crypto";
import { HttpMeter } from "./http-meter.ts";
import { nodeHttp } from "./node-http.ts";
import { NodeClock } from "./node-clock.ts";
import { NoBootableImage, type BootOutcome } from "./bootloader/esp-idf.ts";
import { PowerCut, type CutMode } from "./flash/nor-flash.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";
import { digestsOf } from "./server.ts";
import { XsBoardEngine } from "./xs/sim-engine.ts";
import { QemuBoardEngine, type QemuEngineOptions } from "./qemu/sim-engine.ts";
import { peekBoot } from "./board-show.ts";
import { compareVersions } from "../src/agent/version.ts";
import type { RuntimeArgs, RuntimeResult } from "./xs/runtime-protocol.ts";
import { sbv2SignImage, type Sbv2SigningKey } from "./sbv2-sign.ts";

export interface SimUpdateOptions {
  board?: string;
  /** Where the runtime runs: V8 in this process, the XS engine in an xsnap worker (one fresh
   * worker per power-on, see host-sim/xs/sim-engine.ts), or XS on the emulated Cortex-M4 board
   * (one QEMU process per power-on, see host-sim/qemu/sim-engine.ts). */
  engine?: "node" | "xs" | "qemu";
  /** Engine "xs": which Moddable flash module the platform layer uses (default "auto":
   * embedded:storage/flash; "flash" is the legacy module). */
  flashModule?: "auto" | "embedded:storage/flash" | "flash";
  /** Engine "qemu": the firmware's RAM budget and QEMU options (host-sim/qemu/sim-engine.ts). */
  qemu?: QemuEngineOptions;
  /** Flash image file: created with 1.0.0 if missing, reopened otherwise. */
  flash?: string;
  /** Version of the factory image of a new board (default 1.0.0). */
  fromVersion?: string;
  /** Version the server offers: default 2.0.0, or one minor above the running version when the
   * board already runs 2.0.0 or newer (a saved board updated again). */
  toVersion?: string;
  /** Size of the offered image in bytes, any size from 1 KiB (a valid image, then size % 16 trailing bytes). */
  size?: number;
  /** Which build of the target version the server serves (a new build has a new ETag). */
  build?: number;
  /** Changes the server's ETag without changing the bytes (a redeployed server). */
  etagSuffix?: string;
  /** Size of the factory 1.0.0 image. */
  baseSize?: number;
  /** Fields of the served image: header (chip id, revision range, entry address) and the version
   * its app descriptor carries (default toVersion, which the offer names). */
  /** Secure Boot V2 keys that sign the served image (host-sim/sbv2-sign.ts): its signature
   * sector follows the image padded to 4 KiB. */
  signKeys?: readonly Sbv2SigningKey[];
  image?: Partial<Pick<TestImageOptions, "chipId" | "minChipRevFull" | "maxChipRevFull" | "entryAddr" | "version">>;
  /** A delta update: the server makes a detools patch from the running image to the target and
   * offers it as a delta package (host-sim/delta/create-patch.ts); `espHeader` puts
   * esp_delta_ota's 64-byte header in front. */
  delta?: {
    compression?: PatchCompression; espHeader?: boolean;
    /** Declares the patch as made from this version instead of the running one (a store whose
     * patch is for another version): with --protocol the device then gets the full image. */
    baseVersion?: string;
  };
  /** STM32 boards: the key the served image is signed with (default the boards' own key,
   * host-sim/stm32-images.ts SIM_BOARD_KEY; null: unsigned) and its SEC_CNT. */
  signKey?: KeyObject | null;
  securityCounter?: number;
  /** STM32 boards: the factory image's SEC_CNT (the anti-rollback floor of the update). */
  fromSecurityCounter?: number;
  /** STM32 boards: flips this byte of the served image after it was signed; the offer carries
   * the digests of the changed bytes (a server in an attacker's hands). */
  tamperByte?: number;
  corruptByte?: number;
  failSelfTest?: boolean;
  oversize?: boolean;
  dropAt?: number[];
  rebootAt?: number[];
  ignoreRange?: boolean;
  changeEtagAt?: number;
  stallAt?: number;
  httpErrors?: Map<number, number>;
  cutAt?: number[];
  cutMode?: CutMode;
  seed?: number;
  onProgress?: (p: Progress) => void;
  /** Called after every boot with the booted slot and its version (invariant checks). */
  onBoot?: (info: BootInfo) => void;
  /** Stall timeout and backoff of the agent (short in the simulator). */
  stallMs?: number;
  backoffMs?: number;
  maxBoots?: number;
  /** Rewrites the server's offer before the device sees it (digest-mismatch tests). */
  mutateOffer?: (offer: OfferJson) => OfferJson;
  /** Reuse an existing board instead of creating one (torture harness). */
  existing?: AnyBoard;
  /** Protocol dialects (host-sim/cloud/sim-protocol.ts): called after every agent.boot() that
   * did not restart at once, with its report, before the offer (reports lastUpdate and the
   * running version to the simulated cloud). */
  onBootReport?: (report: BootReport, agent: Agent) => void | Promise<void>;
  /** Protocol dialects: delivers the server's offer the dialect's way and applies it, in place
   * of agent.update(offer); resolves with the update's result (or a refusal). */
  deliver?: (agent: Agent, offer: OfferJson, delta?: DeltaAlternatives) => Promise<UpdateResult>;
  log?: (line: string) => void;
}

/** A delta update's other ways: the full image's offer (served next to the patch) and the
 * patch's own digests, for the dialect clouds, which offer the patch to a device running its base
 * version and the full image to any other. */
export interface DeltaAlternatives {
  full: OfferJson;
  patch: { md5: string; crc32: string; sha256: string };
}

/** An ESP board (board.ts) or an STM32 one (layout-board.ts). */
export type AnyBoard = SimBoard | LayoutBoard;

export interface BootInfo {
  board: AnyBoard;
  slot: string;
  version: string;
  fellBack: boolean;
}

export interface SimUpdateReport {
  ok: boolean;
  errorCode: number;
  reason: string;
  fromVersion: string;
  toVersion: string;
  bootedSlot: string;
  bootedVersion: string;
  imageState: string;
  bytesDownloaded: number;
  bytesFetchedAgain: number;
  flashErases: number;
  flashWrites: number;
  interruptions: number;
  boots: number;
  seconds: number;
  /** SHA-256 of the offered image and of the same number of bytes in the booted slot. */
  imageSha256: string;
  slotSha256: string;
  /** Delta updates: bytes of the patch the server made (bytesDownloaded counts what was
   * fetched, patch bytes fetched again included). */
  patchBytes?: number;
  /** Fault flags that did nothing in this run (a cut that never fired, ...). */
  warnings: string[];
}

export const DEFAULT_SIZE = 1024 * 1024;
/** The agent's stall timeout in the simulator: long enough that a loaded CI machine does not
 * see stalls the server did not inject. */
export const SIM_STALL_MS = 5000;

export async function simUpdate(o: SimUpdateOptions = {}): Promise<SimUpdateReport> {
  const t0 = performance.now();
  if ((o.engine === "xs" || o.engine === "qemu") && (o.onBootReport || o.deliver)) {
    throw new Error(`sim update: the onBootReport and deliver hooks drive the agent in Node; engine ${o.engine} does not support them`);
  }
  const prof = boardProfile(o.board ?? o.existing?.profile.name ?? "esp32-4mb");
  const size = o.size ?? DEFAULT_SIZE;
  if (o.engine === "qemu" && (prof.target === "mcuboot" || prof.target === "stm32-dualbank")) {
    throw new Error(`sim update: engine qemu runs the esp32-4mb board; ${prof.name} runs on engine node or xs`);
  }
  const board: AnyBoard = o.existing ?? (o.flash && (await exists(o.flash))
    ? (prof.target === "mcuboot" || prof.target === "stm32-dualbank" ? LayoutBoard.open(prof, o.flash) : SimBoard.open(prof, o.flash))
    : (prof.target === "mcuboot" || prof.target === "stm32-dualbank"
      ? LayoutBoard.create(prof, buildStm32Image({ format: prof.target === "mcuboot" ? "mcuboot" : "bank", version: o.fromVersion ?? "1.0.0", size: o.baseSize ?? 64 * 1024, securityCounter: o.fromSecurityCounter }), o.flash)
      : SimBoard.create(prof, buildTestImage({ version: o.fromVersion ?? "1.0.0", size: o.baseSize ?? 64 * 1024 }), o.flash)));

  // The version the board runs now, as the bootloader would pick it (on a copy of the flash).
  const fromVersion = runningVersion(board) ?? o.fromVersion ?? "1.0.0";
  const toVersion = o.toVersion ?? defaultTarget(fromVersion);
  o = { ...o, toVersion };
  const seed = o.seed ?? 1;
  if (o.cutAt?.length) board.armCuts(o.cutAt.map((at) => ({ at, mode: o.cutMode ?? "before", seed })));

  const buildId = o.build ?? 1;
  // The served image (and its next build): the board's test image; on ESP boards signed when
  // keys are given, on STM32 boards signed with the board key (or signKey) and tampered on request.
  const served = (id: number): Uint8Array => {
    if (board instanceof LayoutBoard) {
      const bytes = buildStm32Image({ format: board.imageFormat, version: toVersion, size, build: id, key: o.signKey, securityCounter: o.securityCounter });
      if (o.tamperByte !== undefined) bytes[o.tamperByte % bytes.length] ^= 0x01;
      return bytes;
    }
    const bytes = buildImageOfSize({ version: toVersion, ...o.image, size, build: id });
    return o.signKeys?.length ? sbv2SignImage(bytes, o.signKeys).signed : bytes;
  };
  const image = served(buildId);
  if (o.delta && board instanceof LayoutBoard) throw new Error(`sim update: --delta runs on the ESP boards; ${prof.name} takes full images`);
  const base = o.delta && !(board instanceof LayoutBoard) ? runningImage(board) : undefined;
  const pack = (id: number, bytes: Uint8Array): Build => base
    ? { id, bytes: createPatch(base.bytes, bytes, { compression: o.delta?.compression, espBaseSha256: o.delta?.espHeader ? base.sha256 : undefined }), image: bytes }
    : { id, bytes };
  const first = pack(buildId, image);
  const faults: ServerFaults = {
    corruptByte: o.corruptByte, ignoreRange: o.ignoreRange,
    changeEtagAt: o.changeEtagAt, stallAt: o.stallAt, httpErrors: o.httpErrors, etagSuffix: o.etagSuffix,
  };
  const server = new UpdateServer(
    {
      version: toVersion,
      build: first,
      nextBuild: o.changeEtagAt !== undefined ? pack(buildId + 1, served(buildId + 1)) : undefined,
      delta: base ? { baseVersion: o.delta?.baseVersion ?? fromVersion, baseSha256: toHex(base.sha256) } : undefined,
    },
    faults,
  );
  await server.listen();
  if (o.oversize) {
    const room = board instanceof LayoutBoard ? board.nextSlotSize() : findPartition(board.entries, "ota_1")?.size ?? 0;
    server.offerSize = room + 0x1000;
  }
  const offer = o.mutateOffer ? o.mutateOffer(server.offer()) : server.offer();
  const fullOffer = server.fullOffer();
  const patchDigests = server.patchDigests();
  const alternatives: DeltaAlternatives | undefined = fullOffer && patchDigests ? { full: fullOffer, patch: patchDigests } : undefined;
  const meter = new HttpMeter();
  meter.rebootAt = [...(o.rebootAt ?? [])];
  meter.dropAt = [...(o.dropAt ?? [])];
  const log = o.log ?? (() => undefined);

  let interruptions = 0;
  let offered = false;
  let outcome: UpdateResult | undefined;
  let boots = 0;
  let bootedSlot = "";
  let bootedVersion = "";
  let imageState = "none";
  let clock = new NodeClock(seed);
  let xs: XsBoardEngine | QemuBoardEngine | undefined;
  try {
    // Engines "xs" and "qemu" run the same runtime bundle (one fresh worker / QEMU process per
    // power-on) and are driven the same way below (xsPowerOn).
    if (o.engine === "xs") xs = await XsBoardEngine.start(board, { network: nodeHttp, wrap: (port) => meter.wrap(port) }, log);
    if (o.engine === "qemu") xs = await QemuBoardEngine.start(board as SimBoard, { network: nodeHttp, wrap: (port) => meter.wrap(port) }, log, o.qemu);
    for (; boots < (o.maxBoots ?? 40); ) {
      boots++;
      clock.stopAll();
      clock = new NodeClock(seed + boots);
      meter.revive();
      let powerLost!: () => void;
      const lost = new Promise<"lost">((resolve) => (powerLost = () => resolve("lost")));
      meter.onPowerLoss = () => {
        if (xs) {
          // The chunk handed over before the loss is still delivered, as in Node it is handled
          // synchronously; then the worker stops.
          xs.haltAfterQueued("power lost");
          return;
        }
        board.flash.powerOff();
        powerLost();
      };
      const onInterruption = () => void interruptions++;
      const step = xs ? await xsPowerOn(xs) : await powerOn(board, async (agent) => {
        const r = await agent.boot();
        bootedSlot = r.slot;
        bootedVersion = r.version;
        imageState = r.imageState;
        o.onBoot?.({ board, slot: r.slot, version: r.version, fellBack: false });
        if (board.restartRequested) return "restart";
        await o.onBootReport?.(r, agent);
        if (r.lastUpdate) {
          outcome = r.lastUpdate;
          return "done";
        }
        if (offered && r.version === toVersion && settledState(r.imageState)) {
          // The report of the update was lost with a cut; the version the device reports says it.
          outcome = { ok: true, errorCode: 0, reason: `device reports ${r.version} confirmed`, component: "app", fromVersion, toVersion };
          return "done";
        }
        // The cloud offers again after every boot until the update settles (the device reports
        // its old version); the agent resumes from its journal when the offer names the same image.
        offered = true;
        const u = await Promise.race([o.deliver ? o.deliver(agent, offer, alternatives) : agent.update(offer), lost]);
        if (u === "lost") return "lost";
        if (board.restartRequested) return "restart";
        if (!u.ok && !board.flash.isDead) {
          outcome = u;
          return "done";
        }
        return board.flash.isDead ? "lost" : "done";
      }, { meter, clock, o, log, onInterruption });
      if (step === "done") break;
      if (step === "lost") {
        interruptions++;
        log(`power lost (boot ${boots}); rebooting`);
      }
      board.powerCycle();
    }
  } catch (e) {
    if (!(e instanceof NoBootableImage)) throw e;
    outcome = { ok: false, errorCode: -1, reason: `BRICKED: ${e.message}`, component: "app", fromVersion, toVersion };
    bootedSlot = "";
    bootedVersion = "";
    imageState = "none";
  } finally {
    clock.stopAll();
    await xs?.close();
    await server.close();
  }
  /** One power-on on engine "xs": the bootloader here, then the runtime in a fresh XS worker. The
   * same decisions as the Node closure above, from the runtime's boot event and result. */
  async function xsPowerOn(engine: XsBoardEngine | QemuBoardEngine): Promise<Step> {
    let boot: BootOutcome | LayoutBoot;
    try {
      boot = board.boot();
    } catch (e) {
      if (e instanceof PowerCut || board.flash.isDead) return "lost";
      throw e;
    }
    for (const line of boot.log) log(`bootloader: ${line}`);
    const booted = "image" in boot ? boot.image.appDesc.version : boot.version;
    let reported = false;
    const settledVersion = offered ? toVersion : undefined;
    engine.onEvent = (e) => {
      switch (e.kind) {
        case "boot": {
          const r = e.report;
          reported = true;
          bootedSlot = r.slot;
          bootedVersion = r.version;
          imageState = r.imageState;
          o.onBoot?.({ board, slot: r.slot, version: r.version, fellBack: false });
          const settled = offered && r.version === toVersion && settledState(r.imageState);
          if (!r.lastUpdate && !settled) offered = true;
          break;
        }
        case "progress":
          o.onProgress?.({ phase: e.phase as Phase, bytes: e.bytes, total: e.total, percent: e.percent });
          break;
        case "interruption":
          interruptions++;
          log(`download interrupted, resuming at ${e.at}: ${e.reason}`);
          break;
        case "log":
          log(`${e.level}: ${e.message}`);
          break;
      }
    };
    const args: RuntimeArgs = {
      layout: board.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
      runningSlot: boot.slot,
      chip: board instanceof SimBoard ? board.chip() : undefined,
      offer,
      settledVersion,
      failSelfTest: o.failSelfTest === true,
      toVersion,
      battery: board.readings.battery,
      download: { stallMs: o.stallMs ?? SIM_STALL_MS, backoffMs: o.backoffMs ?? 20, backoffMaxMs: 200 },
      progress: o.onProgress !== undefined,
      verbose: o.log !== undefined,
    };
    if (o.flashModule) args.flashModule = o.flashModule;
    if (board instanceof LayoutBoard) {
      args.target = board.runtimeTarget();
      args.writeAlign = board.profile.writeAlign;
      const map = board.sectorMap;
      if (map) args.sectorMap = map;
    }
    const r = await engine.powerOn(args);
    switch (r.outcome) {
      case "restart":
        if (!reported) {
          // boot() restarted (rollback, or a re-stage): Node reports this boot before its restart.
          bootedSlot = boot.slot;
          bootedVersion = booted;
          o.onBoot?.({ board, slot: boot.slot, version: booted, fellBack: false });
        }
        return "restart";
      case "halted":
        return "lost";
      case "error":
        throw new Error(`engine ${o.engine}: ${r.error?.name}: ${r.error?.message}${r.error?.stack ? `\n${r.error.stack}` : ""}`);
      case "done": {
        const v = r.value as RuntimeResult;
        if (v.boot.lastUpdate) outcome = v.boot.lastUpdate;
        else if (!v.update) outcome = { ok: true, errorCode: 0, reason: `device reports ${v.boot.version} confirmed`, component: "app", fromVersion, toVersion };
        else if (!v.update.ok) outcome = v.update;
        return "done";
      }
    }
  }

  const warnings: string[] = [];
  const ops = board.flash.ops;
  for (const k of o.cutAt ?? []) {
    if (k > ops) warnings.push(`--cut-at ${k}: the cut never fired: the run had only ${ops} flash operations`);
  }
  for (const b of meter.dropAt) {
    const why = b >= first.bytes.length ? `the ${base ? "patch" : "image"} has ${first.bytes.length} bytes` : `no later response delivered image byte ${b}`;
    warnings.push(`--drop-at ${b}: never fired: ${why}`);
  }
  for (const t of meter.rebootAt) {
    warnings.push(`--reboot-at ${t}: never fired: the board received ${meter.received} bytes in all`);
  }
  const slotBytes = bootedSlot ? board.partition(bootedSlot).read(0, Math.min(image.length, board.partition(bootedSlot).geometry.size)) : new Uint8Array();
  const report: SimUpdateReport = {
    ok: outcome?.ok ?? false,
    errorCode: outcome?.errorCode ?? -1,
    reason: outcome?.reason ?? `no outcome after ${boots} boots`,
    // The update the outcome is about (a saved board may finish one a previous run started).
    fromVersion: outcome?.fromVersion || fromVersion,
    toVersion: outcome?.toVersion || toVersion,
    bootedSlot,
    bootedVersion,
    imageState,
    bytesDownloaded: meter.received,
    bytesFetchedAgain: meter.fetchedAgain(),
    flashErases: board.flash.counters.erases,
    flashWrites: board.flash.counters.writes,
    interruptions,
    boots,
    seconds: (performance.now() - t0) / 1000,
    imageSha256: digestsOf(image).sha256,
    slotSha256: digestsOf(slotBytes).sha256,
    warnings,
  };
  if (base) report.patchBytes = first.bytes.length;
  if (!o.existing) board.flash.close();
  return report;
}

type Step = "done" | "restart" | "lost";

interface PowerOnContext {
  meter: HttpMeter;
  clock: NodeClock;
  o: SimUpdateOptions;
  log: (line: string) => void;
  onInterruption: () => void;
}

/** An image state that needs nothing more: ESP-IDF "valid" or "undefined" (no rollback), MCUboot
 * and dual bank "confirmed". */
function settledState(name: string): boolean {
  return name === "valid" || name === "undefined" || name === "confirmed";
}

/** One power-on: bootloader, then the agent, until it restarts, loses power or finishes. */
async function powerOn(board: AnyBoard, run: (agent: Agent) => Promise<Step>, ctx: PowerOnContext): Promise<Step> {
  try {
    const boot = board.boot();
    const bootedVersion = "image" in boot ? boot.image.appDesc.version : boot.version;
    for (const line of boot.log) ctx.log(`bootloader: ${line}`);
    const failSelfTest = ctx.o.failSelfTest === true;
    const platform = board.platform(ctx.meter.wrap(nodeHttp), ctx.clock, { log: (level, m) => ctx.log(`${level}: ${m}`) });
    const agent = new Agent({
      platform,
      ...(board instanceof LayoutBoard ? { target: board.target(platform), journalLabel: board.journalLabel } : {}),
      selfTest: () => !(failSelfTest && bootedVersion === (ctx.o.toVersion ?? "2.0.0")),
      onProgress: ctx.o.onProgress,
      download: { stallMs: ctx.o.stallMs ?? SIM_STALL_MS, backoffMs: ctx.o.backoffMs ?? 20, backoffMaxMs: 200 },
      onInterruption: (reason, at) => {
        ctx.onInterruption();
        ctx.log(`download interrupted, resuming at ${at}: ${reason}`);
      },
    });
    return await run(agent);
  } catch (e) {
    if (e instanceof PowerCut || board.flash.isDead) return "lost";
    throw e;
  }
}

/** The image the bootloader would boot next and its SHA-256 as esp_partition_get_sha256 gives it
 * (the appended hash): the base of a delta package. */
function runningImage(board: SimBoard): { bytes: Uint8Array; sha256: Uint8Array } {
  const boot = peekBoot(board);
  const bytes = board.partition(boot.slot).read(0, boot.image.length);
  const sha256 = boot.image.hashAppended ? bytes.slice(bytes.length - 32) : new Uint8Array(createHash("sha256").update(bytes).digest());
  return { bytes, sha256 };
}

/** The app version the bootloader would boot next, or undefined when nothing boots. */
function runningVersion(board: AnyBoard): string | undefined {
  try {
    return board instanceof LayoutBoard ? board.peek().version : peekBoot(board).image.appDesc.version;
  } catch (e) {
    if (e instanceof NoBootableImage) return undefined;
    throw e;
  }
}

/** 2.0.0 for a board older than that; otherwise one minor above the running version. */
export function defaultTarget(running: string): string {
  if (compareVersions(running, "2.0.0") < 0) return "2.0.0";
  const parts = running.split("-")[0].split(".");
  const major = Number(parts[0]);
  const minor = Number(parts[1] ?? 0);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) {
    throw new Error(`the board runs ${JSON.stringify(running)}: name the version to offer with --to-version`);
  }
  return `${major}.${minor + 1}.0`;
}

async function exists(path: string): Promise<boolean> {
  const fs = await import("node:fs");
  return fs.existsSync(path);
}
