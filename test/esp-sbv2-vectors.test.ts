// ESP Secure Boot V2 signature sectors (src/targets/esp-idf/sbv2-signature.ts) on the images
// espsecure signed (shared/vectors/esp-sbv2/, manifest.json): each gets its manifest verdict with
// the manifest's trusted eFuse digests; edits and other trust settings get the verdicts
// esp_secure_boot_verify_sbv2_signature_block gives.

import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { OtaError } from "../src/errors.ts";
import { checkEspImage } from "../src/targets/esp-idf/esp-app-image.ts";
import { checkSbv2Image, sbv2KeyDigest, verifySbv2Image, type Sbv2VerifyOptions } from "../src/targets/esp-idf/sbv2-signature.ts";
import { crc32 } from "../src/util/crc32.ts";
import { fromHex, toHex, writeU32LE } from "../src/util/bytes.ts";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/esp-sbv2");

interface Entry {
  file: string;
  app: string;
  signedLength: number;
  sha256OfSignedRegion: string;
  sha384OfSignedRegion: string;
  keyType: string[];
  trustedKeyDigests: string[];
  signatureBlocks: { index: number; valid: boolean; keyDigest?: string; blockOffsetInFile?: number }[];
  expected: "valid" | "invalid";
}
const manifest = JSON.parse(readFileSync(path.join(DIR, "manifest.json"), "utf8")) as { images: Entry[]; keyDigests: Record<string, string> };
const load = (f: string) => new Uint8Array(readFileSync(path.join(DIR, f)));
const entry = (f: string) => manifest.images.find((e) => e.file === f)!;
const digestOf = (name: string) => fromHex(manifest.keyDigests[name]);

function verify(img: Uint8Array, trusted: Uint8Array[], extra: Partial<Sbv2VerifyOptions> = {}) {
  const read = (o: number, n: number) => img.subarray(o, o + n);
  const imageLength = checkEspImage(read, img.length, nodeDigests).length;
  return verifySbv2Image(read, img.length, imageLength, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: trusted, ...extra });
}

/** Block `i` of the sector of `e`, after `edit`, with its CRC fixed up. */
function editBlock(e: Entry, i: number, edit: (block: Uint8Array) => void): Uint8Array {
  const img = load(e.file);
  const block = img.subarray(e.signedLength + i * 1216, e.signedLength + (i + 1) * 1216);
  edit(block);
  writeU32LE(block, 1196, crc32(block.subarray(0, 1196)));
  return img;
}

test("every vector gets its manifest verdict with the manifest's trusted eFuse digests", (t) => {
  t.true(manifest.images.length >= 6);
  for (const e of manifest.images) {
    const r = verify(load(e.file), e.trustedKeyDigests.map(fromHex));
    t.is(r.valid ? "valid" : "invalid", e.expected, `${e.file}: ${r.errors.join("; ")}`);
    t.is(r.signedLength, e.signedLength, e.file);
    t.is(r.imageDigest, e.keyType.includes("ecdsa384") ? e.sha384OfSignedRegion : e.sha256OfSignedRegion, e.file);
    // the block that verified is the first well-formed one with a trusted key digest
    const trustedBlock = e.signatureBlocks.find((b) => b.valid && e.trustedKeyDigests.includes(b.keyDigest!));
    t.is(r.verifiedBlock, trustedBlock?.index, e.file);
    for (const b of e.signatureBlocks) if (b.valid) t.is(r.signatures[b.index].keyDigest, b.keyDigest, `${e.file} block ${b.index}`);
  }
});

test("key digests computed from the PEM public keys equal espsecure digest-sbv2-public-key (RSA: with R̃ and M′)", (t) => {
  for (const name of Object.keys(manifest.keyDigests)) {
    const key = parsePublicKey(readFileSync(path.join(DIR, `keys/${name}.pub.pem`), "utf8"));
    t.is(toHex(sbv2KeyDigest(key, nodeDigests)), manifest.keyDigests[name], name);
    t.deepEqual(new Uint8Array(readFileSync(path.join(DIR, `keys/${name}.digest.bin`))), sbv2KeyDigest(key, nodeDigests));
  }
});

test("untrusted keys, a blocks limit of 1, and an unsigned app are refused", (t) => {
  const three = entry("app_ecdsa256_3keys.bin");
  t.false(verify(load(three.file), [digestOf("rsa3072")]).valid, "no block has that key");
  t.false(verify(load(three.file), [digestOf("ecdsa256-c")], { maxBlocks: 1 }).valid, "ESP32-C2 reads block 0 only");
  t.true(verify(load(three.file), [digestOf("ecdsa256")], { maxBlocks: 1 }).valid);
  t.is(verify(load(three.file), [digestOf("ecdsa256-b"), digestOf("ecdsa256-c")]).verifiedBlock, 1, "first trusted block wins");
  // ESP32-C2 compares 16 bytes of the digest
  const half = digestOf("ecdsa256").slice();
  half.fill(0, 16);
  t.true(verify(load("app_ecdsa256.bin"), [half], { keyDigestLength: 16 }).valid);
  t.false(verify(load("app_ecdsa256.bin"), [half]).valid);

  const app = load("app.bin");
  const padded = new Uint8Array(app.length + 4096).fill(0xff);
  padded.set(app);
  const r = verify(padded, [digestOf("ecdsa256")]);
  t.false(r.valid);
  t.regex(r.errors.join(), /block 0: magic 0xff/);
  const noRoom = verify(app, [digestOf("ecdsa256")]);
  t.regex(noRoom.errors.join(), /no room for a signature sector/);
});

test("a changed image byte, padding byte, signature, digest field, key or version is refused", (t) => {
  for (const [f, key] of [["app_rsa3072.bin", "rsa3072"], ["app_ecdsa256.bin", "ecdsa256"], ["app_ecdsa384.bin", "ecdsa384"], ["app-40000_ecdsa256.bin", "ecdsa256"]] as const) {
    const e = entry(f);
    const trusted = [digestOf(key)];
    const img = load(f);
    img[e.signedLength - 1] ^= 0x01; // app's appended hash or the 0xFF padding: inside the signed region
    // the app check itself may refuse the image (appended hash); the signature must refuse it too
    const read = (o: number, n: number) => img.subarray(o, o + n);
    const r1 = verifySbv2Image(read, img.length, entry(f).signedLength - 1, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: trusted });
    t.false(r1.valid, `${f}: image byte`);

    const sigOff = key.startsWith("rsa") ? 812 + 100 : key === "ecdsa384" ? 149 + 5 : 101 + 5;
    const badSig = editBlock(e, 0, (b) => (b[sigOff] ^= 0x10));
    const r2 = verify(badSig, trusted);
    t.false(r2.valid, `${f}: signature`);
    t.is(r2.signatures[0].reason, "signature does not verify");

    const badField = editBlock(e, 0, (b) => (b[4] ^= 1));
    t.regex(verify(badField, trusted).signatures[0].reason!, /image digest does not match/, `${f}: digest field`);

    const badCrc = load(f);
    badCrc[e.signedLength + 1196] ^= 1;
    t.is(verify(badCrc, trusted).signatures[0].reason, "CRC mismatch", `${f}: CRC`);

    const otherKey = editBlock(e, 0, (b) => (b[key.startsWith("rsa") ? 40 : key === "ecdsa384" ? 60 : 40] ^= 1));
    t.regex(verify(otherKey, trusted).signatures[0].reason!, /not trusted/, `${f}: key field`);
  }
  // RSA block relabelled as ECDSA (espsecure with an RSA key accepts it; IDF's version check does not)
  const e = entry("app_rsa3072.bin");
  const relabelled = editBlock(e, 0, (b) => (b[1] = 3));
  t.false(verify(relabelled, [digestOf("rsa3072")]).valid);
});

test("checkSbv2Image throws OtaError -3 with the reasons", (t) => {
  const img = load("app_ecdsa256.bin");
  const read = (o: number, n: number) => img.subarray(o, o + n);
  const opts = { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: [digestOf("rsa3072")] };
  const err = t.throws(() => checkSbv2Image(read, img.length, 65536, opts), { instanceOf: OtaError });
  t.is(err?.code, -3);
  t.regex(err!.reason, /key digest is not trusted/);
  t.notThrows(() => checkSbv2Image(read, img.length, 65536, { ...opts, trustedKeyDigests: [digestOf("ecdsa256")] }));
});
