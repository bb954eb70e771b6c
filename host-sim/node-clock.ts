// The clock port on Node timers. Every timer is tracked so that a simulated power cut can
// cancel what the dead agent left pending.

import type { ClockPort, TimerHandle } from "../src/ports.ts";
import { Rng } from "./rng.ts";

export class NodeClock implements ClockPort {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rng: Rng;
  constructor(seed = 1) {
    this.rng = new Rng(seed);
  }
  now(): number {
    return performance.now();
  }
  setTimeout(callback: () => void, ms: number): TimerHandle {
    const t = setTimeout(() => {
      this.timers.delete(t);
      callback();
    }, ms);
    this.timers.add(t);
    return { id: t };
  }
  clearTimeout(handle: TimerHandle): void {
    const t = handle.id as NodeJS.Timeout;
    clearTimeout(t);
    this.timers.delete(t);
  }
  random(): number {
    return this.rng.next();
  }
  /** Cancels every pending timer (the board lost power). */
  stopAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
