// host-sim XS shims: flash. Shares the scope of core.js (see there).
//
// "embedded:storage/flash" (ECMA-419, modules/io/flash/esp32/flash-esp32.{js,c}):
//   default export: frozen {open(options), [Symbol.iterator]()}
//   open({path, mode?}) -> instance; mode "r" | "r+" (default writable); no path -> "no path";
//     unknown partition -> "can't find partition"; other modes -> "invalid mode"
//   instance: read(byteLength, byteOffset) -> ArrayBuffer; read(buffer, byteOffset) -> byteLength
//             write(buffer, byteOffset) writes the whole buffer
//             eraseBlock(start, end = start + 1), end exclusive
//             status() -> {size, blockLength, blocks} (ESP32; the service may add Zephyr fields)
//             close(); format "buffer"
//   write/eraseBlock on a "r" partition -> "read-only"
// "flash" (legacy, modules/files/flash/flash.js + esp32/flash.c):
//   new Flash(name); erase(sector); read(offset, byteLength) -> ArrayBuffer;
//   write(offset, byteLength, buffer) (no bufferOffset: pass a view); byteLength, blockSize;
//   map() is not available in host-sim (it would have to be a live view of the partition).

function flashOpen(path, writable) {
  return callJSON(OP.FLASH_OPEN, { path, writable });
}

const partitionState = new WeakMap();

function partitionOf(instance) {
  const state = partitionState.get(instance);
  if (!state) throw new TypeError("closed");
  return state;
}

class FlashPartition {
  constructor() {
    throw new TypeError();
  }
  close() {
    const state = partitionState.get(this);
    if (!state) return;
    partitionState.delete(this);
    call(OP.FLASH_CLOSE, state.id);
  }
  eraseBlock(start, end) {
    const state = partitionOf(this);
    if (!state.writable) throw new Error("read-only");
    start = toInteger(start);
    end = end === undefined ? start + 1 : toInteger(end);
    call(OP.FLASH_ERASE, state.id, start, end);
  }
  read(what, byteOffset) {
    const state = partitionOf(this);
    const offset = toInteger(byteOffset);
    if (typeof what === "number") return call(OP.FLASH_READ, state.id, offset, toInteger(what));
    const target = bytesOf(what);
    if (target.byteLength) target.set(new Uint8Array(call(OP.FLASH_READ, state.id, offset, target.byteLength)));
    return target.byteLength;
  }
  write(buffer, byteOffset) {
    const state = partitionOf(this);
    if (!state.writable) throw new Error("read-only");
    call(OP.FLASH_WRITE, state.id, toInteger(byteOffset), 0, bytesOf(buffer));
  }
  status() {
    return call(OP.FLASH_STATUS, partitionOf(this).id);
  }
  get format() {
    return "buffer";
  }
  set format(value) {
    if (value != "buffer") throw new RangeError("invalid");
  }
}
nativeMethods(FlashPartition.prototype, ["close", "eraseBlock", "read", "write", "status"]);

const EmbeddedFlash = Object.freeze({
  open: native(function open(options) {
    if (!options || !("path" in options)) throw new Error("no path");
    const path = String(options.path);
    let writable = true;
    if ("mode" in options) {
      const mode = String(options.mode);
      if (mode === "r") writable = false;
      else if (mode !== "r+") throw new Error("invalid mode");
    }
    if ("format" in options && options.format !== "buffer") throw new RangeError("unsupported");
    const info = flashOpen(path, writable);
    const instance = Object.create(FlashPartition.prototype);
    partitionState.set(instance, { id: info.id, writable, size: info.size, blockSize: info.blockSize });
    return instance;
  }),
  [Symbol.iterator]: native(function iterator() {
    return call(OP.FLASH_LABELS)[Symbol.iterator]();
  }),
});
define("embedded:storage/flash", { default: EmbeddedFlash });

class Flash {
  #id;
  #size;
  #blockSize;
  constructor(name) {
    pause();
    try {
      if (typeof name !== "string") throw new Error("can't find partition");
      const info = flashOpen(name, true);
      this.#id = info.id;
      this.#size = info.size;
      this.#blockSize = info.blockSize;
    } finally {
      resume();
    }
  }
  erase(sector) {
    const s = toInteger(sector);
    call(OP.FLASH_ERASE, this.#id, s, s + 1);
  }
  read(offset, byteLength) {
    return call(OP.FLASH_READ, this.#id, toInteger(offset), toInteger(byteLength));
  }
  readString(offset, byteLength) {
    return fromUtf8(new Uint8Array(this.read(offset, byteLength)));
  }
  write(offset, byteLength, buffer) {
    const bytes = bytesOf(buffer);
    const n = toInteger(byteLength);
    if (n <= 0 || bytes.byteLength < n) throw new Error("invalid");
    call(OP.FLASH_WRITE, this.#id, toInteger(offset), 0, n === bytes.byteLength ? bytes : bytes.subarray(0, n));
  }
  map() {
    throw new Error("flash map() is not supported by host-sim");
  }
  get byteLength() {
    return this.#size;
  }
  get blockSize() {
    return this.#blockSize;
  }
}
nativeMethods(Flash.prototype, ["erase", "read", "readString", "write"]);
define("flash", { default: Flash });
