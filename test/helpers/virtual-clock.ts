// Virtual time for tests: ClockPorts whose timers fire in due order, time jumping to the next
// one whenever the process is idle (a setImmediate turn after the microtasks), so a test of
// minutes of stalls and backoffs runs in milliseconds. Each clock made from one VirtualTime
// counts its own live timers: a test asserts that the runtime left none pending.

import type { ClockPort, TimerHandle } from "../../src/ports.ts";

interface Entry {
  at: number;
  seq: number;
  cb: () => void;
  owner: Set<number>;
}

export interface CountingClock extends ClockPort {
  /** Timers set on this clock that have neither fired nor been cleared. */
  readonly live: number;
  /** Timers set on this clock so far. */
  readonly created: number;
}

export class VirtualTime {
  now = 0;
  /** Timers fired so far (a runaway guard for the tests). */
  fired = 0;
  private seq = 0;
  private readonly timers = new Map<number, Entry>();
  private pumping = false;

  /** A clock on this time; random() is fixed so backoffs are reproducible. */
  clock(random = 0.5): CountingClock {
    const mine = new Set<number>();
    let created = 0;
    return {
      now: () => this.now,
      setTimeout: (cb, ms) => {
        const id = ++this.seq;
        created++;
        mine.add(id);
        this.timers.set(id, { at: this.now + Math.max(0, ms), seq: id, cb, owner: mine });
        this.schedule();
        return { id };
      },
      clearTimeout: (h: TimerHandle) => {
        const id = h.id as number;
        this.timers.delete(id);
        mine.delete(id);
      },
      random: () => random,
      get live() {
        return mine.size;
      },
      get created() {
        return created;
      },
    };
  }

  private schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumping = false;
    let next: [number, Entry] | undefined;
    for (const e of this.timers) if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq)) next = e;
    if (!next) return;
    const [id, e] = next;
    this.timers.delete(id);
    e.owner.delete(id);
    this.now = Math.max(this.now, e.at);
    this.fired++;
    e.cb();
    if (this.timers.size > 0) this.schedule();
  }
}
