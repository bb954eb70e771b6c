// src/crypto and the image verifiers inside the real XS engine (xsnap, engine "xs"): Ed25519 and
// EMSA-PSS in portable TypeScript, and the MCUboot and Secure Boot V2 verifiers on the Moddable
// platform's SignaturePort (src/platform/moddable/signatures.ts) over host-sim's shims of
// ecdsa/curve/ecp/rsa/crypt (host-sim/signatures-xs.ts). Every result must equal the node engine's.

import test from "ava";
import { constants, createHash, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { XsSignatures } from "../host-sim/signatures-xs.ts";
import { ed25519Verify } from "../src/crypto/ed25519.ts";
import { parseEcdsaSignature, parsePublicKey } from "../src/crypto/public-key.ts";
import { bigFromBE, bigToBE } from "../src/crypto/bigint.ts";
import { moddableCurve } from "../host-sim/ecdsa-verify.ts";
import { emsaPssVerify } from "../src/crypto/rsa-pss.ts";
import { checkEspImage } from "../src/targets/esp-idf/esp-app-image.ts";
import { verifySbv2Image } from "../src/targets/esp-idf/sbv2-signature.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { fromHex, toHex } from "../src/util/bytes.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors");
const read = (f: string) => new Uint8Array(readFileSync(path.join(VECTORS, f)));
const text = (f: string) => readFileSync(path.join(VECTORS, f), "utf8");

let xs: XsSignatures;
test.before(async () => {
  xs = await XsSignatures.start();
});
test.after.always(async () => {
  await xs?.close();
});

test.serial("ed25519 in XS: MCUboot's signatures over the image digest verify, tampered ones do not, as on node", async (t) => {
  const pub = parsePublicKey(text("mcuboot/keys/ed25519.pub.pem"));
  if (pub.kind !== "ed25519") return t.fail("not an ed25519 key");
  const m = JSON.parse(text("mcuboot/manifest.json")) as { images: { file: string; keyType: string; pure: boolean; tlvs: { name: string; valueOffset: number; len: number }[] }[] };
  const cases = m.images.filter((e) => e.keyType === "ed25519" && !e.pure);
  t.true(cases.length >= 4);
  for (const e of cases) {
    const img = read(`mcuboot/${e.file}`);
    const at = (name: string) => {
      const v = e.tlvs.find((x) => x.name === name)!;
      return img.subarray(v.valueOffset, v.valueOffset + v.len);
    };
    const msg = at("SHA256");
    const sig = at("ED25519").slice();
    for (const nativeWide of [false, true]) {
      const r = await xs.call<boolean>("ed25519", toHex(pub.key), toHex(msg), toHex(sig), nativeWide);
      t.true(r.value, e.file);
      t.is(r.value, ed25519Verify(pub.key, msg, sig));
    }
    sig[40] ^= 2;
    const bad = await xs.call<boolean>("ed25519", toHex(pub.key), toHex(msg), toHex(sig));
    t.false(bad.value, `${e.file} tampered`);
    t.is(bad.value, ed25519Verify(pub.key, msg, sig));
  }
});

test.serial("RSA-PSS in XS: EMSA-PSS decoding over the host's raw RSA accepts node:crypto's signature and refuses an edit", async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 3072 });
  const key = parsePublicKey(new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
  if (key.kind !== "rsa") return t.fail("not an RSA key");
  const mHash = new Uint8Array(createHash("sha256").update("image").digest());
  const sig = new Uint8Array(sign("sha256", Buffer.from("image"), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  t.true((await xs.call<boolean>("rsaPss", toHex(key.modulus), key.exponent, toHex(mHash), toHex(sig))).value);
  const em = nodeSignatures.rsaPublic(key.modulus, key.exponent, sig);
  t.true((await xs.call<boolean>("emsaPss", toHex(mHash), toHex(em), 3072, 32)).value);
  em[200] ^= 1;
  const bad = await xs.call<boolean>("emsaPss", toHex(mHash), toHex(em), 3072, 32);
  t.false(bad.value);
  t.is(bad.value, emsaPssVerify(mHash, em, 3072, 32, nodeDigests));
  t.false((await xs.call<boolean>("rsaPss", toHex(key.modulus), key.exponent, toHex(mHash), "ff".repeat(384))).value, "s >= n");
});

test.serial("MCUboot verifier in XS: every vector's verdict and report equal the node engine's; a tampered image is refused on both", async (t) => {
  const m = JSON.parse(text("mcuboot/manifest.json")) as { images: { file: string; verifyKey?: string; expected: string }[] };
  for (const e of m.images) {
    const pems = e.verifyKey ? [text(`mcuboot/${e.verifyKey}`)] : [];
    for (const tamper of [false, true]) {
      const img = read(`mcuboot/${e.file}`);
      if (tamper) img[0x20 + 3] ^= 1;
      xs.image = img;
      const got = (await xs.call<Record<string, unknown>>("mcuboot", img.length, pems)).value;
      const node = verifyMcubootImage((o, n) => img.subarray(o, o + n), img.length, {
        digests: nodeDigests,
        signatures: nodeSignatures,
        keys: pems.map((p) => parsePublicKey(p)),
      });
      t.is(got.valid, tamper ? false : e.expected === "valid", `${e.file}${tamper ? " tampered" : ""}`);
      t.deepEqual(got, JSON.parse(JSON.stringify({ valid: node.valid, version: node.version, securityCounter: node.securityCounter, hash: node.hash, signatures: node.signatures, errors: node.errors })), e.file);
    }
  }
});

test.serial("Secure Boot V2 verifier in XS: every vector's verdict equals its manifest and the node engine's", async (t) => {
  const m = JSON.parse(text("esp-sbv2/manifest.json")) as { images: { file: string; trustedKeyDigests: string[]; expected: string }[] };
  for (const e of m.images) {
    const img = read(`esp-sbv2/${e.file}`);
    const rd = (o: number, n: number) => img.subarray(o, o + n);
    const len = checkEspImage(rd, img.length, nodeDigests).length;
    xs.image = img;
    const got = (await xs.call<Record<string, unknown>>("sbv2", img.length, len, e.trustedKeyDigests)).value;
    const node = verifySbv2Image(rd, img.length, len, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: e.trustedKeyDigests.map(fromHex) });
    t.is(got.valid, e.expected === "valid", e.file);
    t.deepEqual(got, JSON.parse(JSON.stringify(node)), e.file);
  }
});

test.serial("ECDSA through the Moddable port in XS (ecdsa/curve/ecp shims): MCUboot's P-256 and a P-384 signature verify; tampered, r = 0, s = 0, s = n, s >= n are refused without a native call", async (t) => {
  const m = JSON.parse(text("mcuboot/manifest.json")) as { images: { file: string; keyType: string; tlvs: { name: string; valueOffset: number; len: number }[] }[] };
  const e = m.images.find((x) => x.keyType === "ecdsa-p256")!;
  const img = read(`mcuboot/${e.file}`);
  const at = (name: string) => {
    const v = e.tlvs.find((x) => x.name === name)!;
    return img.subarray(v.valueOffset, v.valueOffset + v.len);
  };
  const p256 = parsePublicKey(text("mcuboot/keys/ecdsa-p256.pub.pem"));
  if (p256.kind !== "ecdsa") return t.fail("not an EC key");
  const { r, s } = parseEcdsaSignature(at("ECDSA_SIG"), "p256");
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const k384 = parsePublicKey(new Uint8Array(p384.publicKey.export({ format: "der", type: "spki" })));
  if (k384.kind !== "ecdsa") return t.fail("not an EC key");
  const sig384 = new Uint8Array(sign("sha384", Buffer.from("image"), { key: p384.privateKey, dsaEncoding: "ieee-p1363" }));
  const cases = [
    { curve: "p256" as const, point: p256.point, digest: at("SHA256"), r, s, name: `${e.file}` },
    { curve: "p384" as const, point: k384.point, digest: new Uint8Array(createHash("sha384").update("image").digest()), r: sig384.slice(0, 48), s: sig384.slice(48), name: "P-384" },
  ];
  for (const c of cases) {
    const size = c.r.length;
    const n = moddableCurve(c.curve === "p256" ? "secp256r1" : "secp384r1")!.n;
    const verify = (rr: Uint8Array, ss: Uint8Array, digest = c.digest) => xs.call<boolean>("ecdsa", c.curve, toHex(c.point), toHex(digest), toHex(rr), toHex(ss));
    const good = await verify(c.r, c.s);
    t.true(good.value, c.name);
    t.true(nodeSignatures.ecdsaVerify(c.curve, c.point, c.digest, c.r, c.s));
    const badS = c.s.slice();
    badS[size - 1] ^= 1;
    const badDigest = c.digest.slice();
    badDigest[3] ^= 1;
    const tampered = await verify(c.r, badS);
    t.false(tampered.value, `${c.name}: tampered s`);
    t.false((await verify(c.r, c.s, badDigest)).value, `${c.name}: tampered digest`);
    const zero = new Uint8Array(size);
    for (const [what, rr, ss] of [
      ["r = 0", zero, c.s],
      ["s = 0", c.r, zero],
      ["s = n", c.r, bigToBE(n, size)],
      ["s = 2^k - 1 >= n", c.r, new Uint8Array(size).fill(0xff)],
      ["r = n", bigToBE(n, size), c.s],
    ] as const) {
      const got = await verify(rr, ss);
      t.false(got.value, `${c.name}: ${what}`);
      // one request fewer than a call that reaches the SDK's verify (a native call): only DONE
      t.is(got.commands, tampered.commands - 1, `${c.name}: ${what} is refused before the SDK's verify`);
      t.is(got.value, nodeSignatures.ecdsaVerify(c.curve, c.point, c.digest, rr, ss));
    }
  }
});

test.serial("raw RSA through the Moddable port in XS (rsa shim): equals node's; s >= n is a RangeError", async (t) => {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 3072 });
  const key = parsePublicKey(new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
  if (key.kind !== "rsa") return t.fail("not an RSA key");
  const sig = new Uint8Array(key.modulus.length);
  sig.set(createHash("sha256").update("s").digest(), 200);
  t.is((await xs.call<string>("rsaPublic", toHex(key.modulus), key.exponent, toHex(sig))).value, toHex(nodeSignatures.rsaPublic(key.modulus, key.exponent, sig)));
  const over = bigToBE(bigFromBE(key.modulus) + 7n, key.modulus.length);
  t.is((await xs.call<string>("rsaPublic", toHex(key.modulus), key.exponent, toHex(over))).value, "RangeError");
});
