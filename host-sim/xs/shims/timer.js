// host-sim XS shims: timer and time. Shares the scope of core.js (see there).
//
// "timer" (modules/base/timer/timer.js), static methods:
//   Timer.set(callback, initial?, repeat?) -> timer; without `initial` it fires as soon as
//     possible (an "immediate" timer); with `repeat` it fires every `repeat` ms after `initial`
//   Timer.repeat(callback, ms)             = Timer.set(callback, ms, ms)
//   Timer.schedule(timer, initial?, repeat?) re-arms; without times it unschedules (the timer
//     stays valid)
//   Timer.clear(timer)                      undefined and null are accepted
//   Timer.delay(ms)                         blocks
// The callback is called with (timer) and `this === globalThis`. A one-shot timer is released
// after it fires unless its callback scheduled it again. The host owns the clock (real or
// virtual time) and delivers expiries as events, one per XS turn.
// "time" (typings/time.d.ts): Time.ticks (ms, a signed 32-bit value that wraps on MCUs),
//   Time.delta(start, end = ticks), Time.set(seconds), timezone, dst, microseconds.

const timers = new Map(); // id -> {timer, callback, repeat, state}
const timerIds = new WeakMap(); // timer object -> id
let nextTimerId = 1;

function timerArm(id, initial, repeat) {
  const entry = timers.get(id);
  entry.repeat = repeat;
  entry.state = "armed";
  post(OP.TIMER_SET, id, Math.max(0, toInteger(initial)), Math.max(0, toInteger(repeat)));
}

class Timer {
  static set(callback, initial, repeat) {
    if (typeof callback !== "function") throw new TypeError("callback is not a function");
    const id = nextTimerId++;
    const timer = Object.create(Timer.prototype);
    timerIds.set(timer, id);
    timers.set(id, { timer, callback, repeat: 0, state: "new" });
    timerArm(id, initial ?? 0, repeat ?? 0);
    return timer;
  }
  static repeat(callback, ms) {
    return Timer.set(callback, ms, ms);
  }
  static schedule(timer, initial, repeat) {
    const id = timerIds.get(timer);
    if (id === undefined || !timers.has(id)) throw new Error("timer cleared");
    if (initial === undefined) {
      timers.get(id).state = "idle";
      post(OP.TIMER_CLEAR, id);
      return;
    }
    timerArm(id, initial, repeat ?? 0);
  }
  static clear(timer) {
    if (timer === undefined || timer === null) return;
    const id = timerIds.get(timer);
    if (id === undefined) throw new TypeError("not a timer");
    if (!timers.has(id)) return;
    timers.delete(id);
    post(OP.TIMER_CLEAR, id);
  }
  static delay(ms) {
    call(OP.TIMER_DELAY, Math.max(0, toInteger(ms)));
  }
}
nativeMethods(Timer, ["set", "repeat", "schedule", "clear", "delay"]);
Object.freeze(Timer.prototype);
define("timer", { default: Timer });

onEvent(EV.TIMER, (id) => {
  const entry = timers.get(id);
  if (!entry || entry.state !== "armed") return;
  const oneShot = !entry.repeat;
  if (oneShot) entry.state = "fired";
  try {
    callUser(entry.callback, globalThis, [entry.timer]);
  } finally {
    // released unless the callback re-armed it (or cleared it)
    if (oneShot && timers.get(id) === entry && entry.state === "fired") timers.delete(id);
  }
});

const Time = {
  get ticks() {
    pause();
    try {
      return call(OP.TIME_TICKS);
    } finally {
      resume();
    }
  },
  get microseconds() {
    return this.ticks * 1000;
  },
  delta: native(function delta(start, end) {
    if (end === undefined) end = Time.ticks;
    return (end - start) | 0;
  }),
  set: native(function set(seconds) {
    callJSON(OP.TIME_SET, { seconds: Number(seconds) });
  }),
  timezone: 0,
  dst: 0,
};
define("time", { default: Time });
