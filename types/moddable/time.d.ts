// `import Time from "time"`. Written from shared/reference/moddable-sdk.md §6.1 and §9.
// ESP32 builds include and preload "time" automatically ($(MODULES)/base/time/manifest.json).

declare module "time" {
  export default class Time {
    private constructor();
    /** Milliseconds since an arbitrary origin. A signed 32-bit counter on MCUs: it wraps. */
    static readonly ticks: number;
    /** end (default: now) minus start, in milliseconds, across a wrap of ticks. */
    static delta(start: number, end?: number): number;
    /** Sets the wall clock (Unix seconds). Until SNTP or set() runs, Date reads about 1970. */
    static set(seconds: number): void;
    static timezone: number;
    static dst: number;
    /** Needs $(MODULES)/base/microseconds/manifest.json. */
    static readonly microseconds?: number;
  }
}
