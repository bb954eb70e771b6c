// `import Timer from "timer"`. Written from shared/reference/moddable-sdk.md §6.1.
// ESP32 builds include and preload "timer" automatically ($(MODULES)/base/timer/manifest.json).

declare module "timer" {
  /** An opaque timer object. */
  export interface TimerID {
    readonly __moddableTimer: unique symbol;
  }

  /** Called with the timer; `this` is globalThis. */
  export type TimerCallback = (timer: TimerID) => void;

  export default class Timer {
    private constructor();
    /** One-shot after `ms` (immediate when omitted), or repeating when `interval` is given. One-shot timers clear themselves once fired. */
    static set(callback: TimerCallback, ms?: number, interval?: number): TimerID;
    static repeat(callback: TimerCallback, interval: number): TimerID;
    /** With no time arguments it unschedules the timer (which stays valid). */
    static schedule(timer: TimerID, ms?: number, interval?: number): void;
    /** undefined and null are accepted. */
    static clear(timer: TimerID | undefined | null): void;
    /** Blocks for `ms`. */
    static delay(ms: number): void;
  }
}
