// The XS side of host-sim/signatures-xs.ts: src/crypto and the image verifiers inside the real XS
// engine (xsnap), on the Moddable platform's ports: SignaturePort = src/platform/moddable/
// signatures.ts over the `ecdsa`, `curve`, `ecp`, `rsa` and `crypt` modules, DigestPort =
// digests.ts over `crypt`, the image read from the flash partition "image" through
// `embedded:storage/flash`. host-sim's shims serve those modules (host-sim/xs/shims/). Bundled by
// esbuild into a script whose globalThis.main({fn, args}) calls one of the functions below.

import FlashStorage from "embedded:storage/flash";
import type { SignaturePort } from "../src/ports.ts";
import { ed25519Verify } from "../src/crypto/ed25519.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { emsaPssVerify, rsaPssVerify } from "../src/crypto/rsa-pss.ts";
import { ModdableDigests } from "../src/platform/moddable/digests.ts";
import { ModdableSignatures } from "../src/platform/moddable/signatures.ts";
import { verifySbv2Image } from "../src/targets/esp-idf/sbv2-signature.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { fromHex, toHex } from "../src/util/bytes.ts";

const digests = new ModdableDigests();
const signatures = new ModdableSignatures();
/** The same port without native SHA-512 (Ed25519 then hashes with src/crypto/sha512.ts). */
const withoutWideDigests: SignaturePort = {
  ecdsaVerify: (...a) => signatures.ecdsaVerify(...a),
  rsaPublic: (...a) => signatures.rsaPublic(...a),
};

function reader(): (offset: number, length: number) => Uint8Array {
  const flash = FlashStorage.open({ path: "image", mode: "r" });
  return (offset, length) => new Uint8Array(flash.read(length, offset));
}

const functions: Record<string, (...args: never[]) => unknown> = {
  /** A benchmark's baseline: decodes the hex arguments and does nothing else. */
  decode(...hex: string[]): boolean {
    for (const h of hex) fromHex(h);
    return true;
  },
  ed25519(publicKey: string, message: string, signature: string, nativeWide = false): boolean {
    return ed25519Verify(fromHex(publicKey), fromHex(message), fromHex(signature), nativeWide ? signatures : withoutWideDigests);
  },
  ecdsa(curve: "p256" | "p384", publicKey: string, digest: string, r: string, s: string): boolean {
    return signatures.ecdsaVerify(curve, fromHex(publicKey), fromHex(digest), fromHex(r), fromHex(s));
  },
  rsaPublic(modulus: string, exponent: number, signature: string): string {
    try {
      return toHex(signatures.rsaPublic(fromHex(modulus), exponent, fromHex(signature)));
    } catch (e) {
      return e instanceof RangeError ? "RangeError" : "error";
    }
  },
  emsaPss(mHash: string, em: string, modBits: number, saltLength: number): boolean {
    return emsaPssVerify(fromHex(mHash), fromHex(em), modBits, saltLength, digests);
  },
  rsaPss(modulus: string, exponent: number, mHash: string, signature: string): boolean {
    return rsaPssVerify(signatures, digests, { modulus: fromHex(modulus), exponent }, fromHex(mHash), fromHex(signature));
  },
  mcuboot(limit: number, keyPems: string[], minSecurityCounter?: number): unknown {
    const keys = keyPems.map((k) => parsePublicKey(k));
    const r = verifyMcubootImage(reader(), limit, { digests, signatures, keys, minSecurityCounter });
    return { valid: r.valid, version: r.version, securityCounter: r.securityCounter, hash: r.hash, signatures: r.signatures, errors: r.errors };
  },
  sbv2(limit: number, imageLength: number, trusted: string[]): unknown {
    return verifySbv2Image(reader(), limit, imageLength, { digests, signatures, trustedKeyDigests: trusted.map(fromHex) });
  },
};

(globalThis as Record<string, unknown>).main = (call: { fn: string; args: unknown[] }): unknown => {
  const f = functions[call.fn];
  if (!f) throw new Error(`no function ${call.fn}`);
  return (f as (...args: unknown[]) => unknown)(...call.args);
};
