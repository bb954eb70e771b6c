// The XS side of host-sim/signatures-xs.ts: src/crypto and the image verifiers inside the real XS
// engine (xsnap), with the platform's native parts (SHA-256, ECDSA over a digest, raw RSA, and
// optionally SHA-512) and the image reads served by the host over xsnap's issueCommand, as
// Moddable's `crypt`, `ecdsa`, `rsa` and flash modules would be. Bundled by esbuild into a script
// that defines globalThis.xsSig; each function returns its result as JSON bytes.

import type { Digest, DigestPort, SignaturePort } from "../src/ports.ts";
import { ed25519Verify } from "../src/crypto/ed25519.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { emsaPssVerify, rsaPssVerify } from "../src/crypto/rsa-pss.ts";
import { verifySbv2Image } from "../src/targets/esp-idf/sbv2-signature.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { concatBytes, fromHex } from "../src/util/bytes.ts";

declare function issueCommand(request: ArrayBuffer): ArrayBuffer;

/** Request: u32 LE header length, JSON header, binary payload (see signatures-xs.ts). */
function call(header: object, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const req = new Uint8Array(4 + h.length + payload.length);
  new DataView(req.buffer).setUint32(0, h.length, true);
  req.set(h, 4);
  req.set(payload, 4 + h.length);
  return new Uint8Array(issueCommand(req.buffer));
}

/** A digest computed by the host on finish (native on a device). */
function hostDigest(algorithm: string): Digest {
  let parts: Uint8Array[] = [];
  return {
    update(data) {
      parts.push(data.slice());
    },
    finish() {
      const out = call({ op: "digest", algorithm }, concatBytes(...parts));
      parts = [];
      return out;
    },
  };
}

const digests: DigestPort = {
  create(algorithm) {
    if (algorithm !== "sha256") throw new Error(`no ${algorithm} here`);
    return hostDigest("sha256");
  },
};

function port(nativeWide: boolean): SignaturePort {
  return {
    ecdsaVerify(curve, publicKey, digest, r, s) {
      const lens = [publicKey.length, digest.length, r.length, s.length];
      return call({ op: "ecdsa", curve, lens }, concatBytes(publicKey, digest, r, s))[0] === 1;
    },
    rsaPublic(modulus, exponent, signature) {
      const reply = call({ op: "rsa", exponent, n: modulus.length }, concatBytes(modulus, signature));
      if (reply[0] !== 0) throw new RangeError("RSA: signature representative out of range");
      return reply.subarray(1);
    },
    createDigest: nativeWide ? (algorithm) => hostDigest(algorithm) : undefined,
  };
}

const read = (offset: number, length: number): Uint8Array => call({ op: "read", offset, length });
const json = (v: unknown): ArrayBuffer => new TextEncoder().encode(JSON.stringify(v)).buffer as ArrayBuffer;

(globalThis as Record<string, unknown>).xsSig = {
  ed25519(publicKey: string, message: string, signature: string, nativeWide = false): ArrayBuffer {
    return json(ed25519Verify(fromHex(publicKey), fromHex(message), fromHex(signature), port(nativeWide)));
  },
  emsaPss(mHash: string, em: string, modBits: number, saltLength: number): ArrayBuffer {
    return json(emsaPssVerify(fromHex(mHash), fromHex(em), modBits, saltLength, digests));
  },
  rsaPss(modulus: string, exponent: number, mHash: string, signature: string): ArrayBuffer {
    return json(rsaPssVerify(port(false), digests, { modulus: fromHex(modulus), exponent }, fromHex(mHash), fromHex(signature)));
  },
  mcuboot(limit: number, keyPems: string[], minSecurityCounter?: number): ArrayBuffer {
    const keys = keyPems.map((k) => parsePublicKey(k));
    const r = verifyMcubootImage(read, limit, { digests, signatures: port(false), keys, minSecurityCounter });
    return json({ valid: r.valid, version: r.version, securityCounter: r.securityCounter, hash: r.hash, signatures: r.signatures, errors: r.errors });
  },
  sbv2(limit: number, imageLength: number, trusted: string[]): ArrayBuffer {
    const r = verifySbv2Image(read, limit, imageLength, { digests, signatures: port(false), trustedKeyDigests: trusted.map(fromHex) });
    return json(r);
  },
};
