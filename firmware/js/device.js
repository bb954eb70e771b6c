// The firmware's Moddable modules, on the C natives of the global `__fw` (firmware/natives.c).
// The runtime bundle (host-sim/xs/runtime-entry.ts built by rollup with moddableGlobals()) imports
// its Moddable modules from the registry globalThis.__moddable, as with host-sim's xsnap shims
// (host-sim/xs/shims/): same module APIs, but here flash, digests, timers and the clock are
// native C on the board, and only HTTP and the preference store cross the link to the host.
//
//   embedded:storage/flash   partitions of the NOR flash (flash.c enforces the NOR rules)
//   crypt                    Digest MD5 / SHA256 (and CRC32) in C
//   timer, time              SysTick timers and clock of the run loop (xs-host.c)
//   http, securesocket       Request over the link; the host proxies it to the update server
//   preference, net          answered by the host (its key-value store and readings)
//   system                   System.restart(): SYSRESETREQ
//   ecp, curve, ecdsa, rsa   present, but throw when used: no public-key natives on this board
// Events from C: globalThis.__fwEvent(kind, a, b, payload); start: globalThis.__fwStart(json).
(function () {
  "use strict";
  const fw = globalThis.__fw;
  const EV = { TIMER: 2, HTTP_RESPONSE: 4, HTTP_DATA: 5, HTTP_END: 6, HTTP_ERROR: 7 };
  const REQ = { PREF_GET: 20, PREF_SET: 21, PREF_DELETE: 22, PREF_KEYS: 23, NET_GET: 8 };
  const ST = { BYTES: 0, JSON: 1, ERROR: 2, VOID: 3 };
  const PREF = { MISSING: 0, BOOLEAN: 1, INT32: 2, STRING: 3, BUFFER: 4 };
  const PREF_MAX_NAME = 15; // ESP32 NVS names
  const PREF_MAX_VALUE = 4000;

  function utf8(string) {
    return new Uint8Array(fw.utf8Encode(String(string)));
  }
  function fromUtf8(bytes) {
    return fw.utf8Decode(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  function toInteger(value) {
    const n = Math.trunc(Number(value));
    return Number.isFinite(n) ? n : 0;
  }
  /** A Uint8Array over an ArrayBuffer, a 1-byte typed array or a DataView (xsmcGetBufferReadable). */
  function bytesOf(buffer, what) {
    if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
    if (ArrayBuffer.isView(buffer) && (buffer instanceof DataView || buffer.BYTES_PER_ELEMENT === 1))
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    throw new TypeError(what ?? "invalid buffer");
  }

  // ---- registry ----
  const registry = {};
  Object.defineProperty(globalThis, "__moddable", { value: registry });
  function define(specifier, namespace) {
    registry[specifier] = Object.freeze(namespace);
  }
  function requireModule(specifier) {
    const ns = Object.prototype.hasOwnProperty.call(registry, specifier) ? registry[specifier] : undefined;
    if (!ns) throw new Error(`module "${specifier}" not found`);
    return ns;
  }
  Object.defineProperty(registry, "require", { value: requireModule });
  Object.defineProperty(registry, "import", {
    value: (specifier) => {
      try {
        return Promise.resolve(requireModule(String(specifier)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  });

  // ---- trace, console.error ----
  function trace(...args) {
    let text = "";
    for (const a of args) text += String(a);
    fw.trace(text);
  }
  Object.defineProperty(globalThis, "trace", { value: trace, configurable: true, writable: true });
  Object.defineProperty(globalThis, "console", {
    value: Object.freeze({ error: (...args) => fw.log(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" ")) }),
    configurable: true,
    writable: true,
  });

  // ---- host requests (preference, net) ----
  function request(op, payload) {
    const answer = new Uint8Array(fw.request(op, payload.buffer, payload.byteOffset, payload.byteLength));
    const body = answer.subarray(1);
    if (answer[0] === ST.BYTES) return body.slice().buffer;
    if (answer[0] === ST.VOID) return undefined;
    if (answer[0] === ST.JSON) return JSON.parse(fromUtf8(body));
    const info = JSON.parse(fromUtf8(body));
    throw new (info.name === "TypeError" ? TypeError : info.name === "RangeError" ? RangeError : Error)(info.message);
  }
  const requestJSON = (op, value) => request(op, utf8(JSON.stringify(value)));

  // ---- flash: partitions by the ESP32 natives' names ----
  let board; // {layout, runningSlot, flash: {size, sector, align, erased}}
  function partitionEntry(path) {
    const entries = board.layout;
    if (path === "running") return entries.find((e) => e.label === board.runningSlot);
    if (path === "nextota") {
      const slots = entries.filter((e) => e.type === 0x00 && e.subtype >= 0x10 && e.subtype <= 0x1f).sort((a, b) => a.subtype - b.subtype);
      if (!slots.length) return undefined;
      const i = slots.findIndex((e) => e.label === board.runningSlot);
      return slots[(i + 1) % slots.length];
    }
    if (path === "xs") return entries.find((e) => e.type === 0x40 && e.subtype === 0x01);
    return entries.find((e) => e.type === 0x01 && e.label === path);
  }
  const partitions = new WeakMap();
  function partitionOf(instance) {
    const p = partitions.get(instance);
    if (!p) throw new TypeError("closed");
    return p;
  }
  function check(p, offset, length) {
    if (offset < 0 || length < 0 || offset + length > p.size)
      throw new Error(`${p.label}: access [0x${offset.toString(16)}, +0x${length.toString(16)}) outside the partition`);
  }
  class FlashPartition {
    constructor() {
      throw new TypeError();
    }
    close() {
      partitions.delete(this);
    }
    eraseBlock(start, end) {
      const p = partitionOf(this);
      if (!p.writable) throw new Error("read-only");
      start = toInteger(start);
      end = end === undefined ? start + 1 : toInteger(end);
      const sector = board.flash.sector;
      check(p, start * sector, (end - start) * sector);
      fw.flashErase(p.address + start * sector, (end - start) * sector);
    }
    read(what, byteOffset) {
      const p = partitionOf(this);
      const offset = toInteger(byteOffset);
      if (typeof what === "number") {
        check(p, offset, toInteger(what));
        return fw.flashRead(p.address + offset, toInteger(what));
      }
      const target = bytesOf(what);
      check(p, offset, target.byteLength);
      target.set(new Uint8Array(fw.flashRead(p.address + offset, target.byteLength)));
      return target.byteLength;
    }
    write(buffer, byteOffset) {
      const p = partitionOf(this);
      if (!p.writable) throw new Error("read-only");
      const bytes = bytesOf(buffer);
      const offset = toInteger(byteOffset);
      check(p, offset, bytes.byteLength);
      fw.flashWrite(p.address + offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    status() {
      const p = partitionOf(this);
      return { size: p.size, blockLength: board.flash.sector, blocks: Math.floor(p.size / board.flash.sector) };
    }
    get format() {
      return "buffer";
    }
  }
  define("embedded:storage/flash", {
    default: Object.freeze({
      open(options) {
        if (!options || !("path" in options)) throw new Error("no path");
        let writable = true;
        if ("mode" in options) {
          const mode = String(options.mode);
          if (mode === "r") writable = false;
          else if (mode !== "r+") throw new Error("invalid mode");
        }
        const entry = partitionEntry(String(options.path));
        if (!entry) throw new Error("can't find partition");
        const instance = Object.create(FlashPartition.prototype);
        partitions.set(instance, { label: entry.label, address: entry.address, size: entry.size, writable });
        return instance;
      },
      [Symbol.iterator]() {
        return board.layout.map((e) => e.label)[Symbol.iterator]();
      },
    }),
  });

  // ---- crypt ----
  const digests = new WeakMap();
  const DIGEST_SIZES = { MD5: [64, 16], SHA256: [64, 32], CRC32: [1, 4] };
  class Digest {
    constructor(type) {
      const name = String(type);
      if (!DIGEST_SIZES[name]) throw new Error("crypt: unsupported digest");
      digests.set(this, { native: fw.digestNew(name), name });
    }
    write(data) {
      const bytes = typeof data === "string" ? utf8(data) : bytesOf(data);
      fw.digestWrite(digests.get(this).native, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    update(data) {
      this.write(data);
    }
    close() {
      return fw.digestClose(digests.get(this).native);
    }
    reset() {
      fw.digestReset(digests.get(this).native);
    }
    process(...chunks) {
      this.reset();
      for (const c of chunks) this.write(c);
      return this.close();
    }
    get blockSize() {
      return DIGEST_SIZES[digests.get(this).name][0];
    }
    get outputSize() {
      return DIGEST_SIZES[digests.get(this).name][1];
    }
  }
  define("crypt", { default: Object.freeze({ Digest }), Digest });

  // ---- timer, time ----
  const timers = new Map(); // id -> {timer, callback, repeat, state}
  const timerIds = new WeakMap();
  let nextTimerId = 1;
  function arm(id, initial, repeat) {
    const entry = timers.get(id);
    entry.repeat = repeat;
    entry.state = "armed";
    fw.timerSet(id, Math.max(0, toInteger(initial)), Math.max(0, toInteger(repeat)));
  }
  class Timer {
    static set(callback, initial, repeat) {
      if (typeof callback !== "function") throw new TypeError("callback is not a function");
      const id = nextTimerId++;
      const timer = Object.create(Timer.prototype);
      timerIds.set(timer, id);
      timers.set(id, { timer, callback, repeat: 0, state: "new" });
      arm(id, initial ?? 0, repeat ?? 0);
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
        fw.timerClear(id);
        return;
      }
      arm(id, initial, repeat ?? 0);
    }
    static clear(timer) {
      if (timer === undefined || timer === null) return;
      const id = timerIds.get(timer);
      if (id === undefined) throw new TypeError("not a timer");
      if (!timers.delete(id)) return;
      fw.timerClear(id);
    }
    static delay(ms) {
      const end = fw.ticks() + Math.max(0, toInteger(ms));
      while (fw.ticks() < end) {}
    }
  }
  define("timer", { default: Timer });
  function onTimer(id) {
    const entry = timers.get(id);
    if (!entry || entry.state !== "armed") return;
    const oneShot = !entry.repeat;
    if (oneShot) entry.state = "fired";
    try {
      entry.callback.call(globalThis, entry.timer);
    } finally {
      if (oneShot && timers.get(id) === entry && entry.state === "fired") timers.delete(id);
    }
  }
  const Time = {
    get ticks() {
      return Math.floor(fw.ticks()) | 0;
    },
    get microseconds() {
      return fw.ticks() * 1000;
    },
    delta(start, end) {
      if (end === undefined) end = this.ticks;
      return (end - start) | 0;
    },
    set() {},
    timezone: 0,
    dst: 0,
  };
  define("time", { default: Time });

  // ---- http ----
  class SecureSocket {
    constructor() {
      throw new Error("qemu firmware: sockets are not available; https goes through the host");
    }
  }
  define("securesocket", { default: SecureSocket });
  const requests = new Map(); // id -> state
  const requestStates = new WeakMap();
  let nextRequestId = 1;
  class Request {
    constructor(dictionary) {
      if (dictionary.socket) throw new Error("qemu firmware: http Server requests are not supported");
      dictionary = { port: 80, method: "GET", path: "/", ...dictionary };
      const scheme = dictionary.Socket === SecureSocket ? "https" : "http";
      const host = String(dictionary.host ? dictionary.host : dictionary.address);
      const headers = [];
      const h = dictionary.headers;
      if (h) for (let i = 0; i < h.length; i += 2) headers.push([String(h[i]), String(h[i + 1])]);
      if (dictionary.body === true) throw new Error("qemu firmware: streamed request bodies (body: true) are not supported");
      const body = dictionary.body ? (typeof dictionary.body === "string" ? utf8(dictionary.body) : bytesOf(dictionary.body, "invalid body")) : undefined;
      const json = JSON.stringify({ scheme, host, port: Number(dictionary.port), method: String(dictionary.method), path: String(dictionary.path), headers });
      const state = { id: nextRequestId++, request: this, response: dictionary.response, buffers: [], unread: [], unreadBytes: 0 };
      requests.set(state.id, state);
      requestStates.set(this, state);
      if (body) fw.httpOpen(state.id, json, body.buffer, body.byteOffset, body.byteLength);
      else fw.httpOpen(state.id, json);
    }
    read(type, limit) {
      const state = requestStates.get(this);
      if (!state) return undefined;
      if (arguments.length === 0) return state.unreadBytes;
      let n = state.unreadBytes;
      if (type === Number) n = Math.min(n, 1);
      if (typeof limit === "number") n = Math.min(n, Math.max(0, limit));
      if (n === 0) return undefined;
      const bytes = takeBytes(state, n);
      if (type === ArrayBuffer)
        return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
      if (type === String) return fromUtf8(bytes);
      if (type === Number) return bytes[0];
      return undefined;
    }
    close() {
      const state = requestStates.get(this);
      if (!state) return;
      requestStates.delete(this);
      requests.delete(state.id);
      if (Object.prototype.hasOwnProperty.call(this, "callback")) delete this.callback;
      fw.httpClose(state.id);
    }
  }
  Request.requestFragment = 0;
  Request.status = 1;
  Request.header = 2;
  Request.headersComplete = 3;
  Request.responseFragment = 4;
  Request.responseComplete = 5;
  Request.error = -2;
  function takeBytes(state, n) {
    state.unreadBytes -= n;
    const first = state.unread[0];
    if (first.byteLength >= n) {
      if (first.byteLength === n) state.unread.shift();
      else state.unread[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const piece = state.unread[0];
      const take = Math.min(piece.byteLength, n - at);
      out.set(take === piece.byteLength ? piece : piece.subarray(0, take), at);
      at += take;
      if (take === piece.byteLength) state.unread.shift();
      else state.unread[0] = piece.subarray(take);
    }
    return out;
  }
  const callback = (state, message, v1, v2) => state.request.callback.call(state.request, message, v1, v2);
  const open = (state) => requests.get(state.id) === state;
  function finish(state, error) {
    let data;
    if (!error && state.response) {
      let length = 0;
      for (const b of state.buffers) length += b.byteLength;
      const out = new Uint8Array(length);
      let at = 0;
      for (const b of state.buffers) {
        out.set(b, at);
        at += b.byteLength;
      }
      data = state.response === String ? fromUtf8(out) : out.buffer;
      state.buffers = [];
    }
    try {
      callback(state, error ? Request.error : Request.responseComplete, data);
    } finally {
      if (open(state)) state.request.close();
    }
  }
  class Server {
    constructor() {
      throw new Error("qemu firmware: http Server is not supported");
    }
  }
  define("http", { default: Object.freeze({ Request, Server }), Request, Server });

  // ---- preference (the host's store), net, system ----
  const nameOk = (name) => utf8(name).byteLength <= PREF_MAX_NAME;
  class Preference {
    static set(domain, key, value) {
      domain = String(domain);
      key = String(key);
      if (!nameOk(domain)) throw new Error("nvs_open fail");
      if (!nameOk(key)) throw new Error("nvs set fail");
      let tag;
      let bytes;
      if (typeof value === "boolean") {
        tag = PREF.BOOLEAN;
        bytes = Uint8Array.of(value ? 1 : 0);
      } else if (typeof value === "number") {
        if (!Number.isInteger(value) || value > 0x7fffffff || value < -0x80000000) throw new Error("float unsupported");
        tag = PREF.INT32;
        bytes = new Uint8Array(4);
        new DataView(bytes.buffer).setInt32(0, value, true);
      } else if (typeof value === "string") {
        tag = PREF.STRING;
        bytes = utf8(value);
      } else if (value instanceof ArrayBuffer) {
        tag = PREF.BUFFER;
        bytes = new Uint8Array(value);
      } else throw new Error("unsupported type");
      if (bytes.byteLength > PREF_MAX_VALUE) throw new Error("nvs set fail");
      const json = utf8(JSON.stringify({ domain, key }));
      const payload = new Uint8Array(4 + json.byteLength + 1 + bytes.byteLength);
      new DataView(payload.buffer).setUint32(0, json.byteLength, true);
      payload.set(json, 4);
      payload[4 + json.byteLength] = tag;
      payload.set(bytes, 5 + json.byteLength);
      request(REQ.PREF_SET, payload);
    }
    static get(domain, key) {
      domain = String(domain);
      key = String(key);
      if (!nameOk(domain) || !nameOk(key)) return undefined;
      const buffer = requestJSON(REQ.PREF_GET, { domain, key });
      const bytes = new Uint8Array(buffer);
      switch (bytes[0]) {
        case PREF.BOOLEAN:
          return bytes[1] !== 0;
        case PREF.INT32:
          return new DataView(buffer).getInt32(1, true);
        case PREF.STRING:
          return fromUtf8(bytes.subarray(1));
        case PREF.BUFFER:
          return buffer.slice(1);
        default:
          return undefined;
      }
    }
    static delete(domain, key) {
      domain = String(domain);
      key = String(key);
      if (nameOk(domain) && nameOk(key)) requestJSON(REQ.PREF_DELETE, { domain, key });
    }
    static keys(domain) {
      domain = String(domain);
      return nameOk(domain) ? requestJSON(REQ.PREF_KEYS, { domain }) : [];
    }
  }
  define("preference", { default: Preference });
  const Net = Object.freeze({
    get(name) {
      const value = request(REQ.NET_GET, utf8(String(name)));
      return value === null ? undefined : value;
    },
  });
  define("net", { default: Net });
  class System {
    static restart() {
      fw.restart();
    }
    static deepSleep() {
      fw.restart();
    }
  }
  define("system", { default: System });
  Object.defineProperty(globalThis, "System", { value: System, configurable: true, writable: true });

  // ---- public-key modules: not on this board ----
  // The platform's SignaturePort imports the SDK's `ecp`, `curve`, `ecdsa` and `rsa` (native
  // big-number arithmetic on a device). The emulated board has no such natives: the modules exist
  // so the runtime loads, and using one throws, so a board configured with keys refuses every
  // image (-3) instead of installing one unchecked. Boards without keys never call them.
  function noPublicKeyNatives(name) {
    return class {
      constructor() {
        throw new Error(`${name}: no public-key natives on the emulated board`);
      }
    };
  }
  for (const name of ["ecp", "curve", "ecdsa", "rsa"]) define(name, { default: noPublicKeyNatives(name) });

  // ---- events from the run loop ----
  Object.defineProperty(globalThis, "__fwEvent", {
    value(kind, a, b, buffer) {
      const state = kind === EV.TIMER ? undefined : requests.get(a);
      switch (kind) {
        case EV.TIMER:
          onTimer(a);
          return;
        case EV.HTTP_RESPONSE: {
          if (!state) return;
          const headers = JSON.parse(fromUtf8(new Uint8Array(buffer)));
          callback(state, Request.status, b);
          for (const [name, value] of headers) {
            if (!open(state)) return;
            callback(state, Request.header, String(name).toLowerCase(), String(value).trim());
          }
          if (open(state)) callback(state, Request.headersComplete);
          return;
        }
        case EV.HTTP_DATA: {
          if (!state || !buffer.byteLength) return;
          const payload = new Uint8Array(buffer);
          if (state.response) {
            state.buffers.push(payload);
            return;
          }
          state.unread.push(payload);
          state.unreadBytes += payload.byteLength;
          callback(state, Request.responseFragment, state.unreadBytes);
          return;
        }
        case EV.HTTP_END:
          if (state) finish(state, false);
          return;
        case EV.HTTP_ERROR:
          if (state) finish(state, true);
          return;
      }
    },
  });

  // ---- start: {args, flash} from the host; main(args) is the bundle's entry ----
  const describe = (e) => (e instanceof Error ? { name: e.name, message: e.message, stack: typeof e.stack === "string" ? e.stack : undefined } : { name: "Error", message: String(e) });
  Object.defineProperty(globalThis, "__fwStart", {
    value(json) {
      const start = JSON.parse(json);
      board = { layout: start.args.layout, runningSlot: start.args.runningSlot, flash: start.flash };
      const f = start.flash;
      fw.flashConfig(f.size, f.sector, f.align, f.erased, f.staging, f.mailbox, f.mailboxSize);
      const settle = (ok) => (value) => {
        let text;
        try {
          text = ok ? JSON.stringify(value === undefined ? null : value) : JSON.stringify(describe(value));
        } catch (e) {
          ok = false;
          text = JSON.stringify({ name: "Error", message: `result not serialisable: ${describe(e).message}` });
        }
        fw.done(ok, text);
      };
      let promise;
      if (start.bench && start.bench.digests) {
        // bench/qemu.ts: the three digests in C over a flash range, no runtime.
        const d = start.bench.digests;
        fw.done(true, JSON.stringify({ digestsUs: fw.benchDigests(d.address, d.length) }));
        return;
      }
      try {
        if (typeof globalThis.main !== "function") throw new TypeError("the bundle did not define globalThis.main()");
        promise = Promise.resolve(globalThis.main(start.args));
      } catch (e) {
        promise = Promise.reject(e);
      }
      promise.then(settle(true), settle(false));
    },
  });
})();
