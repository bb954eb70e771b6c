// src/platform/moddable/signatures.ts (the SignaturePort on Moddable's ecdsa/curve/ecp/rsa/crypt)
// on fakes of the SDK modules that keep the SDK's semantics (test/helpers/moddable-crypto-fakes.ts):
// the SDK's ECDSA verify accepts s + n and never returns for s = 0, its RSA reduces c >= m, so the
// port must range-check r, s and c itself, check the point, and truncate the digest.

import test from "ava";
import { createECDH, createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { moddableCurve, moddableEcdsaVerify } from "../host-sim/ecdsa-verify.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { bigFromBE, bigToBE } from "../src/crypto/bigint.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import type { EcdsaCurve, SignaturePort } from "../src/ports.ts";
import { CRYPTO_FAKES, cryptoCalls } from "./helpers/moddable-crypto-fakes.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const CRYPT_FAKE = `
  import { createHash } from "node:crypto";
  export class Digest {
    constructor(name) { this.name = name.toLowerCase(); this.reset(); }
    reset() { this.h = createHash(this.name); }
    write(d) { this.h.update(ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d)); }
    close() { const out = this.h.digest(); return out.buffer.slice(out.byteOffset, out.byteOffset + out.length); }
  }`;

let loaded: Promise<{ ModdableSignatures: new () => SignaturePort }> | undefined;
function load(): Promise<{ ModdableSignatures: new () => SignaturePort }> {
  loaded ??= (async () => {
    const { build } = await import("esbuild");
    const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-sig-fakes-"));
    const files: Record<string, string> = {};
    for (const [name, source] of Object.entries({ ...CRYPTO_FAKES, crypt: CRYPT_FAKE })) {
      files[name] = path.join(dir, `fake-${name}.mjs`);
      writeFileSync(files[name], source);
    }
    const out = path.join(dir, "signatures.mjs");
    await build({
      entryPoints: [path.join(root, "src/platform/moddable/signatures.ts")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      logLevel: "silent",
      plugins: [{ name: "fakes", setup: (b) => b.onResolve({ filter: /.*/ }, (a) => (a.path in files ? { path: files[a.path] } : undefined)) }],
    });
    return import(out);
  })();
  return loaded;
}

interface Signed {
  curve: EcdsaCurve;
  point: Uint8Array;
  digest: Uint8Array;
  r: Uint8Array;
  s: Uint8Array;
  n: bigint;
}

function ecdsaCase(curve: EcdsaCurve, hash = curve === "p256" ? "sha256" : "sha384"): Signed {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve === "p256" ? "prime256v1" : "secp384r1" });
  const key = parsePublicKey(new Uint8Array((publicKey as KeyObject).export({ format: "der", type: "spki" })));
  if (key.kind !== "ecdsa") throw new Error("not an EC key");
  const message = Buffer.from(`image for ${curve}`);
  const sig = new Uint8Array(sign(hash, message, { key: privateKey, dsaEncoding: "ieee-p1363" }));
  const size = sig.length / 2;
  return {
    curve,
    point: key.point,
    digest: new Uint8Array(createHash(hash).update(message).digest()),
    r: sig.slice(0, size),
    s: sig.slice(size),
    n: moddableCurve(curve === "p256" ? "secp256r1" : "secp384r1")!.n,
  };
}

/**
 * A valid signature with s = 5, so that s + n still fits the curve's size: pick k, R = k·G (node's
 * ECDH), r = R.x mod n, and the digest e = s·k − r·d (mod n) that makes (r, s) valid for key d.
 */
function smallSCase(curve: EcdsaCurve): Signed {
  const nodeCurve = curve === "p256" ? "prime256v1" : "secp384r1";
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: nodeCurve });
  const key = parsePublicKey(new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
  if (key.kind !== "ecdsa") throw new Error("not an EC key");
  const size = curve === "p256" ? 32 : 48;
  const n = moddableCurve(curve === "p256" ? "secp256r1" : "secp384r1")!.n;
  const d = bigFromBE(new Uint8Array(Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url")));
  const k = (bigFromBE(new Uint8Array(createHash("sha512").update(`k ${curve}`).digest())) % (n - 1n)) + 1n;
  const ecdh = createECDH(nodeCurve);
  ecdh.setPrivateKey(bigToBE(k, size));
  const r = bigFromBE(new Uint8Array(ecdh.getPublicKey()).subarray(1, 1 + size)) % n;
  const s = 5n;
  const e = (((s * k - r * d) % n) + n) % n;
  return { curve, point: key.point, digest: bigToBE(e, size), r: bigToBE(r, size), s: bigToBE(s, size), n };
}

const reachedSdk = (): number => cryptoCalls().filter((c) => c.op === "ecdsa").length;

for (const curve of ["p256", "p384"] as const) {
  test.serial(`${curve}: a valid signature verifies through the SDK; r = 0, s = 0, r = n, s = n are refused before the SDK is called`, async (t) => {
    const port = new (await load()).ModdableSignatures();
    const v = ecdsaCase(curve);
    const size = v.r.length;
    t.true(port.ecdsaVerify(curve, v.point, v.digest, v.r, v.s));
    t.true(nodeSignatures.ecdsaVerify(curve, v.point, v.digest, v.r, v.s));
    const before = reachedSdk();
    const zero = new Uint8Array(size);
    const n = bigToBE(v.n, size);
    for (const [name, r, s] of [
      ["r = 0", zero, v.s],
      ["s = 0", v.r, zero],
      ["r = n", n, v.s],
      ["s = n", v.r, n],
      ["s = 2^k - 1", v.r, new Uint8Array(size).fill(0xff)],
      ["r longer than the order", Uint8Array.of(1, ...v.r), v.s],
    ] as const) {
      t.false(port.ecdsaVerify(curve, v.point, v.digest, r, s), name);
      t.false(nodeSignatures.ecdsaVerify(curve, v.point, v.digest, r, s), `${name} (node)`);
    }
    t.is(reachedSdk(), before, "no out-of-range value reached the SDK's verify (s = 0 never returns on the device)");
  });

  test.serial(`${curve}: (r, s + n), which the SDK's verify accepts, is refused by the port; a tampered signature or digest is refused`, async (t) => {
    const port = new (await load()).ModdableSignatures();
    const v = smallSCase(curve);
    const size = v.r.length;
    t.true(port.ecdsaVerify(curve, v.point, v.digest, v.r, v.s), "the constructed signature is valid");
    t.true(nodeSignatures.ecdsaVerify(curve, v.point, v.digest, v.r, v.s));
    const twin = bigToBE(bigFromBE(v.s) + v.n, size); // fits: s is small
    const x = bigFromBE(v.point.subarray(1, 1 + size));
    const y = bigFromBE(v.point.subarray(1 + size));
    t.true(moddableEcdsaVerify(curve, x, y, bigFromBE(v.digest), bigFromBE(v.r), bigFromBE(twin)), "the SDK's verify has no range check");
    t.false(port.ecdsaVerify(curve, v.point, v.digest, v.r, twin), "s + n");
    t.false(nodeSignatures.ecdsaVerify(curve, v.point, v.digest, v.r, twin), "s + n (node)");
    const badS = v.s.slice();
    badS[size - 1] ^= 1;
    t.false(port.ecdsaVerify(curve, v.point, v.digest, v.r, badS), "tampered s");
    const badDigest = v.digest.slice();
    badDigest[0] ^= 0x80;
    t.false(port.ecdsaVerify(curve, v.point, badDigest, v.r, v.s), "tampered digest");
  });

  test.serial(`${curve}: a point that is not on the curve, or not uncompressed, is refused without calling the SDK`, async (t) => {
    const port = new (await load()).ModdableSignatures();
    const v = ecdsaCase(curve);
    const before = reachedSdk();
    const off = v.point.slice();
    off[off.length - 1] ^= 1;
    t.false(port.ecdsaVerify(curve, off, v.digest, v.r, v.s), "y + 1");
    const compressed = v.point.slice(0, 1 + v.r.length);
    compressed[0] = 0x02;
    t.false(port.ecdsaVerify(curve, compressed, v.digest, v.r, v.s), "compressed form");
    const big = v.point.slice();
    big.fill(0xff, 1, 1 + v.r.length);
    t.false(port.ecdsaVerify(curve, big, v.digest, v.r, v.s), "x >= p");
    t.is(reachedSdk(), before);
  });
}

test.serial("p256 over a SHA-512 digest: e is its leftmost 256 bits (FIPS 186-5), not the whole digest as the SDK would take it", async (t) => {
  const port = new (await load()).ModdableSignatures();
  const v = ecdsaCase("p256", "sha512");
  t.is(v.digest.length, 64);
  t.true(nodeSignatures.ecdsaVerify("p256", v.point, v.digest, v.r, v.s));
  t.true(port.ecdsaVerify("p256", v.point, v.digest, v.r, v.s));
});

test.serial("rsaPublic: s^e mod n as the node port computes it; s >= n and a wrong length are RangeErrors before the SDK is called", async (t) => {
  const port = new (await load()).ModdableSignatures();
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 3072 });
  const key = parsePublicKey(new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
  if (key.kind !== "rsa") return t.fail("not an RSA key");
  const s = new Uint8Array(createHash("sha512").update("s").digest()).subarray(0, 48);
  const sig = new Uint8Array(key.modulus.length - 1);
  sig.set(s, 100);
  const full = Uint8Array.of(0, ...sig);
  t.deepEqual(port.rsaPublic(key.modulus, key.exponent, full), nodeSignatures.rsaPublic(key.modulus, key.exponent, full));
  const rsaCalls = (): number => cryptoCalls().filter((c) => c.op === "rsa").length;
  const before = rsaCalls();
  const nPlus = bigToBE(bigFromBE(key.modulus) + 5n, key.modulus.length);
  t.throws(() => port.rsaPublic(key.modulus, key.exponent, nPlus), { instanceOf: RangeError }, "s = n + 5, which the SDK reduces to 5");
  t.throws(() => port.rsaPublic(key.modulus, key.exponent, key.modulus), { instanceOf: RangeError }, "s = n");
  t.throws(() => port.rsaPublic(key.modulus, key.exponent, sig), { instanceOf: RangeError }, "one byte short");
  t.is(rsaCalls(), before);
});

test.serial("createDigest: SHA-384 and SHA-512 from crypt's Digest", async (t) => {
  const port = new (await load()).ModdableSignatures();
  for (const algorithm of ["sha384", "sha512"] as const) {
    const d = port.createDigest!(algorithm)!;
    d.update(Uint8Array.of(1, 2, 3));
    d.update(new TextEncoder().encode("abc"));
    t.deepEqual(d.finish(), new Uint8Array(createHash(algorithm).update(Uint8Array.of(1, 2, 3, 0x61, 0x62, 0x63)).digest()));
    d.update(Uint8Array.of(9));
    t.deepEqual(d.finish(), new Uint8Array(createHash(algorithm).update(Uint8Array.of(9)).digest()), "reusable after finish");
  }
});
