// `import Timer from "timer"`. Written from shared/reference/moddable-sdk.md §6.1.
// ESP32 builds include and preload "timer" automatically ($(MODULES)/base/timer/manifest.json).
// Names as in the SDK's typings/timer.d.ts: a timer is an instance of the default export class
// Timer (there is no separate id type), the callback type is TimerCallback.

declare module "timer" {
  /** Called with the timer; `this` is globalThis. */
  export type TimerCallback = (timer: Timer) => void;

  /** The module's functions are static; a timer they return is an opaque Timer instance. */
  class Timer {
    private constructor();
    /** One-shot after `interval` ms (immediate when omitted), or repeating every `repeat` ms when given. One-shot timers clear themselves once fired. */
    static set(callback: TimerCallback, interval?: number, repeat?: number): Timer;
    static repeat(callback: TimerCallback, interval: number): Timer;
    /** With no time arguments it unschedules the timer (which stays valid). */
    static schedule(timer: Timer, interval?: number, repeat?: number): void;
    /** undefined and null are accepted. */
    static clear(timer: Timer | undefined | null): void;
    /** Blocks for `milliseconds`. */
    static delay(milliseconds: number): void;
    private brand: boolean;
  }
  export { Timer as default };
}
