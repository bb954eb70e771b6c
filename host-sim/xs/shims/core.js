// host-sim XS shims: core. Plain JavaScript that runs inside the XS engine (xsnap-worker).
//
// host.ts concatenates the shim files into one script:
//   (function (CONFIG) { "use strict"; <constants from protocol.ts> <core.js> <flash.js> ... })(config)
// so every file shares this function scope: core.js defines the bridge (call*, bytesOf, utf8,
// define, onEvent, callUser) and the other files define Moddable modules with it. Nothing here
// imports anything; the modules are published in the registry globalThis.__moddable, where
// the rollup plugin of host-sim/xs/moddable-globals.ts points the bundle's imports.
//
// Metering: the shims stand in for native code, which costs the device no JS work. Unless
// CONFIG.meterShims is true, every shim entry point pauses the XS meter (xsnap's resetMeter)
// and restores it on exit, so the compute figure of a run counts the runtime's own JS only.

// ---- capture xsnap's host functions before the device globals are removed -------------------
const xsIssueCommand = globalThis.issueCommand;
const xsResetMeter = globalThis.resetMeter;
const xsMeterLimit = globalThis.currentMeterLimit;
const NativeTextEncoder = globalThis.TextEncoder;
const NativeTextDecoder = globalThis.TextDecoder;
const NativeBase64 = globalThis.Base64;
const xsCollect = globalThis.gc;
const textEncoder = new NativeTextEncoder();
const textDecoder = new NativeTextDecoder();

// ---- meter pause / resume -----------------------------------------------------------------
let meterDepth = 0;
let meterSaved = 0;
const meterOn = !CONFIG.meterShims && typeof xsResetMeter === "function";

function pause() {
  if (meterDepth++ === 0 && meterOn) meterSaved = xsResetMeter(xsMeterLimit(), 0);
}
function resume() {
  if (--meterDepth === 0 && meterOn) xsResetMeter(xsMeterLimit(), meterSaved);
}
/** Wraps a shim function so that its own work is not metered. */
function native(fn) {
  return function (...args) {
    pause();
    try {
      return fn.apply(this, args);
    } finally {
      resume();
    }
  };
}
/** Calls user code from inside a paused section with metering back on. */
function callUser(fn, thisArg, args) {
  const depth = meterDepth;
  meterDepth = 0;
  if (meterOn) xsResetMeter(xsMeterLimit(), meterSaved);
  try {
    return fn.apply(thisArg, args);
  } finally {
    if (meterOn) meterSaved = xsResetMeter(xsMeterLimit(), 0);
    meterDepth = depth;
  }
}

/** Replaces methods of a prototype by unmetered versions. */
function nativeMethods(proto, names) {
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    d.value = native(d.value);
    Object.defineProperty(proto, name, d);
  }
}

function toInteger(value) {
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) ? n : 0;
}

// ---- bytes and text ---------------------------------------------------------------------------
function utf8(string) {
  return textEncoder.encode(string);
}
function fromUtf8(bytes) {
  return textDecoder.decode(bytes);
}

/** A Uint8Array over the bytes of an ArrayBuffer, a 1-byte typed array or a DataView, like
 * xsmcGetBufferReadable (xs/sources/xsmc.c): other views are a TypeError. */
function bytesOf(buffer, what) {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (buffer instanceof SharedArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) {
    if (buffer instanceof DataView || buffer.BYTES_PER_ELEMENT === 1)
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  throw new TypeError(what ?? "invalid buffer");
}

// ---- the issueCommand bridge ----------------------------------------------------------------
// A request is payload ++ 16-byte trailer (protocol.ts). ArrayBuffer slice/transfer are memcpy in
// XS, while TypedArray copies go element by element, hence this construction.
const scratch = new ArrayBuffer(HEADER_SIZE);
const canTransfer = typeof ArrayBuffer.prototype.transfer === "function";

/** `length` goes to trailer bytes 1..3 (protocol.ts): the posted requests before a request, or
 * the payload length of a posted request. A posted request never shares `scratch`. */
function envelope(op, a, b, c, payload, length = 0, own = false) {
  const n = payload ? payload.byteLength : 0;
  let buffer = own ? new ArrayBuffer(HEADER_SIZE) : scratch;
  if (n) {
    const source = payload.buffer;
    if (canTransfer && source instanceof ArrayBuffer) buffer = source.slice(payload.byteOffset, payload.byteOffset + n).transfer(n + HEADER_SIZE);
    else {
      buffer = new ArrayBuffer(n + HEADER_SIZE);
      new Uint8Array(buffer).set(payload);
    }
  }
  const dv = new DataView(buffer, n, HEADER_SIZE);
  dv.setUint32(0, (op | (length << 8)) >>> 0, true);
  dv.setUint32(4, a >>> 0, true);
  dv.setUint32(8, b >>> 0, true);
  dv.setUint32(12, c >>> 0, true);
  return buffer;
}

function errorFrom(payload) {
  let info;
  try {
    info = JSON.parse(fromUtf8(payload));
  } catch {
    info = { message: "host error" };
  }
  const C = info.name === "TypeError" ? TypeError : info.name === "RangeError" ? RangeError : Error;
  return new C(info.message);
}

// Posted requests: requests whose answer XS does not use and that the host cannot refuse (timer
// set/clear, digest input and reset) wait here and travel in front of the next request, or at the
// end of the turn as the operation's result (handleCommand below): one pipe round trip for many.
// The host handles them in order before that request, so it sees the same sequence of requests,
// at the same points of the run, as if each had been sent alone; nothing XS does in between
// reaches the host first. trace() is not posted: its line must reach the host even when XS dies
// right after it.
const posted = [];
let postedBytes = 0;
const POSTED_LIMIT = 256 * 1024; // flush beyond this; keeps lengths within trailer bytes 1..3

function post(op, a = 0, b = 0, c = 0, payload) {
  const n = payload ? payload.byteLength : 0;
  if (n >= POSTED_LIMIT) return void call(op, a, b, c, payload);
  const buffer = envelope(op, a, b, c, payload, n, true);
  posted.push(buffer);
  postedBytes += buffer.byteLength;
  if (postedBytes >= POSTED_LIMIT) call(OP.FLUSH);
}

/** The posted requests as one buffer (and the queue emptied), or undefined. */
function takePosted() {
  if (!posted.length) return undefined;
  const first = posted[0];
  const out = posted.length === 1 ? first : first.concat(...posted.slice(1));
  posted.length = 0;
  postedBytes = 0;
  return out;
}

/** Sends a request; returns the answer (ArrayBuffer for bytes, a value for JSON, undefined). */
function call(op, a = 0, b = 0, c = 0, payload) {
  let request;
  if (posted.length) {
    const before = takePosted();
    request = before.concat(envelope(op, a, b, c, payload, before.byteLength));
  } else request = envelope(op, a, b, c, payload);
  const answer = xsIssueCommand(request);
  const status = new DataView(answer).getUint8(0);
  if (status === ST.BYTES) return answer.slice(1);
  if (status === ST.VOID) return undefined;
  const body = new Uint8Array(answer, 1);
  if (status === ST.JSON) return JSON.parse(fromUtf8(body));
  throw errorFrom(body);
}
function callJSON(op, value, a = 0, b = 0) {
  return call(op, a, b, 0, utf8(JSON.stringify(value)));
}

// ---- module registry ----------------------------------------------------------------------
const registry = {};
Object.defineProperty(globalThis, "__moddable", { value: registry, enumerable: false, configurable: false, writable: false });

/** Publishes a module namespace: {default, ...named exports}. */
function define(specifier, namespace) {
  registry[specifier] = Object.freeze(namespace);
}
// require(specifier): the namespace, or throws like a module missing at link time.
// import(specifier): a promise of it, rejected like import() of a module missing from the build.
function requireModule(specifier) {
  const ns = Object.prototype.hasOwnProperty.call(registry, specifier) ? registry[specifier] : undefined;
  if (!ns) throw new Error(`module "${specifier}" not found`);
  return ns;
}
Object.defineProperty(registry, "require", { value: requireModule, enumerable: false });
Object.defineProperty(registry, "import", {
  value: (specifier) => {
    try {
      return Promise.resolve(requireModule(String(specifier)));
    } catch (e) {
      return Promise.reject(e);
    }
  },
  enumerable: false,
});

// ---- events from the host ---------------------------------------------------------------------
const eventHandlers = [];
function onEvent(kind, handler) {
  eventHandlers[kind] = handler;
}

function describe(e) {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: typeof e.stack === "string" ? e.stack : undefined };
  return { name: "Error", message: String(e) };
}

/** Reports an exception that escaped a callback; the host ends the run (the device would abort). */
function reportCallbackError(where, e) {
  try {
    callJSON(OP.CALLBACK_ERROR, { where, ...describe(e) });
  } catch {
    // the host is gone
  }
}

Object.defineProperty(globalThis, "handleCommand", {
  enumerable: false,
  configurable: true,
  writable: false,
  value: function handleCommand(message) {
    pause();
    try {
      const dv = new DataView(message);
      const kind = dv.getUint8(0);
      const handler = eventHandlers[kind];
      if (!handler) throw new Error(`unknown event ${kind}`);
      handler(dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true), new Uint8Array(message, HEADER_SIZE));
    } catch (e) {
      reportCallbackError("event", e);
    } finally {
      resume();
    }
    return endOfTurn;
  },
});
// xsnap reads `result` of handleCommand's value once the promise jobs have run: the requests
// posted during the whole turn go to the host with the operation's answer.
const endOfTurn = Object.freeze({
  get result() {
    return takePosted();
  },
});

// Measurements only (XsEngineOptions.liveHeap): collect garbage, so that the meter's heap count
// is the live heap. An event rather than an evaluated gc(): every evaluated script keeps a slot.
onEvent(EV.COLLECT, () => {
  if (typeof xsCollect === "function") xsCollect();
});

// ---- entry point ------------------------------------------------------------------------------
onEvent(EV.START, (a, b, c, payload) => {
  const args = payload.byteLength ? JSON.parse(fromUtf8(payload)) : undefined;
  const settle = (ok) =>
    native((value) => {
      try {
        const json = ok ? JSON.stringify(value === undefined ? null : value) : JSON.stringify(describe(value));
        call(OP.DONE, ok ? 0 : 1, 0, 0, utf8(json));
      } catch (e) {
        call(OP.DONE, 1, 0, 0, utf8(JSON.stringify({ name: "Error", message: `result not serialisable: ${describe(e).message}` })));
      }
    });
  let promise;
  try {
    const entry = globalThis[CONFIG.entry];
    if (typeof entry !== "function") throw new TypeError(`the bundle did not define globalThis.${CONFIG.entry}()`);
    promise = Promise.resolve(callUser(entry, globalThis, [args]));
  } catch (e) {
    promise = Promise.reject(e);
  }
  promise.then(settle(true), settle(false));
});

// ---- trace, console.error (unhandled rejections) --------------------------------------------
const trace = native(function trace(...args) {
  let text = "";
  for (const a of args) text += String(a);
  call(OP.TRACE, 0, 0, 0, utf8(text));
});
Object.defineProperty(globalThis, "trace", { value: trace, enumerable: false, configurable: true, writable: true });
// XS reports unhandled rejections through console.error when it exists (xsnapPlatform.c
// fxAbort). Devices have no console: only `error` is provided, so console.log still fails.
Object.defineProperty(globalThis, "console", {
  value: Object.freeze({
    error: native(function error(...args) {
      call(OP.TRACE, 1, 0, 0, utf8(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" ") + "\n"));
    }),
  }),
  enumerable: false,
  configurable: true,
  writable: true,
});

// ---- Moddable XS extensions that xsnap's XS lacks (moddable-sdk.md §9, xs.d.ts) ---------------
function polyfill(target, name, value) {
  if (!(name in target)) Object.defineProperty(target, name, { value, enumerable: false, configurable: true, writable: true });
}
polyfill(ArrayBuffer, "fromString", function fromString(string) {
  const bytes = utf8(String(string));
  return bytes.buffer.byteLength === bytes.byteLength ? bytes.buffer : bytes.slice().buffer;
});
polyfill(String, "fromArrayBuffer", function fromArrayBuffer(buffer) {
  return fromUtf8(new Uint8Array(buffer));
});
polyfill(ArrayBuffer.prototype, "concat", function concat(...buffers) {
  let length = this.byteLength;
  for (const b of buffers) length += bytesOf(b).byteLength;
  const out = new Uint8Array(length);
  out.set(new Uint8Array(this), 0);
  let at = this.byteLength;
  for (const b of buffers) {
    const u = bytesOf(b);
    out.set(u, at);
    at += u.byteLength;
  }
  return out.buffer;
});
const HEX = "0123456789abcdef";
polyfill(Uint8Array.prototype, "toHex", function toHex() {
  let s = "";
  for (let i = 0; i < this.length; i++) s += HEX[this[i] >> 4] + HEX[this[i] & 15];
  return s;
});
polyfill(Uint8Array, "fromHex", function fromHex(string) {
  if (string.length & 1) throw new SyntaxError("odd length");
  const out = new Uint8Array(string.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const v = parseInt(string.substr(i * 2, 2), 16);
    if (Number.isNaN(v)) throw new SyntaxError("invalid hex");
    out[i] = v;
  }
  return out;
});
if (NativeBase64) {
  polyfill(Uint8Array.prototype, "toBase64", function toBase64() {
    return NativeBase64.encode(this.buffer.slice(this.byteOffset, this.byteOffset + this.byteLength));
  });
  polyfill(Uint8Array, "fromBase64", function fromBase64(string) {
    return new Uint8Array(NativeBase64.decode(string));
  });
}

/** Removes xsnap's globals that Moddable devices do not have (runs after all shims). */
function finish() {
  for (const specifier of CONFIG.omitModules ?? []) delete registry[specifier];
  Object.freeze(registry);
  if (!CONFIG.deviceGlobals) return;
  for (const name of [
    "issueCommand",
    "resetMeter",
    "currentMeterLimit",
    "TextEncoder",
    "TextDecoder",
    "Base64",
    "print",
    "gc",
    "performance",
    "setImmediate",
    "harden",
  ])
    delete globalThis[name];
}
