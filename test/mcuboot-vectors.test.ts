// MCUboot image verification (src/targets/mcuboot/) on the images imgtool made
// (shared/vectors/mcuboot/, manifest.json): every image gets its manifest verdict, and edits of
// them get the verdict bootutil gives (tampered hash range, signature, KEYHASH, wrong key,
// missing signature, security counter, TLV framing).

import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { parsePublicKey, type PublicKey } from "../src/crypto/public-key.ts";
import { checkMcubootImage, verifyMcubootImage, type McubootVerifyOptions } from "../src/targets/mcuboot/verify-image.ts";
import { OtaError } from "../src/errors.ts";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");

interface Entry {
  file: string;
  verifyKey?: string;
  expected: "valid" | "invalid";
  version: string;
  securityCounter?: number;
  protectedTlvSize: number;
  hashedRegion: [number, number];
  tlvs: { type: string; name: string; len: number; valueOffset: number; protected: boolean }[];
  toolVerdict: { output: string };
}
const manifest = JSON.parse(readFileSync(path.join(DIR, "manifest.json"), "utf8")) as { images: Entry[] };
const load = (f: string) => new Uint8Array(readFileSync(path.join(DIR, f)));
const key = (f: string): PublicKey => parsePublicKey(readFileSync(path.join(DIR, f), "utf8"));
const ED = key("keys/ed25519.pub.pem");
const EC = key("keys/ecdsa-p256.pub.pem");

function verify(img: Uint8Array, options: Partial<McubootVerifyOptions> = {}) {
  return verifyMcubootImage((o, n) => img.subarray(o, o + n), img.length, { digests: nodeDigests, signatures: nodeSignatures, ...options });
}
const entry = (f: string) => manifest.images.find((e) => e.file === f)!;
const tlv = (e: Entry, name: string) => e.tlvs.find((t) => t.name === name)!;

test("every vector gets its manifest verdict, with the version, security counter and image digest imgtool printed", (t) => {
  t.true(manifest.images.length >= 12);
  for (const e of manifest.images) {
    const keys = e.verifyKey ? [key(e.verifyKey)] : [];
    const r = verify(load(e.file), { keys });
    t.is(r.valid ? "valid" : "invalid", e.expected, `${e.file}: ${r.errors.join("; ")}`);
    t.is(r.version, e.version, e.file);
    t.is(r.securityCounter, e.securityCounter, e.file);
    const digest = /Image digest: ([0-9a-f]+)/.exec(e.toolVerdict.output);
    if (digest) t.is(r.hash?.value, digest[1], e.file);
    if (e.verifyKey) {
      t.is(r.signatures.length, 1, e.file);
      t.true(r.signatures[0].ok, e.file);
      t.is(r.signatures[0].keyDigest, toHexFile(e, tlv(e, "KEYHASH")), e.file);
    }
  }
});

function toHexFile(e: Entry, t: { valueOffset: number; len: number }): string {
  return Buffer.from(load(e.file).subarray(t.valueOffset, t.valueOffset + t.len)).toString("hex");
}

test("a byte changed anywhere in the hashed region (header padding, payload, protected TLVs) is refused", (t) => {
  for (const f of ["ecdsa-p256_h200_4096_seccnt7.bin", "ed25519_h200_4096_seccnt7.bin", "ed25519_h200_4096_pure.bin", "unsigned_h200_4096.bin"]) {
    const e = entry(f);
    const keys = e.verifyKey ? [key(e.verifyKey)] : [];
    for (const off of [100, 0x200 + 17, e.hashedRegion[1] - 1]) {
      if (off >= e.hashedRegion[1]) continue;
      const img = load(f);
      img[off] ^= 0x40;
      const r = verify(img, { keys });
      t.false(r.valid, `${f} @${off}`);
    }
  }
  const e = entry("ed25519_h200_4096_seccnt7.bin");
  const img = load(e.file);
  img[e.hashedRegion[0] + 0x210] ^= 1;
  const r = verify(img, { keys: [ED] });
  t.regex(r.errors.join(), /does not match the hash TLV/);
});

test("signature edits, a wrong key, and a missing signature on a keyed verifier are refused", (t) => {
  for (const f of ["ecdsa-p256_h200_4096.bin", "ed25519_h200_4096.bin", "ed25519_h200_4096_pure.bin"]) {
    const e = entry(f);
    const own = key(e.verifyKey!);
    const sigTlv = e.tlvs.find((x) => x.name === "ECDSA_SIG" || x.name === "ED25519")!;
    const img = load(f);
    img[sigTlv.valueOffset + sigTlv.len - 3] ^= 0x01;
    const r = verify(img, { keys: [own] });
    t.false(r.valid, `${f}: tampered signature`);
    t.false(r.signatures[0].ok);

    const other = own.kind === "ed25519" ? EC : ED;
    const w = verify(load(f), { keys: [other] });
    t.false(w.valid, `${f}: wrong key`);
    t.is(w.signatures[0].keyIndex, -1);
    t.regex(w.errors.join(), /no signature by a trusted key/);
    t.true(verify(load(f), { keys: [other, own] }).valid, `${f}: second trusted key`);
  }
  const u = verify(load("unsigned_h200_4096.bin"), { keys: [ED] });
  t.false(u.valid);
  t.deepEqual(u.errors, ["image is not signed"]);
  t.true(verify(load("unsigned_h200_4096.bin"), { keys: [ED], requireSignature: false }).valid);
});

test("KEYHASH: an altered key hash is refused (imgtool verify accepts it; bootutil does not)", (t) => {
  const e = entry("ed25519_h200_4096.bin");
  const img = load(e.file);
  img[tlv(e, "KEYHASH").valueOffset] ^= 0xff;
  const r = verify(img, { keys: [ED] });
  t.false(r.valid);
  t.is(r.signatures[0].reason, "KEYHASH matches no trusted key");
  t.true(r.hash!.ok, "the image itself is intact");
});

test("security counter: below the floor or missing is refused; at the floor it passes", (t) => {
  const img = load("ecdsa-p256_h200_4096_seccnt7.bin");
  t.true(verify(img, { keys: [EC], minSecurityCounter: 7 }).valid);
  const low = verify(img, { keys: [EC], minSecurityCounter: 8 });
  t.false(low.valid);
  t.regex(low.errors.join(), /security counter 7 is below 8/);
  const none = verify(load("ecdsa-p256_h200_4096.bin"), { keys: [EC], minSecurityCounter: 0 });
  t.false(none.valid);
  t.regex(none.errors.join(), /no protected SEC_CNT/);
});

test("TLV framing: protected size mismatch, a TLV past its area, a truncated image, a bad magic are refused with reasons", (t) => {
  const e = entry("ed25519_h200_4096_seccnt7.bin");
  const cases: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ["ih_protect_tlv_size", (b) => ((b[10] = 16), b), /differs from ih_protect_tlv_size|does not match/],
    ["no protected area", (b) => ((b[4608] = 0x07), b), /no protected area|bad TLV info magic/],
    ["TLV past its area", (b) => ((b[4608 + 4 + 2] = 9), b), /runs past its area/],
    ["truncated", (b) => b.subarray(0, b.length - 10), /past the slot end/],
    ["magic", (b) => ((b[0] ^= 1), b), /bad magic/],
    ["unprotected magic", (b) => ((b[4620] = 0x00), b), /bad TLV info magic/],
  ];
  for (const [what, edit, re] of cases) {
    const r = verify(edit(load(e.file)), { keys: [ED] });
    t.false(r.valid, what);
    t.regex(r.errors.join("; "), re, what);
  }
  const err = t.throws(() => checkMcubootImage((o, n) => new Uint8Array(n), 4096, { digests: nodeDigests }), { instanceOf: OtaError });
  t.is(err?.code, -3);
});

test("reads stay within 4 KiB chunks and inside the slot", (t) => {
  const img = load("ecdsa-p256_h20_70000.bin");
  let largest = 0;
  let beyond = 0;
  const r = verifyMcubootImage(
    (o, n) => {
      largest = Math.max(largest, n);
      if (o + n > img.length) beyond++;
      return img.subarray(o, o + n);
    },
    img.length,
    { digests: nodeDigests, signatures: nodeSignatures, keys: [EC] },
  );
  t.true(r.valid);
  t.true(largest <= 4096);
  t.is(beyond, 0);
  t.is(r.end, img.length);
});
