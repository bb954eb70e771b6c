// host-sim XS shims: restart and small platform modules. Shares the scope of core.js.
//
// "system" (modules/io/system/system.js): default export System, also installed as the global
//   System (as the preloaded module does on the device). System.restart() does not return: the
//   host stops this worker while the call is pending and boots a fresh one on the same flash.
// "mc/ffi" (XS FFI, documentation/xs/XS FFI.md): `new FFI().name(...args)`. esp_restart() is a
//   restart; any other name is forwarded to XsServices.system.ffi (e.g.
//   esp_ota_mark_app_valid_cancel_rollback); an unknown name throws.
// "net" (legacy): Net.get(name), e.g. "RSSI" (undefined when not associated).
// "mc/config": the frozen config object given to the engine (XsEngineOptions.config).
// "text/decoder", "text/encoder": the UTF-8 TextDecoder / TextEncoder classes (modules on the
//   device, not globals).

function restart() {
  call(OP.RESTART);
  throw new Error("host-sim: restart did not stop the worker");
}

class System {
  static restart() {
    restart();
  }
  static deepSleep() {
    restart();
  }
}
nativeMethods(System, ["restart", "deepSleep"]);
define("system", { default: System });
Object.defineProperty(globalThis, "System", { value: System, enumerable: false, configurable: true, writable: true });

const ffiCall = native(function ffiCall(name, args) {
  if (name === "esp_restart") restart();
  return callJSON(OP.FFI, { name, args });
});

class FFI {
  constructor() {
    return new Proxy(this, {
      get(target, name) {
        if (typeof name !== "string" || name === "then") return undefined;
        return (...args) => ffiCall(name, args);
      },
    });
  }
}
define("mc/ffi", { default: FFI });

const Net = Object.freeze({
  get: native(function get(name) {
    const value = call(OP.NET_GET, 0, 0, 0, utf8(String(name)));
    return value === null ? undefined : value;
  }),
});
define("net", { default: Net });

define("mc/config", { default: deepFreeze(CONFIG.config ?? {}) });

function deepFreeze(value) {
  if (value && typeof value === "object") {
    for (const key of Object.keys(value)) deepFreeze(value[key]);
    Object.freeze(value);
  }
  return value;
}

define("text/decoder", { default: NativeTextDecoder });
define("text/encoder", { default: NativeTextEncoder });
