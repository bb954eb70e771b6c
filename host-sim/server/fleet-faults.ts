// The fault mix of `xs-ota sim fleet`: each device's faults are drawn from the fleet's seed and
// the device's index alone (so a run is reproducible and a board's faults do not depend on the
// others'), each kind its own choice:
//  - lowBattery / lowSignal: the board reads a battery (10%) or a signal (-100 dBm) below the
//    plan's strategy (FLEET_STRATEGY), so its policy refuses the offer: counted as rejected. Such
//    a board gets no other fault (it never downloads).
//  - drops: the connection is closed right after an image byte (HttpMeter.dropAt).
//  - reboots: a clean restart (as if the watchdog fired) once the download has written a given
//    image byte: the program stops, the flash stays intact, the board boots again.
//  - powerCuts: power lost inside a flash operation (NorFlash cut: a torn write or erase, or
//    just before the operation), either at the nth write/erase into the slot being downloaded, or at the nth
//    write/erase of otadata after the download began (the boot-flag write); the board powers on
//    again and must recover.
// Used by the node device (sim-device.ts) and meant for any other device class of the fleet.

import { findOtadata, findOtaSlots } from "../../src/targets/esp-idf/partition-table.ts";
import type { SimBoard } from "../board.ts";
import type { CutMode } from "../flash/nor-flash.ts";
import { Rng } from "../rng.ts";

export type FaultMix = "none" | "mix";
export const FAULT_MIXES: readonly FaultMix[] = Object.freeze(["none", "mix"]);

export const FAULT_KINDS = Object.freeze(["drops", "reboots", "powerCuts", "lowBattery", "lowSignal"] as const);
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCounts = Record<FaultKind, number>;

/** The fleet plan's strategy: what low battery and low signal fall short of. */
export const FLEET_STRATEGY = Object.freeze({ minBattery: 20, minSignal: -90, retries: 2 });

/** Chance of each kind, per device (refused boards first, then the others independently). */
const CHANCE = Object.freeze({ lowBattery: 0.05, lowSignal: 0.05, drops: 0.2, reboots: 0.2, powerCuts: 0.2 });

export interface PowerCutFault {
  /** download: a write/erase into the slot being written; boot-flag: a write/erase of otadata
   * after the first one into that slot. */
  during: "download" | "boot-flag";
  /** 1-based, among the writes and erases of that region. */
  nth: number;
  /** The operation is torn (torn-write or torn-erase, whichever it is), else cut just before. */
  torn: boolean;
  seed: number;
  /** The image bytes received by then: where an engine that cannot cut inside a flash operation
   * (engine xs) loses power instead. */
  lossAt: number;
}

export interface DeviceFaults {
  battery: number;
  rssi: number;
  /** Image bytes after which the connection is closed (HttpMeter.dropAt). */
  dropAt: number[];
  /** Image bytes written after which the board restarts, ascending. */
  restartAt: number[];
  powerCut?: PowerCutFault;
  /** The kinds drawn for this device. */
  kinds: FaultKind[];
}

export const HEALTHY = Object.freeze({ battery: 90, rssi: -60 });

/** The faults of device `index` (0-based) of a fleet updating to an image of `imageSize` bytes. */
export function deviceFaults(index: number, o: { mix: FaultMix; imageSize: number; seed?: number }): DeviceFaults {
  if (!Number.isInteger(index) || index < 0) throw new Error(`device index must be a non-negative integer, got ${index}`);
  if (!Number.isInteger(o.imageSize) || o.imageSize < 1) throw new Error(`image size must be a positive integer, got ${o.imageSize}`);
  if (!FAULT_MIXES.includes(o.mix)) throw new Error(`fault mix must be ${FAULT_MIXES.join(" or ")}, got ${JSON.stringify(o.mix)}`);
  const f: DeviceFaults = { ...HEALTHY, dropAt: [], restartAt: [], kinds: [] };
  if (o.mix === "none") return f;
  const rng = new Rng(((o.seed ?? 1) * 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const size = o.imageSize;
  const refusal = rng.next();
  if (refusal < CHANCE.lowBattery) {
    f.battery = FLEET_STRATEGY.minBattery - 10;
    f.kinds.push("lowBattery");
    return f;
  }
  if (refusal < CHANCE.lowBattery + CHANCE.lowSignal) {
    f.rssi = FLEET_STRATEGY.minSignal - 10;
    f.kinds.push("lowSignal");
    return f;
  }
  // Each draw is made whether or not the kind is chosen, so that one kind's choice does not
  // shift the others'.
  const drop = [rng.next(), 1 + rng.int(size - 1)];
  const restart = [rng.next(), 1 + rng.int(size - 1)];
  const cut = [rng.next(), rng.int(2), rng.next(), rng.int(3), rng.int(0x7fffffff)];
  if (drop[0] < CHANCE.drops) {
    f.dropAt.push(drop[1]);
    f.kinds.push("drops");
  }
  if (restart[0] < CHANCE.reboots) {
    f.restartAt.push(restart[1]);
    f.kinds.push("reboots");
  }
  if (cut[0] < CHANCE.powerCuts) {
    const during = cut[1] === 0 ? "download" : "boot-flag";
    // The download erases one 4 KiB sector per 4 KiB of image and writes it in pieces of at
    // most a sector; the boot-flag write is an erase and a write of one otadata sector.
    const ops = during === "download" ? 2 * Math.ceil(size / 4096) : 2;
    const nth = 1 + Math.floor(cut[2] * ops);
    const lossAt = during === "download" ? Math.min(size, Math.ceil(nth / 2) * 4096) : size;
    f.powerCut = { during, nth, torn: cut[3] > 0, seed: cut[4], lossAt };
    f.kinds.push("powerCuts");
  }
  return f;
}

/** Arms `cut` on `board`: counts the writes and erases of its region as they happen, and cuts
 * the power inside the nth one (the NorFlash cut, as `xs-ota sim torture` arms it). `onCut` runs
 * just before the operation throws PowerCut. The hook carries over power cycles; it fires once. */
export function armPowerCut(board: SimBoard, cut: PowerCutFault, onCut: () => void): void {
  const running = board.running || "ota_0";
  const slot = findOtaSlots(board.entries).find((e) => e.label !== running);
  const otadata = findOtadata(board.entries);
  if (!slot || !otadata) throw new Error(`board ${board.profile.name} has no second OTA slot or no otadata to cut in`);
  const inside = (address: number, e: { address: number; size: number }) => address >= e.address && address < e.address + e.size;
  let downloading = false;
  let seen = 0;
  let fired = false;
  board.flash.onOp = (op, index) => {
    if (fired) return;
    const inSlot = inside(op.address, slot);
    downloading ||= inSlot;
    const counts = cut.during === "download" ? inSlot : downloading && inside(op.address, otadata);
    if (!counts || ++seen !== cut.nth) return;
    fired = true;
    onCut();
    const mode: CutMode = !cut.torn ? "before" : op.kind === "write" ? "torn-write" : "torn-erase";
    // The flash calls onOp before it looks for a planned cut at this index: this cut is taken.
    board.flash.armCuts([{ at: index, mode, seed: cut.seed }]);
  };
}

export function emptyCounts(): FaultCounts {
  return { drops: 0, reboots: 0, powerCuts: 0, lowBattery: 0, lowSignal: 0 };
}
