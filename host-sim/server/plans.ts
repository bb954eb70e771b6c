// Plans: what to offer (packages), to whom (product, source versions, whitelist, blacklist: the
// blacklist wins), when (a push window in a time zone), how (silent or manual, strategy
// thresholds the device checks, retries) and how fast (waves of a percentage of the targeted
// devices, paused automatically when a wave's failures cross the error threshold).

import { compareVersions } from "../../src/agent/version.ts";
import type { Package, Packages } from "./packages.ts";
import { bad, list, name, number, object, onlyKeys, optNumber, text, version, type Obj } from "./validate.ts";

export interface PlanSpec {
  name: string;
  product: string;
  /** Package ids, one per component (the device's app image is the "app" component). */
  packages: number[];
  targetVersion: string;
  sourceVersions: string[];
  whitelist?: string[];
  blacklist?: string[];
  strategy: { minBattery?: number; minSignal?: number; retries: number };
  /** Offers go out only between start and end (HH:MM, end exclusive; end < start spans
   * midnight) in this IANA time zone. */
  pushWindow?: { start: string; end: string; timeZone: string };
  mode: "silent" | "manual";
  rollout: { wavePercent: number; errorThresholdPercent: number };
}

export type PlanStatus = "draft" | "active" | "paused" | "cancelled" | "done";

export interface Plan {
  id: number;
  spec: PlanSpec;
  status: PlanStatus;
  wave: number;
  pauseReason: string | null;
  createdAt: number;
  updatedAt: number;
}

const KEYS = ["name", "product", "packages", "targetVersion", "sourceVersions", "whitelist", "blacklist", "strategy", "pushWindow", "mode", "rollout"] as const;

function hhmm(v: unknown, field: string): string {
  if (typeof v !== "string" || !/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(v)) bad(`${field} must be HH:MM (00:00..23:59)`);
  return v;
}

function timeZone(v: unknown, field: string): string {
  if (typeof v !== "string" || v.length > 64) bad(`${field} must be an IANA time zone such as "Europe/Berlin"`);
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: v });
  } catch {
    bad(`${field} ${JSON.stringify(v)} is not a time zone this server knows (IANA names such as "Asia/Shanghai" or "UTC")`);
  }
  return v;
}

/** Validates a plan against the stored packages. Throws ApiError(400/404) naming the field. */
export function parsePlanSpec(body: unknown, packages: Packages): { spec: PlanSpec; files: Package[] } {
  const o = object(body, "plan");
  onlyKeys(o, KEYS, "plan");
  const product = name(o.product, "product");
  const ids = list(o.packages, "packages", (x, f) => number(x, f, 1, Number.MAX_SAFE_INTEGER, true), 5);
  if (ids.length === 0) bad("packages must name at least one package");
  const pkgs = ids.map((pid) => packages.get(pid));
  // One package per component, except that a full package may come with delta packages of the
  // same component (one per source version): a device on a delta's source version gets the
  // patch, any other the full image.
  const components = new Set<string>();
  const byComponent = new Map<string, Package[]>();
  for (const p of pkgs) {
    if (p.product !== product) bad(`package ${p.id} is for product ${p.product}, the plan for ${product}`);
    for (const f of p.files) {
      components.add(f.component);
      byComponent.set(f.component, [...(byComponent.get(f.component) ?? []), p]);
    }
  }
  for (const [component, from] of byComponent) {
    if (from.length === 1) continue;
    const fulls = from.filter((p) => p.kind === "full");
    const sources = from.filter((p) => p.kind === "delta").map((p) => p.sourceVersion);
    if (fulls.length !== 1 || new Set(sources).size !== sources.length) {
      bad(`component ${component} comes from two packages: one package per component (or one full package and delta packages from distinct source versions)`);
    }
  }
  if (components.size > 5) bad(`the plan's packages hold ${components.size} components; a device takes at most 5`);
  for (const [component, from] of byComponent) {
    const versions = new Set(from.map((p) => p.files.find((f) => f.component === component)!.version));
    if (versions.size > 1) bad(`component ${component} has two target versions in the plan's packages (${[...versions].join(", ")}): one version per component`);
    // Data partitions take whole images (src/protocol/multi-component.ts): no patches.
    if (component !== "app" && components.size > 1 && !from.some((p) => p.kind === "full")) {
      bad(`component ${component} comes only as a delta package: a data component of a multi-component plan needs a full package`);
    }
  }
  const targetVersion = version(o.targetVersion, "targetVersion");
  const app = pkgs.flatMap((p) => p.files).find((f) => f.component === "app") ?? pkgs[0].files[0];
  if (app.version !== targetVersion) bad(`targetVersion ${targetVersion} differs from the version of the ${app.component} file of package ${pkgs.find((p) => p.files.includes(app))!.id} (${app.version})`);
  const sourceVersions = list(o.sourceVersions, "sourceVersions", version, 100);
  if (sourceVersions.length === 0) bad("sourceVersions must name at least one version the plan updates from");
  for (const s of sourceVersions) if (compareVersions(s, targetVersion) >= 0) bad(`source version ${s} is not older than the target ${targetVersion}`);
  const hasFull = (p: Package) => p.files.every((f) => pkgs.some((q) => q.kind === "full" && q.files.some((g) => g.component === f.component)));
  for (const p of pkgs) {
    if (p.kind === "delta" && !hasFull(p) && !sourceVersions.every((s) => s === p.sourceVersion)) {
      bad(`package ${p.id} is a delta from ${p.sourceVersion}: the plan's sourceVersions must be exactly [${p.sourceVersion}]`);
    }
  }
  const whitelist = o.whitelist === undefined ? undefined : list(o.whitelist, "whitelist", (x, f) => name(x, f));
  const blacklist = o.blacklist === undefined ? undefined : list(o.blacklist, "blacklist", (x, f) => name(x, f));
  const s = o.strategy === undefined ? {} : object(o.strategy, "strategy");
  onlyKeys(s, ["minBattery", "minSignal", "retries"], "strategy");
  const strategy = {
    minBattery: optNumber(s.minBattery, "strategy.minBattery", 0, 100),
    minSignal: optNumber(s.minSignal, "strategy.minSignal", -150, 0),
    retries: optNumber(s.retries, "strategy.retries", 0, 10, true) ?? 0,
  };
  let pushWindow: PlanSpec["pushWindow"];
  if (o.pushWindow !== undefined) {
    const w = object(o.pushWindow, "pushWindow");
    onlyKeys(w, ["start", "end", "timeZone"], "pushWindow");
    pushWindow = { start: hhmm(w.start, "pushWindow.start"), end: hhmm(w.end, "pushWindow.end"), timeZone: timeZone(w.timeZone, "pushWindow.timeZone") };
    if (pushWindow.start === pushWindow.end) bad("pushWindow.start and end are equal: the window would be empty");
  }
  const mode = o.mode ?? "silent";
  if (mode !== "silent" && mode !== "manual") bad(`mode must be "silent" or "manual"`);
  const r = o.rollout === undefined ? {} : object(o.rollout, "rollout");
  onlyKeys(r, ["wavePercent", "errorThresholdPercent"], "rollout");
  const rollout = {
    wavePercent: optNumber(r.wavePercent, "rollout.wavePercent", 1, 100) ?? 100,
    errorThresholdPercent: optNumber(r.errorThresholdPercent, "rollout.errorThresholdPercent", 0, 100) ?? 100,
  };
  const spec: PlanSpec = {
    name: o.name === undefined ? `${product} to ${targetVersion}` : text(o.name, "name", 100),
    product, packages: ids, targetVersion, sourceVersions, strategy, mode, rollout,
  };
  if (whitelist) spec.whitelist = whitelist;
  if (blacklist) spec.blacklist = blacklist;
  if (pushWindow) spec.pushWindow = pushWindow;
  return { spec, files: pkgs };
}

export interface PlanComponent {
  component: string;
  version: string;
}

/** The plan's components in the order a device applies them: the packages' order, then each
 * package's files in upload order; each with the version the plan brings it to. */
export function planComponents(pkgs: Package[]): PlanComponent[] {
  const out: PlanComponent[] = [];
  for (const p of pkgs) for (const f of p.files) if (!out.some((c) => c.component === f.component)) out.push({ component: f.component, version: f.version });
  return out;
}

/** Whether the plan names this device: the blacklist wins over the whitelist; no whitelist
 * means every device of the product. */
export function targets(spec: PlanSpec, product: string, device: string): boolean {
  if (product !== spec.product) return false;
  if (spec.blacklist?.includes(device)) return false;
  if (spec.whitelist && !spec.whitelist.includes(device)) return false;
  return true;
}

/** Minutes since midnight at `now` in the time zone. */
export function minutesIn(timeZone: string, now: number): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(now));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? "0");
  return get("hour") * 60 + get("minute");
}

/** Whether `now` is inside the plan's push window (always, without one). */
export function inWindow(spec: PlanSpec, now: number): boolean {
  const w = spec.pushWindow;
  if (!w) return true;
  const m = minutesIn(w.timeZone, now);
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const a = toMin(w.start);
  const b = toMin(w.end);
  return a < b ? m >= a && m < b : m >= a || m < b;
}

/** Devices admitted up to and including `wave` out of `targeted`. */
export function waveCapacity(spec: PlanSpec, wave: number, targeted: number): number {
  return Math.min(targeted, Math.ceil((targeted * Math.min(100, wave * spec.rollout.wavePercent)) / 100));
}

export type { Obj };
