// The plan engine: decides what each device is offered, records what the device says, judges
// success (the device reports the target version after its reboot) and failure (its error
// code -1..-4 and reason), runs staged rollout waves and pauses a plan whose wave crosses its
// error threshold. Every state change is one SQLite transaction plus an event row; listeners
// (the live page, the dialect clouds) hear about it after the commit.

import type { Package, Packages } from "./packages.ts";
import { inWindow, parsePlanSpec, planComponents, targets, waveCapacity, type Plan, type PlanComponent, type PlanSpec, type PlanStatus } from "./plans.ts";
import type { Store } from "./store.ts";
import { conflict, notFound } from "./validate.ts";

/** A failed or refused device is offered its plan again no sooner than this after it finished:
 * it first settles what failed (a platform's console retries after an interval too). */
export const RETRY_DELAY_MS = 500;

export type DeviceState = "pending" | "confirmed" | "downloading" | "updating" | "success" | "failed" | "rejected";
export const DEVICE_STATES: readonly DeviceState[] = ["pending", "confirmed", "downloading", "updating", "success", "failed", "rejected"];
const IN_FLIGHT = "('pending','confirmed','downloading','updating')";

export type Dialect = "alibaba" | "quec" | "http";
export const DIALECTS: readonly Dialect[] = Object.freeze(["alibaba", "quec", "http"]);

/** A board's dialect in a simulated fleet: the one asked for, or with "mix" each in turn. */
export function dialectOf(asked: Dialect | "mix", index: number): Dialect {
  return asked === "mix" ? DIALECTS[index % DIALECTS.length] : asked;
}

/** A --dialect value: a dialect or "mix". Throws with the choices. */
export function parseDialectChoice(v: string): Dialect | "mix" {
  if (v !== "mix" && !(DIALECTS as readonly string[]).includes(v)) throw new Error(`--dialect must be ${DIALECTS.join(", ")} or mix`);
  return v as Dialect | "mix";
}

export interface DeviceRow {
  product: string;
  name: string;
  dialect: Dialect;
  version: string | null;
  battery: number | null;
  signal: number | null;
  last_seen: number;
}

/** A device with the versions of its other components (data partitions), as last reported. */
export type DeviceInfo = DeviceRow & { components: Record<string, string>; plans: DevicePlanRow[] };

export interface DevicePlanRow {
  plan_id: number;
  product: string;
  device: string;
  state: DeviceState;
  wave: number;
  progress: number;
  attempts: number;
  from_version: string | null;
  error_code: number | null;
  reason: string | null;
  started_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** One component's file as a device gets it: the full image, or for the app a patch (delta). */
export interface ComponentOffer {
  component: string;
  version: string;
  size: number;
  url: string;
  md5: string;
  crc32: string;
  sha256: string;
  isDiff: boolean;
  /** The version the device last reported for this component (multi-component plans). */
  reported?: string;
  /** A delta package for this device (its version is the patch's source version): url, size and
   * digests above stay the target image's (the plan's full package, or a full package of the
   * store with the same product, component and version); the patch is served at delta.url. */
  delta?: { baseVersion: string; url: string; size: number; md5: string; crc32: string; sha256: string };
}

/** What a dialect sends a device: the plan's file for the device's app component (the first
 * component when the plan has no app) and, for a plan of more than one component or of a data
 * component, every component in plan order. */
export interface DeviceOffer extends ComponentOffer {
  planId: number;
  taskId: string;
  state: DeviceState;
  mode: "silent" | "manual";
  sourceVersion: string;
  /** Every component in the order the device applies them; undefined for a plan of the app alone. */
  components?: ComponentOffer[];
  minBattery?: number;
  minSignal?: number;
}

export interface ChangeEvent {
  kind: string;
  product?: string;
  device?: string;
  planId?: number;
  detail: Record<string, unknown>;
}

export interface RolloutOptions {
  /** http://host:port the devices download files from. */
  fileBase: () => string;
  now?: () => number;
}

export class Rollout {
  private listeners: ((e: ChangeEvent) => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly store: Store, private readonly packages: Packages, private readonly o: RolloutOptions) {
    this.now = o.now ?? Date.now;
  }

  onChange(f: (e: ChangeEvent) => void): () => void {
    this.listeners.push(f);
    return () => (this.listeners = this.listeners.filter((l) => l !== f));
  }

  // ---- plans (operator) ----------------------------------------------------------------------

  createPlan(body: unknown): Plan {
    const { spec } = parsePlanSpec(body, this.packages);
    const t = this.now();
    const r = this.store.db.prepare("INSERT INTO plans (name, product, spec, status, wave, created_at, updated_at) VALUES (?, ?, ?, 'draft', 0, ?, ?)")
      .run(spec.name, spec.product, JSON.stringify(spec), t, t);
    const id = Number(r.lastInsertRowid);
    this.event({ kind: "plan-created", planId: id, product: spec.product, detail: { name: spec.name } });
    return this.plan(id);
  }

  plan(id: number): Plan {
    const r = this.store.db.prepare("SELECT * FROM plans WHERE id = ?").get(id) as PlanRow | undefined;
    if (!r) notFound(`plan ${id} does not exist`);
    return toPlan(r);
  }

  plans(): Plan[] {
    return (this.store.db.prepare("SELECT * FROM plans ORDER BY id").all() as PlanRow[]).map(toPlan);
  }

  /** draft -> active; paused -> active (resume); any open plan -> cancelled; active -> paused. */
  setStatus(id: number, action: "activate" | "pause" | "resume" | "cancel", reason?: string): Plan {
    const p = this.plan(id);
    const allowed: Record<string, PlanStatus[]> = { activate: ["draft"], pause: ["active"], resume: ["paused"], cancel: ["draft", "active", "paused"] };
    if (!allowed[action].includes(p.status)) conflict(`plan ${id} is ${p.status}: cannot ${action} it`);
    const status: PlanStatus = action === "pause" ? "paused" : action === "cancel" ? "cancelled" : "active";
    const wave = action === "activate" ? 1 : p.wave;
    const why = action === "pause" ? reason ?? "paused by the operator" : null;
    this.store.db.prepare("UPDATE plans SET status = ?, wave = ?, pause_reason = ?, updated_at = ? WHERE id = ?").run(status, wave, why, this.now(), id);
    this.event({ kind: `plan-${action}`, planId: id, product: p.spec.product, detail: why ? { reason: why } : {} });
    if (status === "active") {
      // A resumed wave that already completed moves on.
      this.checkWave(id);
      this.event({ kind: "kick", planId: id, product: p.spec.product, detail: {} }, false);
    }
    return this.plan(id);
  }

  /** Manual mode, dialects without a confirm message: the operator confirms for the device. */
  confirmDevice(planId: number, device: string): DevicePlanRow {
    const p = this.plan(planId);
    const row = this.row(planId, p.spec.product, device);
    if (!row) notFound(`device ${device} has no update in plan ${planId}`);
    if (row.state !== "pending") conflict(`device ${device} is ${row.state} in plan ${planId}: only a pending device can be confirmed`);
    this.setRow(planId, p.spec.product, device, { state: "confirmed" }, "confirmed", { by: "operator" });
    this.event({ kind: "kick", planId, product: p.spec.product, device, detail: {} }, false);
    return this.row(planId, p.spec.product, device)!;
  }

  // ---- devices (dialects) --------------------------------------------------------------------

  /** A device reported its running version (inform, request, result, poll), and the versions of
   * its other components when it has some. Judges success of its in-flight updates: every
   * component of the plan reports the plan's version of it. */
  seen(product: string, device: string, dialect: Dialect, version: string, readings: { battery?: number; signal?: number } = {}, components: Record<string, string> = {}): void {
    const t = this.now();
    const db = this.store.db;
    const before = db.prepare("SELECT version FROM devices WHERE product = ? AND name = ?").get(product, device) as { version: string | null } | undefined;
    db.prepare(`INSERT INTO devices (product, name, dialect, version, battery, signal, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (product, name) DO UPDATE SET dialect = excluded.dialect, version = excluded.version,
        battery = coalesce(excluded.battery, battery), signal = coalesce(excluded.signal, signal), last_seen = excluded.last_seen`)
      .run(product, device, dialect, version, readings.battery ?? null, readings.signal ?? null, t);
    if (!before) this.event({ kind: "device-new", product, device, detail: { version, dialect } });
    else if (before.version !== version) this.event({ kind: "device-version", product, device, detail: { from: before.version, version } });
    const known = this.componentVersions(product, device);
    const upsert = db.prepare(`INSERT INTO device_components (product, device, component, version, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (product, device, component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`);
    for (const [component, v] of Object.entries(components)) {
      if (component === "app" || known[component] === v) continue;
      upsert.run(product, device, component, v, t);
      this.event({ kind: "component-version", product, device, detail: { component, from: known[component] ?? null, version: v } });
    }
    const rows = db.prepare(`SELECT dp.*, p.spec FROM device_plans dp JOIN plans p ON p.id = dp.plan_id
      WHERE dp.product = ? AND dp.device = ? AND dp.state IN ${IN_FLIGHT}`).all(product, device) as (DevicePlanRow & { spec: string })[];
    for (const r of rows) {
      const spec = JSON.parse(r.spec) as PlanSpec;
      if (this.atTarget(product, device, version, spec)) {
        const reports = this.targetsOf(spec).map((c) => `${c.component} ${c.version}`).join(", ");
        this.setRow(r.plan_id, product, device, { state: "success", progress: 100, error_code: 0, reason: `reports ${reports}`, finished_at: t }, "success", { version });
        this.checkWave(r.plan_id);
      }
    }
  }

  /** A device reported the running version of one of its components other than the app (an
   * Alibaba module's inform). Judges success like seen(). */
  componentSeen(product: string, device: string, dialect: Dialect, component: string, version: string): void {
    const dev = this.store.db.prepare("SELECT version FROM devices WHERE product = ? AND name = ?").get(product, device) as { version: string | null } | undefined;
    if (!dev?.version) return;
    this.seen(product, device, dialect, dev.version, {}, { [component]: version });
  }

  /** The offer for this device now, admitting it to a plan when it is targeted, its version is
   * a source version, the plan's window is open and the current wave has room. Undefined when
   * nothing is due. Plans run one after another: an update in flight is offered again (the
   * device resumes it); otherwise the oldest active plan the device has not finished. */
  offerFor(product: string, device: string): DeviceOffer | undefined {
    const db = this.store.db;
    const dev = db.prepare("SELECT * FROM devices WHERE product = ? AND name = ?").get(product, device) as DeviceRow | undefined;
    if (!dev || dev.version === null) return undefined;
    const t = this.now();
    const active = (db.prepare("SELECT * FROM plans WHERE product = ? AND status = 'active' ORDER BY id").all(product) as PlanRow[]).map(toPlan);
    const flying = db.prepare(`SELECT * FROM device_plans WHERE product = ? AND device = ? AND state IN ${IN_FLIGHT} ORDER BY plan_id`).all(product, device) as DevicePlanRow[];
    // An update in flight continues while its plan is paused (the device resumes it).
    const open = (db.prepare("SELECT * FROM plans WHERE product = ? AND status IN ('active','paused') ORDER BY id").all(product) as PlanRow[]).map(toPlan);
    for (const r of flying) {
      const p = open.find((x) => x.id === r.plan_id);
      if (p && !this.atTarget(product, device, dev.version, p.spec)) return this.offer(p, device, r.state, r.from_version ?? dev.version);
    }
    for (const p of active) {
      const spec = p.spec;
      if (!targets(spec, product, device)) continue;
      const row = this.row(p.id, product, device);
      if (row?.state === "success") continue;
      // A retry also reaches a device that a failed multi-component plan left part-way: its app
      // already on the target, a later component not.
      const partly = row !== undefined && this.targetsOf(spec).length > 1 && dev.version === spec.targetVersion && !this.atTarget(product, device, dev.version, spec);
      if (!spec.sourceVersions.includes(dev.version) && !partly) continue;
      if (!inWindow(spec, t)) continue;
      if (row) {
        // failed or rejected before: offered again while retries remain
        if (row.state === "failed" && row.attempts > spec.strategy.retries) continue;
        if (row.state === "rejected" && row.attempts > spec.strategy.retries) continue;
        if ((row.state === "failed" || row.state === "rejected") && row.finished_at !== null && t - row.finished_at < RETRY_DELAY_MS) continue;
        this.setRow(p.id, product, device, { state: "pending", progress: 0, error_code: null, reason: null, finished_at: null }, "retry", { attempt: row.attempts + 1 });
        return this.offer(p, device, "pending", partly ? row.from_version ?? dev.version : dev.version);
      }
      const targeted = this.targetedCount(p);
      const admitted = (db.prepare("SELECT count(*) AS n FROM device_plans WHERE plan_id = ?").get(p.id) as { n: number }).n;
      if (admitted >= waveCapacity(spec, p.wave, targeted)) continue;
      db.prepare(`INSERT INTO device_plans (plan_id, product, device, state, wave, progress, attempts, from_version, started_at, updated_at)
        VALUES (?, ?, ?, 'pending', ?, 0, 0, ?, ?, ?)`).run(p.id, product, device, p.wave, dev.version, t, t);
      this.event({ kind: "pending", planId: p.id, product, device, detail: { wave: p.wave, from: dev.version, to: spec.targetVersion } });
      return this.offer(p, device, "pending", dev.version);
    }
    return undefined;
  }

  /** The device took the plan (manual mode's confirm) or refused it (policy), with its reason. */
  confirmed(product: string, device: string, planId: number | undefined, accept: boolean, reason: string): void {
    const r = this.current(product, device, planId);
    if (!r) return;
    if (accept) this.setRow(r.plan_id, product, device, { state: "confirmed" }, "confirmed", { reason });
    else this.reject(r, reason);
  }

  /** Download progress 0..100, or "updating" once the image is staged. With a component of a
   * multi-component plan, its percent is scaled to the plan's (components in plan order). */
  progress(product: string, device: string, planId: number | undefined, percent: number, phase: "downloading" | "updating", component?: string): void {
    const r = this.current(product, device, planId);
    if (!r) return;
    if (component !== undefined) {
      const list = this.targetsOf(this.plan(r.plan_id).spec);
      const i = list.findIndex((c) => c.component === component);
      if (i >= 0 && list.length > 1) {
        percent = (i * 100 + Math.max(0, Math.min(100, percent))) / list.length;
        if (i < list.length - 1) phase = "downloading";
        if (percent <= r.progress && r.state === "downloading") return;
      }
    }
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    if (r.state === phase && r.progress === p) return;
    if (r.state === "updating" && phase === "downloading") return;
    this.setRow(r.plan_id, product, device, { state: phase, progress: phase === "updating" ? 100 : p }, phase === "updating" ? "updating" : "progress", { percent: p }, phase === "updating" || r.state !== phase);
  }

  /** One component of a multi-component plan reached its end on the device (its result). */
  componentResult(product: string, device: string, planId: number | undefined, component: string, ok: boolean, reason: string): void {
    const r = this.current(product, device, planId);
    if (!r) return;
    this.event({ kind: "component", planId: r.plan_id, product, device, detail: { component, ok, reason } });
  }

  /** The device's update failed with its code (-1..-4) and reason (naming the component that
   * failed, for a multi-component plan). A failure before the download started with -1 is the
   * device's policy or offer check refusing it: "rejected". */
  failed(product: string, device: string, planId: number | undefined, code: number, reason: string, component?: string): void {
    const r = this.current(product, device, planId);
    if (!r) return;
    if (component !== undefined && !reason.startsWith(`${component}`)) reason = `${component}: ${reason}`;
    if (code === -1 && (r.state === "pending" || r.state === "confirmed") && r.progress === 0) {
      this.reject(r, reason);
      return;
    }
    const c = code >= -4 && code <= -1 ? code : -1;
    this.setRow(r.plan_id, product, device, { state: "failed", error_code: c, reason, attempts: r.attempts + 1, finished_at: this.now() }, "failed", { code: c, reason });
    this.checkWave(r.plan_id);
  }

  // ---- monitoring ----------------------------------------------------------------------------

  planStats(id: number): PlanStats {
    const p = this.plan(id);
    const rows = this.store.db.prepare("SELECT state, count(*) AS n FROM device_plans WHERE plan_id = ? GROUP BY state").all(id) as { state: DeviceState; n: number }[];
    const counts = Object.fromEntries(DEVICE_STATES.map((s) => [s, 0])) as Record<DeviceState, number>;
    for (const r of rows) counts[r.state] = r.n;
    const finished = counts.success + counts.failed;
    return {
      ...p,
      counts,
      targeted: this.targetedCount(p),
      admitted: rows.reduce((a, r) => a + r.n, 0),
      successRate: finished === 0 ? null : counts.success / finished,
    };
  }

  devices(product?: string): DeviceInfo[] {
    const db = this.store.db;
    const devs = (product ? db.prepare("SELECT * FROM devices WHERE product = ? ORDER BY product, name").all(product) : db.prepare("SELECT * FROM devices ORDER BY product, name").all()) as DeviceRow[];
    const rows = db.prepare("SELECT * FROM device_plans ORDER BY plan_id").all() as DevicePlanRow[];
    const by = new Map<string, DevicePlanRow[]>();
    for (const r of rows) {
      const k = `${r.product}/${r.device}`;
      by.set(k, [...(by.get(k) ?? []), r]);
    }
    const comps = db.prepare("SELECT product, device, component, version FROM device_components ORDER BY component").all() as { product: string; device: string; component: string; version: string }[];
    const versions = new Map<string, Record<string, string>>();
    for (const c of comps) {
      const k = `${c.product}/${c.device}`;
      versions.set(k, { ...versions.get(k), [c.component]: c.version });
    }
    return devs.map((d) => ({ ...d, components: versions.get(`${d.product}/${d.name}`) ?? {}, plans: by.get(`${d.product}/${d.name}`) ?? [] }));
  }

  device(product: string, name: string): DeviceInfo {
    const d = this.devices(product).find((x) => x.name === name);
    if (!d) notFound(`device ${product}/${name} is not known`);
    return d;
  }

  events(filter: { product?: string; device?: string; planId?: number; after?: number; limit?: number }): EventRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.product !== undefined) (where.push("product = ?"), args.push(filter.product));
    if (filter.device !== undefined) (where.push("device = ?"), args.push(filter.device));
    if (filter.planId !== undefined) (where.push("plan_id = ?"), args.push(filter.planId));
    if (filter.after !== undefined) (where.push("id > ?"), args.push(filter.after));
    const limit = filter.limit ?? 200;
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    return (this.store.db.prepare(sql).all(...args, limit) as EventRow[]).reverse();
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The components the plan brings to its target versions, in plan order. */
  private targetsOf(spec: PlanSpec): PlanComponent[] {
    return planComponents(spec.packages.map((id) => this.packages.get(id)));
  }

  private componentVersions(product: string, device: string): Record<string, string> {
    const rows = this.store.db.prepare("SELECT component, version FROM device_components WHERE product = ? AND device = ?").all(product, device) as { component: string; version: string }[];
    return Object.fromEntries(rows.map((r) => [r.component, r.version]));
  }

  /** Whether the device reports every component of the plan at the plan's version (the app's
   * version is `version`, the others as stored by seen()). */
  private atTarget(product: string, device: string, version: string | null, spec: PlanSpec): boolean {
    const list = this.targetsOf(spec);
    const others = this.componentVersions(product, device);
    // A plan of one component: a device that reports only its version runs that component.
    if (list.length === 1) return (list[0].component === "app" ? version : others[list[0].component] ?? version) === list[0].version;
    return list.every((c) => (c.component === "app" ? version : others[c.component]) === c.version);
  }

  /** What the device gets: its app component's file (the first component's when the plan has
   * no app) with the plan's thresholds, and for a plan of more than one component or of a data
   * component, every component's file in plan order. */
  private offer(p: Plan, device: string, state: DeviceState, from: string): DeviceOffer {
    const pkgs: Package[] = p.spec.packages.map((id) => this.packages.get(id));
    const order = planComponents(pkgs);
    const main = (order.find((c) => c.component === "app") ?? order[0]).component;
    const base = {
      planId: p.id, taskId: `plan-${p.id}`, state, mode: p.spec.mode, sourceVersion: from,
      minBattery: p.spec.strategy.minBattery, minSignal: p.spec.strategy.minSignal,
    };
    const o: DeviceOffer = { ...base, ...this.componentOffer(p.spec.product, pkgs, main, from) };
    if (order.length > 1 || main !== "app") {
      const dev = this.store.db.prepare("SELECT version FROM devices WHERE product = ? AND name = ?").get(p.spec.product, device) as { version: string | null } | undefined;
      const others = this.componentVersions(p.spec.product, device);
      o.components = order.map((c) => {
        const reported = c.component === "app" ? dev?.version ?? undefined : others[c.component];
        return { ...this.componentOffer(p.spec.product, pkgs, c.component, from), ...(reported === undefined ? {} : { reported }) };
      });
    }
    return o;
  }

  /** The plan's file for one component: for the app, the delta package whose source version is
   * the device's version when the plan has one, the full image otherwise. A delta goes out with
   * the target image's size and digests, from the plan's full package or, failing that, a full
   * package of the store with the same product, component and version; without one it goes out
   * as before (isDiff, the patch's own digests), which a device refuses. A data component takes
   * its full image (plan validation sees to one). */
  private componentOffer(product: string, pkgs: Package[], component: string, from: string): ComponentOffer {
    const files = pkgs.flatMap((x) => x.files.map((f) => ({ f, pkg: x })));
    const mine = files.filter((x) => x.f.component === component);
    const patch = mine.find((x) => x.pkg.kind === "delta" && x.pkg.sourceVersion === from);
    const full = mine.find((x) => x.pkg.kind === "full")?.f ?? (patch ? this.fullFile(product, component, patch.f.version) : undefined);
    const url = (sha256: string) => `${this.o.fileBase()}/files/${sha256}.bin`;
    if (full) {
      const o: ComponentOffer = {
        component: full.component, version: full.version, size: full.size,
        url: url(full.sha256), md5: full.md5, crc32: full.crc32, sha256: full.sha256, isDiff: patch !== undefined,
      };
      if (patch) {
        const f = patch.f;
        o.delta = { baseVersion: from, url: url(f.sha256), size: f.size, md5: f.md5, crc32: f.crc32, sha256: f.sha256 };
      }
      return o;
    }
    const { f, pkg } = patch ?? mine[0];
    return {
      component: f.component, version: f.version, size: f.size,
      url: url(f.sha256), md5: f.md5, crc32: f.crc32, sha256: f.sha256, isDiff: pkg.kind === "delta",
    };
  }

  /** A full package's file of the store for this product, component and version. */
  private fullFile(product: string, component: string, version: string): Package["files"][number] | undefined {
    for (const pkg of this.packages.list()) {
      if (pkg.kind !== "full" || pkg.product !== product) continue;
      const f = pkg.files.find((x) => x.component === component && x.version === version);
      if (f) return f;
    }
    return undefined;
  }

  private reject(r: DevicePlanRow, reason: string): void {
    this.setRow(r.plan_id, r.product, r.device, { state: "rejected", error_code: -1, reason, attempts: r.attempts + 1, finished_at: this.now() }, "rejected", { reason });
    this.checkWave(r.plan_id);
  }

  private current(product: string, device: string, planId: number | undefined): DevicePlanRow | undefined {
    const db = this.store.db;
    if (planId !== undefined) return this.row(planId, product, device);
    return db.prepare(`SELECT * FROM device_plans WHERE product = ? AND device = ? AND state IN ${IN_FLIGHT} ORDER BY plan_id LIMIT 1`).get(product, device) as DevicePlanRow | undefined;
  }

  private row(planId: number, product: string, device: string): DevicePlanRow | undefined {
    return this.store.db.prepare("SELECT * FROM device_plans WHERE plan_id = ? AND product = ? AND device = ?").get(planId, product, device) as DevicePlanRow | undefined;
  }

  private setRow(planId: number, product: string, device: string, set: Partial<DevicePlanRow>, kind: string, detail: Record<string, unknown>, log = true): void {
    const t = this.now();
    const keys = Object.keys(set);
    this.store.db.prepare(`UPDATE device_plans SET ${keys.map((k) => `${k} = ?`).join(", ")}, updated_at = ? WHERE plan_id = ? AND product = ? AND device = ?`)
      .run(...keys.map((k) => (set as Record<string, unknown>)[k]), t, planId, product, device);
    this.event({ kind, planId, product, device, detail: { ...detail, state: set.state, progress: set.progress } }, log);
  }

  /** Devices the plan names that could take it: those already admitted, plus known devices of
   * its product that it targets and that run one of its source versions. A whitelist adds the
   * devices it names that the server has not seen yet. */
  private targetedCount(p: Plan): number {
    const db = this.store.db;
    const admitted = new Set((db.prepare("SELECT device FROM device_plans WHERE plan_id = ?").all(p.id) as { device: string }[]).map((r) => r.device));
    const devs = db.prepare("SELECT name, version FROM devices WHERE product = ?").all(p.spec.product) as { name: string; version: string | null }[];
    const names = new Set(admitted);
    for (const d of devs) if (targets(p.spec, p.spec.product, d.name) && d.version !== null && p.spec.sourceVersions.includes(d.version)) names.add(d.name);
    if (p.spec.whitelist) for (const n of p.spec.whitelist) if (targets(p.spec, p.spec.product, n) && !devs.some((d) => d.name === n)) names.add(n);
    return names.size;
  }

  /** Pauses the plan when its current wave's failures cross the threshold; moves to the next
   * wave when every device of a full wave finished. */
  private checkWave(planId: number): void {
    const p = this.plan(planId);
    if (p.status !== "active") return;
    const spec = p.spec;
    const rows = this.store.db.prepare("SELECT state, attempts FROM device_plans WHERE plan_id = ? AND wave = ?").all(planId, p.wave) as { state: DeviceState; attempts: number }[];
    const targeted = this.targetedCount(p);
    const size = Math.max(1, waveCapacity(spec, p.wave, targeted) - waveCapacity(spec, p.wave - 1, targeted));
    const failed = rows.filter((r) => r.state === "failed" && r.attempts > spec.strategy.retries).length;
    const threshold = spec.rollout.errorThresholdPercent;
    if (threshold < 100 && (100 * failed) / size > threshold) {
      const reason = `wave ${p.wave}: ${failed} of ${size} devices failed (${Math.round((100 * failed) / size)}%), above the error threshold of ${threshold}%`;
      this.setStatus(planId, "pause", reason);
      return;
    }
    const admittedTotal = (this.store.db.prepare("SELECT count(*) AS n FROM device_plans WHERE plan_id = ?").get(planId) as { n: number }).n;
    const full = admittedTotal >= waveCapacity(spec, p.wave, targeted);
    const settled = rows.every((r) => r.state === "success" || r.state === "rejected" || (r.state === "failed" && r.attempts > spec.strategy.retries));
    const cap = waveCapacity(spec, p.wave, targeted);
    if (full && settled && rows.length > 0 && cap < targeted) {
      // On a small fleet a wave can round to no new device (2 devices, 25%: 1, 1, 2, 2): the
      // next wave is the first that admits one, else nothing would ever settle it.
      let next = p.wave + 1;
      while (waveCapacity(spec, next, targeted) === cap) next++;
      this.store.db.prepare("UPDATE plans SET wave = ?, updated_at = ? WHERE id = ?").run(next, this.now(), planId);
      this.event({ kind: "wave", planId, product: spec.product, detail: { wave: next } });
      this.event({ kind: "kick", planId, product: spec.product, detail: {} }, false);
    }
  }

  private event(e: ChangeEvent, log = true): void {
    if (log) {
      this.store.db.prepare("INSERT INTO events (at, product, device, plan_id, kind, detail) VALUES (?, ?, ?, ?, ?, ?)")
        .run(this.now(), e.product ?? null, e.device ?? null, e.planId ?? null, e.kind, JSON.stringify(e.detail));
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure must not undo a committed change
      }
    }
  }
}

export interface PlanStats extends Plan {
  counts: Record<DeviceState, number>;
  targeted: number;
  admitted: number;
  successRate: number | null;
}

export interface EventRow {
  id: number;
  at: number;
  product: string | null;
  device: string | null;
  plan_id: number | null;
  kind: string;
  detail: string;
}

interface PlanRow {
  id: number;
  name: string;
  product: string;
  spec: string;
  status: PlanStatus;
  wave: number;
  pause_reason: string | null;
  created_at: number;
  updated_at: number;
}

function toPlan(r: PlanRow): Plan {
  return { id: r.id, spec: JSON.parse(r.spec) as PlanSpec, status: r.status, wave: r.wave, pauseReason: r.pause_reason, createdAt: r.created_at, updatedAt: r.updated_at };
}

