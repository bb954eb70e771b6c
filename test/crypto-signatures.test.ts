// src/crypto: portable SHA-512/384, Ed25519, EMSA-PSS, DER/SPKI/PEM parsing, and host-sim's
// SignaturePort, checked against node:crypto as the oracle.

import test from "ava";
import { constants, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { ed25519Verify } from "../src/crypto/ed25519.ts";
import { DerError, base64Decode, parseEcdsaSignature, parsePublicKey, parseSpki } from "../src/crypto/public-key.ts";
import { emsaPssVerify, rsaPssVerify } from "../src/crypto/rsa-pss.ts";
import { Sha512, sha512 } from "../src/crypto/sha512.ts";
import { fromHex, toHex } from "../src/util/bytes.ts";

const spki = (k: KeyObject) => new Uint8Array(k.export({ format: "der", type: "spki" }));
const u8 = (b: Buffer) => new Uint8Array(b);

test("sha512/sha384: equal to node:crypto at every padding boundary, streamed in two parts", (t) => {
  for (const bits of [512, 384] as const) {
    for (const n of [0, 1, 55, 111, 112, 113, 127, 128, 129, 239, 240, 256, 4097]) {
      const data = randomBytes(n);
      const d = new Sha512(bits);
      d.update(data.subarray(0, n >> 1));
      d.update(data.subarray(n >> 1));
      t.is(toHex(d.finish()), createHash(`sha${bits}`).update(data).digest("hex"), `sha${bits} of ${n} bytes`);
      d.update(data); // finish() reset the object
      t.is(toHex(d.finish()), createHash(`sha${bits}`).update(data).digest("hex"), `sha${bits} reused`);
    }
  }
  t.is(toHex(sha512(new Uint8Array(0))).slice(0, 16), "cf83e1357eefb8bd");
});

test("ed25519: RFC 8032 §7.1 test 1, and node:crypto signatures verify; any flipped bit fails", (t) => {
  const pub = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const sig = fromHex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  t.true(ed25519Verify(pub, new Uint8Array(0), sig));
  t.false(ed25519Verify(pub, new Uint8Array([0]), sig));

  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const key = parsePublicKey(spki(publicKey));
  if (key.kind !== "ed25519") return t.fail("not an ed25519 key");
  for (let i = 0; i < 6; i++) {
    const msg = randomBytes(i * 19);
    const s = u8(sign(null, msg, privateKey));
    t.true(ed25519Verify(key.key, msg, s), `message of ${msg.length} bytes`);
    const bad = s.slice();
    bad[(i * 11) % 64] ^= 1 << i % 8;
    t.false(ed25519Verify(key.key, msg, bad), "flipped signature bit");
    if (msg.length) {
      const m2 = Uint8Array.from(msg);
      m2[0] ^= 0x80;
      t.false(ed25519Verify(key.key, m2, s), "flipped message bit");
    }
  }
});

test("ed25519: S >= L, a key that is not a point, and wrong lengths are refused, not thrown", (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pub = spki(publicKey).subarray(12);
  const msg = new Uint8Array([1, 2, 3]);
  const s = u8(sign(null, msg, privateKey));
  // S + L encodes the same scalar mod L: a malleable signature that a strict verifier refuses
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let S = 0n;
  for (let i = 63; i >= 32; i--) S = (S << 8n) | BigInt(s[i]);
  let S2 = S + L;
  const mall = s.slice();
  for (let i = 32; i < 64; i++, S2 >>= 8n) mall[i] = Number(S2 & 0xffn);
  t.true(ed25519Verify(pub, msg, s));
  t.false(ed25519Verify(pub, msg, mall));
  // y = 2 is not on the curve (x² = 3/(4d+1) has no root)
  const notPoint = new Uint8Array(32);
  notPoint[0] = 2;
  t.false(ed25519Verify(notPoint, msg, s));
  t.false(ed25519Verify(pub.subarray(1), msg, s));
  t.false(ed25519Verify(pub, msg, s.subarray(1)));
});

test("rsa-pss: RSA-3072 and RSA-2049 PSS signatures from node:crypto verify through the raw port; tampering fails", (t) => {
  for (const bits of [3072, 2049]) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    const key = parsePublicKey(spki(publicKey));
    if (key.kind !== "rsa") return t.fail("not an RSA key");
    t.is(key.exponent, 65537);
    const msg = randomBytes(100);
    const mHash = u8(createHash("sha256").update(msg).digest());
    const sig = u8(sign("sha256", msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
    t.true(rsaPssVerify(nodeSignatures, nodeDigests, key, mHash, sig), `${bits} bits`);
    t.false(rsaPssVerify(nodeSignatures, nodeDigests, key, mHash, sig, 20), "other salt length");
    const bad = sig.slice();
    bad[7] ^= 4;
    t.false(rsaPssVerify(nodeSignatures, nodeDigests, key, mHash, bad), "flipped signature bit");
    const h2 = mHash.slice();
    h2[31] ^= 1;
    t.false(rsaPssVerify(nodeSignatures, nodeDigests, key, h2, sig), "other hash");
    t.false(rsaPssVerify(nodeSignatures, nodeDigests, key, mHash, sig.subarray(1)), "short signature");
    t.false(rsaPssVerify(nodeSignatures, nodeDigests, key, mHash, new Uint8Array(sig.length).fill(0xff)), "s >= n");
  }
});

test("emsa-pss: the encoding's checks (trailer, top bits, padding) each refuse", (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = parsePublicKey(spki(publicKey));
  if (key.kind !== "rsa") return t.fail("not an RSA key");
  const mHash = u8(createHash("sha256").update("x").digest());
  const sig = u8(sign("sha256", Buffer.from("x"), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  const em = nodeSignatures.rsaPublic(key.modulus, key.exponent, sig);
  t.true(emsaPssVerify(mHash, em, 2048, 32, nodeDigests));
  for (const [i, x, what] of [[255, 1, "trailer"], [0, 0x80, "top bit"], [10, 1, "DB"]] as const) {
    const e2 = em.slice();
    e2[i] ^= x;
    t.false(emsaPssVerify(mHash, e2, 2048, 32, nodeDigests), what);
  }
});

test("host SignaturePort: ECDSA P-256 and P-384 over a digest agree with node:crypto's signer", (t) => {
  for (const [curve, named, hash] of [["p256", "P-256", "sha256"], ["p384", "P-384", "sha384"]] as const) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: named });
    const key = parsePublicKey(spki(publicKey));
    if (key.kind !== "ecdsa") return t.fail("not an EC key");
    t.is(key.curve, curve);
    for (let i = 0; i < 4; i++) {
      const msg = randomBytes(40);
      const digest = u8(createHash(hash).update(msg).digest());
      const { r, s } = parseEcdsaSignature(u8(sign(hash, msg, privateKey)), curve);
      t.true(nodeSignatures.ecdsaVerify(curve, key.point, digest, r, s));
      digest[i] ^= 1;
      t.false(nodeSignatures.ecdsaVerify(curve, key.point, digest, r, s));
    }
    const n = new Uint8Array(key.point.length);
    t.false(nodeSignatures.ecdsaVerify(curve, n, new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)), "not a point");
  }
});

test("der: ECDSA-Sig-Value and SubjectPublicKeyInfo are parsed strictly", (t) => {
  // r = 0x80 needs a sign byte; s = 1
  const ok = parseEcdsaSignature(Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01]), "p256");
  t.is(ok.r[31], 0x80);
  t.is(ok.s[31], 1);
  t.notThrows(() => parseEcdsaSignature(Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01, 0, 0]), "p256"), "--pad-sig zeros");
  const bad: [number[], string][] = [
    [[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01, 0x07], "trailing byte"],
    [[0x30, 0x07, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01], "length past the end"],
    [[0x30, 0x06, 0x02, 0x01, 0x85, 0x02, 0x01, 0x01], "negative r"],
    [[0x30, 0x07, 0x02, 0x02, 0x00, 0x05, 0x02, 0x01, 0x01], "non-minimal r"],
    [[0x30, 0x81, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01], "non-minimal length"],
    [[0x31, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01], "not a SEQUENCE"],
  ];
  for (const [b, what] of bad) t.throws(() => parseEcdsaSignature(Uint8Array.from(b), "p256"), { instanceOf: DerError }, what);
  const big = new Uint8Array(2 + 2 + 33 + 3);
  big.set([0x30, 38, 0x02, 33, 0x7f], 0);
  big.set([0x02, 0x01, 0x01], 37);
  t.throws(() => parseEcdsaSignature(big, "p256"), { instanceOf: DerError, message: /longer than 32/ });

  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const der = spki(publicKey);
  const pem = publicKey.export({ format: "pem", type: "spki" }) as string;
  t.deepEqual(parsePublicKey(pem), parseSpki(der));
  t.throws(() => parseSpki(der.subarray(0, der.length - 1)), { instanceOf: DerError });
  const curveless = der.slice();
  curveless[curveless.indexOf(0x07, 20)] = 0x08; // prime256v1 -> an unknown curve OID
  t.throws(() => parseSpki(curveless), { instanceOf: DerError, message: /curve/ });
  const { publicKey: p224 } = generateKeyPairSync("ec", { namedCurve: "secp224r1" });
  t.throws(() => parseSpki(spki(p224)), { instanceOf: DerError });
  t.throws(() => parsePublicKey("-----BEGIN PUBLIC KEY-----\nMCow*\n-----END PUBLIC KEY-----"), { instanceOf: DerError, message: /base64/ });
  t.throws(() => parsePublicKey("no pem here"), { instanceOf: DerError, message: /BEGIN/ });
  t.deepEqual(base64Decode("aGk="), Uint8Array.from([0x68, 0x69]));
});
