// ClockPort on `time` and `timer` (moddable-sdk.md §6.1). Time.ticks is a 32-bit millisecond
// counter that wraps on MCUs (about every 24.8 days when signed); now() unwraps it into a
// monotonic count from the clock's creation, which stays correct as long as now() is called at
// least once per wrap period. The wall clock (Date) is not used: it reads about 1970 until SNTP.

import Time from "time";
import Timer from "timer";
import type { ClockPort, TimerHandle } from "../../ports.ts";

class ModdableTimerHandle implements TimerHandle {
  readonly id: Timer;
  fired = false;
  constructor(id: Timer) {
    this.id = id;
  }
}

export class ModdableClock implements ClockPort {
  #last: number;
  #elapsed = 0;

  constructor() {
    this.#last = Time.ticks;
  }

  now(): number {
    const ticks = Time.ticks;
    // The difference of two 32-bit counter readings, wrap included (same as Time.delta).
    this.#elapsed += (ticks - this.#last) | 0;
    this.#last = ticks;
    return this.#elapsed;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    let handle: ModdableTimerHandle | undefined = undefined;
    const id = Timer.set(() => {
      if (handle) handle.fired = true;
      callback();
    }, Math.max(0, ms));
    handle = new ModdableTimerHandle(id);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    // One-shot timers clear themselves when they fire; clear only pending ones.
    if (handle instanceof ModdableTimerHandle) {
      if (!handle.fired) {
        handle.fired = true;
        Timer.clear(handle.id);
      }
    }
  }

  random(): number {
    return Math.random();
  }
}
