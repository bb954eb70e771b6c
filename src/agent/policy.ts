// Whether the device should take an offer now: battery, signal and free space against the
// offer's thresholds (QuecThing-style plans carry them), with the reason when it should not.

import type { Offer } from "./offer.ts";

export interface Readings {
  batteryPercent: number | undefined;
  rssi: number | undefined;
  /** Bytes available for the image: the inactive slot's size. */
  freeSpace: number;
}

export interface PolicyDecision {
  accept: boolean;
  reason: string;
}

export function decide(offer: Offer, r: Readings): PolicyDecision {
  if (offer.size > r.freeSpace) return { accept: false, reason: `image of ${offer.size} bytes does not fit the ${r.freeSpace}-byte slot` };
  if (offer.requiredSpace !== undefined && offer.requiredSpace > r.freeSpace) {
    return { accept: false, reason: `plan needs ${offer.requiredSpace} bytes, the slot has ${r.freeSpace}` };
  }
  if (offer.minBattery !== undefined) {
    if (r.batteryPercent === undefined) return { accept: false, reason: "plan needs a battery reading and the board has none" };
    if (r.batteryPercent < offer.minBattery) return { accept: false, reason: `battery ${r.batteryPercent}% is below ${offer.minBattery}%` };
  }
  if (offer.minSignal !== undefined) {
    if (r.rssi === undefined) return { accept: false, reason: "plan needs a signal reading and the radio is not connected" };
    if (r.rssi < offer.minSignal) return { accept: false, reason: `signal ${r.rssi} dBm is below ${offer.minSignal} dBm` };
  }
  return { accept: true, reason: "accepted" };
}
