// host-sim XS shims: crypt. Shares the scope of core.js (see there).
//
// "crypt" (modules/crypt/digest/crypt.js + modCrypt.c): named export Digest, default export
// frozen {Digest, ...}. The host computes the digest natively (node:crypto), as the device does
// in C.
//   new Digest(name)   "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";
//                      others throw "crypt: unsupported digest"
//   write(data)        a String (its UTF-8 bytes) or any byte buffer / 1-byte view / DataView
//   update(data)       alias of write
//   close(more)        -> ArrayBuffer; with `more` truthy the state is kept (intermediate digest)
//   reset()
//   process(...chunks) reset, write each, close
//   blockSize, outputSize
// After close() without reset() a write does not throw: it updates a finalised context, so the
// next digest is not the digest of the new data (the host models it, see host.ts).
// BlockCipher / StreamCipher / Mode / GHASH are not provided (the OTA runtime does not use them);
// constructing one throws.

const digestIds = new WeakMap();
const digestRegistry =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((id) => {
        pause();
        try {
          call(OP.DIGEST_FREE, id);
        } catch {
          // the host is gone
        } finally {
          resume();
        }
      })
    : undefined;

function digestState(d) {
  const state = digestIds.get(d);
  if (!state) throw new TypeError("not a Digest");
  return state;
}

class Digest {
  constructor(type) {
    pause();
    try {
      const info = call(OP.DIGEST_NEW, 0, 0, 0, utf8(String(type)));
      digestIds.set(this, info);
      digestRegistry?.register(this, info.id);
    } finally {
      resume();
    }
  }
  write(data) {
    const bytes = typeof data === "string" ? utf8(data) : bytesOf(data);
    post(OP.DIGEST_WRITE, digestState(this).id, 0, 0, bytes);
  }
  close(more) {
    return call(OP.DIGEST_CLOSE, digestState(this).id, more ? 1 : 0);
  }
  reset() {
    post(OP.DIGEST_RESET, digestState(this).id);
  }
  get blockSize() {
    return digestState(this).blockSize;
  }
  get outputSize() {
    return digestState(this).outputSize;
  }
  process(...chunks) {
    this.reset();
    for (let i = 0; i < chunks.length; i++) this.write(chunks[i]);
    return this.close();
  }
  update(data) {
    this.write(data);
  }
}
nativeMethods(Digest.prototype, ["write", "close", "reset", "process", "update"]);

function unsupportedCipher() {
  throw new Error("host-sim: crypt ciphers are not provided");
}
class BlockCipher {
  constructor() {
    unsupportedCipher();
  }
}
class StreamCipher {
  constructor() {
    unsupportedCipher();
  }
}
class Mode {
  constructor() {
    unsupportedCipher();
  }
}
class GHASH {
  constructor() {
    unsupportedCipher();
  }
}

define("crypt", {
  default: Object.freeze({ Digest, BlockCipher, Mode, StreamCipher, GHASH }),
  Digest,
  BlockCipher,
  StreamCipher,
  Mode,
  GHASH,
});
