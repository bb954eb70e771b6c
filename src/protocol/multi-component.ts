// Multi-component plans: up to 5 files (the app image, data-partition images), applied in plan
// order, each with its own digests and result. The first failure stops the plan; components
// confirmed before it stay as they are.
//
// "app" goes through the Agent (A/B slot, trial boot, rollback): it stages and restarts, so the
// plan's progress is kept in the key-value store and resume(bootReport) continues after the
// reboot with the app's result and the components after it. Any other component names a data
// partition (type data, subtype "undefined" 0x06 or 0x80..0xfe: never otadata, nvs, phy or the
// journal) that takes the image in place: erase-before-write through the SlotWriter, the
// resumable downloader, MD5/CRC-32/SHA-256 over the streamed bytes and again over what flash
// holds. A data partition has no second slot: a component that fails while it is written leaves
// its partition incomplete (its installed version is forgotten); one cut by power loss is
// written again from its first byte by resume().

import type { Agent } from "../agent/agent.ts";
import { ErrorCode, OtaError, errorMessage, type ErrorCodeValue } from "../errors.ts";
import { parseOffer, type Offer } from "../agent/offer.ts";
import { decide } from "../agent/policy.ts";
import type { BootReport, Progress } from "../agent/types.ts";
import { compareVersions } from "../agent/version.ts";
import { download, type DownloadSink, type DownloadTuning } from "../download/downloader.ts";
import { ImageDigests, digestMismatch } from "../download/image-digests.ts";
import { SlotWriter } from "../flash/slot-writer.ts";
import type { PartitionInfo, Platform } from "../ports.ts";
import { utf8Decode, utf8Encode } from "../util/utf8.ts";
import { refuse, record, optText, orderableVersion, NAME } from "./payload.ts";

export const MAX_COMPONENTS = 5;
const DATA_TYPE = 0x01;
const DATA_SUBTYPE_UNDEFINED = 0x06;
const DATA_SUBTYPE_USER_MIN = 0x80;
const HASH_CHUNK = 4096;

export interface MultiPlan {
  taskId: string;
  /** In the order they are applied. */
  components: Offer[];
}

export interface ComponentResult {
  component: string;
  version: string;
  ok: boolean;
  errorCode: 0 | ErrorCodeValue;
  reason: string;
}

export interface MultiOutcome {
  /** done: every component applied; failed: stopped at a failure; restarting: the app was
   * staged and the device restarts (call resume() after the reboot). */
  status: "done" | "failed" | "restarting";
  results: ComponentResult[];
}

const PLAN = "bad multi-component plan";

/** Validates an untrusted plan: {taskId?, components: [offer, ...]} with 1..5 offers of distinct
 * components. Throws OtaError(-1). */
export function parseMultiPlan(input: unknown): MultiPlan {
  const o = record(input, PLAN, "plan");
  const taskId = optText(o, "taskId", PLAN, 64, NAME) ?? "plan";
  const list = o.components;
  if (!Array.isArray(list)) refuse(PLAN, "components must be an array");
  if (list.length < 1 || list.length > MAX_COMPONENTS) refuse(PLAN, `a plan holds 1..${MAX_COMPONENTS} components, not ${list.length}`);
  const components = list.map((c) => parseOffer(c));
  for (const c of components) {
    if (!NAME.test(c.component)) refuse(PLAN, `component ${JSON.stringify(c.component)} has characters outside ${NAME.source}`);
    orderableVersion(c.version, PLAN);
  }
  const seen = new Set<string>();
  for (const c of components) {
    if (seen.has(c.component)) refuse(PLAN, `component ${c.component} appears twice`);
    seen.add(c.component);
  }
  return { taskId, components };
}

/** What the protocol clients use of a MultiComponentUpdater. */
/** A data component's download progress (percent of that component, never decreasing). */
export type ComponentProgress = (component: string, p: Progress) => void;

export type PlanUpdater = Pick<MultiComponentUpdater, "apply" | "resume" | "pending" | "installed" | "components" | "capacity">;

interface PlanState {
  taskId: string;
  components: Offer[];
  next: number;
  results: ComponentResult[];
}

export interface MultiComponentOptions {
  platform: Platform;
  /** Applies the app component and tells the running version. */
  agent: Pick<Agent, "update" | "runningVersion">;
  download?: DownloadTuning;
  /** Each component's result, in plan order. */
  onComponent?: (r: ComponentResult) => void;
  /** Key-value keys (NVS keys: at most 15 characters). */
  stateKey?: string;
  versionsKey?: string;
}

export class MultiComponentUpdater {
  private readonly o: MultiComponentOptions;

  constructor(options: MultiComponentOptions) {
    this.o = options;
  }

  /** The installed version of a component: the running app's, or the last one a data partition
   * took (undefined when unknown). */
  installed(component: string): string | undefined {
    if (component === "app") return this.o.agent.runningVersion();
    return this.versions()[component];
  }

  /** The data components with a known installed version, and that version. */
  components(): Record<string, string> {
    const v = this.versions();
    const out: Record<string, string> = {};
    for (const k in v) if (typeof v[k] === "string") out[k] = v[k];
    return out;
  }

  /** The bytes of the data partition that takes this component (a plan's space check);
   * undefined when no partition of that name takes data images. */
  capacity(component: string): number | undefined {
    const e = this.dataPartition(component);
    return typeof e === "string" ? undefined : e.size;
  }

  /** The plan an earlier boot left unfinished, with the number of components whose result is
   * recorded (resume()'s results repeat them first). */
  pending(): (MultiPlan & { recorded: number }) | undefined {
    const s = this.load();
    return s ? { taskId: s.taskId, components: s.components, recorded: s.results.length } : undefined;
  }

  /** Starts a plan. Throws OtaError(-1) for a malformed plan or while another one is unfinished.
   * `onProgress` hears each data component's download (the app's is the agent's onProgress). */
  async apply(input: unknown, onProgress?: ComponentProgress): Promise<MultiOutcome> {
    const plan = parseMultiPlan(input);
    if (this.load()) refuse(PLAN, "another plan is unfinished; resume() it first");
    const state: PlanState = { taskId: plan.taskId, components: plan.components, next: 0, results: [] };
    this.save(state);
    return this.run(state, onProgress);
  }

  /** After a reboot: takes the app's result from agent.boot() and goes on with the plan.
   * Undefined when no plan is unfinished. */
  async resume(boot: BootReport, onProgress?: ComponentProgress): Promise<MultiOutcome | undefined> {
    const state = this.load();
    if (!state) return undefined;
    const current = state.components[state.next];
    if (current?.component === "app") {
      const last = boot.lastUpdate;
      if (last && last.component === "app" && last.toVersion === current.version) {
        if (!this.record(state, resultOf(current, last.errorCode, last.reason))) return this.finish(state, "failed");
      } else if (boot.version === current.version) {
        if (!this.record(state, resultOf(current, 0, `running ${boot.version}`))) return this.finish(state, "failed");
      }
      // Otherwise the app did not get as far as its trial: run() applies it again (the agent
      // resumes its download from the journal).
    }
    return this.run(state, onProgress);
  }

  private async run(state: PlanState, onProgress: ComponentProgress | undefined): Promise<MultiOutcome> {
    while (state.next < state.components.length) {
      const offer = state.components[state.next];
      if (offer.component === "app") {
        const r = await this.o.agent.update(offer);
        if (r.ok) return { status: "restarting", results: state.results.slice() };
        this.record(state, resultOf(offer, r.errorCode, r.reason));
        return this.finish(state, "failed");
      }
      let result: ComponentResult;
      try {
        await this.applyData(offer, onProgress);
        result = resultOf(offer, 0, `${offer.component} holds ${offer.version}`);
      } catch (e) {
        const err = e instanceof OtaError ? e : new OtaError(ErrorCode.FlashWriteFailed, `flash: ${errorMessage(e)}`);
        result = resultOf(offer, err.code, err.reason);
      }
      if (!this.record(state, result)) return this.finish(state, "failed");
    }
    return this.finish(state, "done");
  }

  /** Records a result and moves on; false when it failed. */
  private record(state: PlanState, r: ComponentResult): boolean {
    state.results.push(r);
    state.next++;
    this.save(state);
    this.o.onComponent?.(r);
    return r.ok;
  }

  private finish(state: PlanState, status: "done" | "failed"): MultiOutcome {
    this.o.platform.kv.delete(this.stateKey());
    return { status, results: state.results.slice() };
  }

  /** Writes one data-partition image. Throws OtaError. */
  private async applyData(offer: Offer, onProgress: ComponentProgress | undefined): Promise<void> {
    const p = this.o.platform;
    const entry = this.dataPartition(offer.component);
    if (typeof entry === "string") throw new OtaError(ErrorCode.UpdateFailed, entry);
    const installed = this.versions()[offer.component];
    if (installed !== undefined && compareVersions(offer.version, installed) <= 0) {
      throw new OtaError(ErrorCode.UpdateFailed, `${offer.component} ${offer.version} is not newer than the installed ${installed}`);
    }
    const decision = decide(offer, { batteryPercent: p.system.batteryPercent(), rssi: p.system.rssi(), freeSpace: entry.size });
    if (!decision.accept) throw new OtaError(ErrorCode.UpdateFailed, decision.reason);

    // From here the partition's old contents are being replaced: forget its version first.
    this.setVersion(offer.component, undefined);
    const part = p.partitions.open(entry.label);
    const writer = new SlotWriter(part);
    const digests = new ImageDigests(p.digests);
    writer.seek(0);
    let percent = -1;
    const sink: DownloadSink = {
      get position() {
        return writer.position;
      },
      restart: () => {
        digests.reset();
        writer.seek(0);
      },
      setValidator: () => undefined,
      data: (chunk) => {
        digests.update(chunk);
        writer.write(chunk);
        const now = Math.floor((writer.position * 100) / offer.size);
        if (onProgress && now > percent) {
          percent = now;
          onProgress(offer.component, { phase: "download", bytes: writer.position, total: offer.size, percent: now });
        }
      },
    };
    await download(p.http, p.clock, sink, { url: offer.url, size: offer.size, ...this.o.download });
    writer.flush();
    const streamed = digestMismatch(offer, digests.finish());
    if (streamed) throw new OtaError(ErrorCode.VerifyFailed, streamed);
    for (let at = 0; at < offer.size; at += HASH_CHUNK) digests.update(part.read(at, Math.min(HASH_CHUNK, offer.size - at)));
    const stored = digestMismatch(offer, digests.finish());
    if (stored) throw new OtaError(ErrorCode.FlashWriteFailed, `${entry.label} does not hold what was written: ${stored}`);
    this.setVersion(offer.component, offer.version);
  }

  /** The partition that takes this component's images, or why none does. */
  private dataPartition(component: string): PartitionInfo | string {
    const entry = this.o.platform.partitions.list().find((e) => e.label === component);
    if (!entry) return `no partition named ${component}`;
    const writable = entry.type === DATA_TYPE && (entry.subtype === DATA_SUBTYPE_UNDEFINED || (entry.subtype >= DATA_SUBTYPE_USER_MIN && entry.subtype <= 0xfe));
    if (!writable) return `partition ${entry.label} (type 0x${entry.type.toString(16)}, subtype 0x${entry.subtype.toString(16)}) does not take data images`;
    return entry;
  }

  private stateKey(): string {
    return this.o.stateKey ?? "ota.multi";
  }

  private load(): PlanState | undefined {
    const raw = this.o.platform.kv.get(this.stateKey());
    if (!raw) return undefined;
    try {
      const s = JSON.parse(utf8Decode(raw)) as PlanState;
      // The store is ours, but flash can tear: revalidate before trusting it.
      const plan = parseMultiPlan({ taskId: s.taskId, components: s.components });
      if (!Number.isInteger(s.next) || s.next < 0 || s.next > plan.components.length || !Array.isArray(s.results)) throw new Error("bad state");
      return { ...plan, next: s.next, results: s.results };
    } catch {
      this.o.platform.kv.delete(this.stateKey());
      return undefined;
    }
  }

  private save(s: PlanState): void {
    this.o.platform.kv.set(this.stateKey(), utf8Encode(JSON.stringify(s)));
  }

  private versions(): Record<string, string> {
    const raw = this.o.platform.kv.get(this.o.versionsKey ?? "ota.comps");
    if (!raw) return {};
    try {
      const v = JSON.parse(utf8Decode(raw)) as unknown;
      return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  private setVersion(component: string, version: string | undefined): void {
    const v = this.versions();
    if (version === undefined) delete v[component];
    else v[component] = version;
    this.o.platform.kv.set(this.o.versionsKey ?? "ota.comps", utf8Encode(JSON.stringify(v)));
  }
}

function resultOf(offer: Offer, code: 0 | ErrorCodeValue, reason: string): ComponentResult {
  return { component: offer.component, version: offer.version, ok: code === 0, errorCode: code, reason };
}
