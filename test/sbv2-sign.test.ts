// The host-side Secure Boot V2 signer (host-sim/sbv2-sign.ts) against espsecure's output in
// shared/vectors/esp-sbv2/: with espsecure's own signatures injected the files are byte-identical
// (padding, digest fields, key fields, CRC, sector fill, --append-signatures); with fresh
// node:crypto signatures the structure is the same and src/'s verifier accepts them.

import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { loadSbv2SigningKey, sbv2SignImage, type Sbv2Signer, type Sbv2SigningKey } from "../host-sim/sbv2-sign.ts";
import { checkEspImage } from "../src/targets/esp-idf/esp-app-image.ts";
import {
  ECDSA_P256,
  ECDSA_P384,
  RSA_BYTES,
  RSA_OFF_SIG,
  SBV2_BLOCK_SIZE,
  parseSignatureSector,
  verifySbv2Image,
} from "../src/targets/esp-idf/sbv2-signature.ts";
import { fromHex, toHex } from "../src/util/bytes.ts";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/esp-sbv2");
interface Entry {
  file: string;
  app: string;
  command: string;
  signingKeys: string[];
  signedLength: number;
  signatureBlocks: { index: number; valid: boolean }[];
}
const manifest = JSON.parse(readFileSync(path.join(DIR, "manifest.json"), "utf8")) as { images: Entry[]; keyDigests: Record<string, string> };
const load = (f: string) => new Uint8Array(readFileSync(path.join(DIR, f)));
const key = (f: string): Sbv2SigningKey => loadSbv2SigningKey(readFileSync(path.join(DIR, f), "utf8"), f);
const keyName = (f: string) => path.basename(f, ".pem");

/** The big-endian signature stored (little-endian) in a vector's block. */
function storedSignature(block: Uint8Array, k: Sbv2SigningKey): Uint8Array {
  if (k.algorithm === "rsa3072-pss") return block.slice(RSA_OFF_SIG, RSA_OFF_SIG + RSA_BYTES).reverse();
  const l = k.algorithm === "ecdsa-p384" ? ECDSA_P384 : ECDSA_P256;
  const r = block.slice(l.offSig, l.offSig + l.size).reverse();
  const s = block.slice(l.offSig + l.size, l.offSig + 2 * l.size).reverse();
  return Uint8Array.from([...r, ...s]);
}

/** A signer that hands out the signatures of `vector`'s blocks `first`.., in order. */
function replay(vector: Uint8Array, signedLength: number, first: number): Sbv2Signer {
  let i = first;
  return (k) => {
    const off = signedLength + i++ * SBV2_BLOCK_SIZE;
    return storedSignature(vector.subarray(off, off + SBV2_BLOCK_SIZE), k);
  };
}

function verify(img: Uint8Array, trusted: string[]) {
  const read = (o: number, n: number) => img.subarray(o, o + n);
  const length = checkEspImage(read, img.length, nodeDigests).length;
  return verifySbv2Image(read, img.length, length, { digests: nodeDigests, signatures: nodeSignatures, trustedKeyDigests: trusted.map((n) => fromHex(manifest.keyDigests[n])) });
}

test("with espsecure's signatures, every vector is rebuilt byte for byte (incl. --append-signatures)", (t) => {
  t.true(manifest.images.length >= 6);
  for (const e of manifest.images) {
    const vector = load(e.file);
    const append = e.command.includes("--append-signatures");
    // espsecure appended to the input file of its command (the already signed image)
    const input = append ? load(e.command.split(" ").at(-1)!) : load(e.app);
    const newKeys = append ? e.signingKeys.slice(-1) : e.signingKeys;
    const kept = e.signingKeys.length - newKeys.length;
    const r = sbv2SignImage(input, newKeys.map(key), { append, signer: replay(vector, e.signedLength, kept) });
    t.is(r.kept, kept, e.file);
    t.is(r.signed.length, vector.length, e.file);
    t.is(toHex(r.signed), toHex(vector), e.file);
  }
});

test("fresh node:crypto signatures: same structure as espsecure's blocks, and src/ verifies them", (t) => {
  for (const e of manifest.images.filter((x) => !x.command.includes("--append-signatures"))) {
    const vector = load(e.file);
    const keys = e.signingKeys.map(key);
    const { signed } = sbv2SignImage(load(e.app), keys);
    t.is(signed.length, vector.length, e.file);
    t.deepEqual(signed.subarray(0, e.signedLength), vector.subarray(0, e.signedLength), `${e.file}: padded image`);
    const mine = parseSignatureSector(signed.subarray(e.signedLength), nodeDigests);
    const theirs = parseSignatureSector(vector.subarray(e.signedLength), nodeDigests);
    keys.forEach((k, i) => {
      const sigStart = k.algorithm === "rsa3072-pss" ? RSA_OFF_SIG : (k.algorithm === "ecdsa-p384" ? ECDSA_P384 : ECDSA_P256).offSig;
      t.true(mine[i].wellFormed, `${e.file} block ${i}: magic, version, CRC`);
      t.is(mine[i].algorithm, theirs[i].algorithm);
      // magic, version, SHA version, digest field, key fields: equal to espsecure's
      t.deepEqual(mine[i].bytes.subarray(0, sigStart), theirs[i].bytes.subarray(0, sigStart), `${e.file} block ${i} before the signature`);
      t.deepEqual(mine[i].digestField, theirs[i].digestField);
      t.is(toHex(mine[i].keyDigest!), manifest.keyDigests[keyName(e.signingKeys[i])]);
      // the random part differs (PSS salt, ECDSA k): the signature, hence the CRC
      t.notDeepEqual(mine[i].bytes.subarray(sigStart, 1196), theirs[i].bytes.subarray(sigStart, 1196), `${e.file} block ${i} signature`);
      // the zero fill after the signature and the 16 zero bytes after the CRC are the same
      t.deepEqual(mine[i].bytes.subarray(1200), theirs[i].bytes.subarray(1200));
    });
    t.deepEqual(signed.subarray(e.signedLength + keys.length * SBV2_BLOCK_SIZE), vector.subarray(e.signedLength + keys.length * SBV2_BLOCK_SIZE), `${e.file}: 0xFF fill`);
    for (const name of e.signingKeys.map(keyName)) t.true(verify(signed, [name]).valid, `${e.file} with ${name}`);
  }
});

test("append keeps the valid blocks; no room, too many keys and non-SBv2 keys are refused", (t) => {
  const rsa = key("keys/rsa3072.pem");
  const ecdsa = key("keys/ecdsa256-b.pem");
  const once = sbv2SignImage(load("app-40000.bin"), [rsa]).signed;
  const twice = sbv2SignImage(once, [ecdsa], { append: true });
  t.is(twice.kept, 1);
  t.is(twice.signed.length, once.length, "the sector is replaced, not added");
  t.deepEqual(twice.signed.subarray(0, once.length - 4096 + SBV2_BLOCK_SIZE), once.subarray(0, once.length - 4096 + SBV2_BLOCK_SIZE));
  t.true(verify(twice.signed, ["rsa3072"]).valid);
  t.is(verify(twice.signed, ["ecdsa256-b"]).verifiedBlock, 1);
  // without --append the signed file is signed again as data: padded, a new sector after it
  t.is(sbv2SignImage(once, [ecdsa]).signed.length, once.length + 4096);
  const three = load("app_ecdsa256_3keys.bin");
  t.throws(() => sbv2SignImage(three, [rsa], { append: true }), { message: /already has 3 signature blocks/ });
  t.throws(() => sbv2SignImage(twice.signed, [rsa, ecdsa], { append: true }), { message: /at most 3/ });
  t.throws(() => sbv2SignImage(load("app.bin"), []), { message: /at least one key/ });
  t.throws(() => loadSbv2SigningKey(readFileSync(path.join(DIR, "../mcuboot/keys/ed25519.pem"), "utf8"), "ed25519.pem"), {
    message: /ed25519\.pem: a ed25519 key is not a Secure Boot V2 scheme/,
  });
  t.throws(() => loadSbv2SigningKey(readFileSync(path.join(DIR, "keys/rsa3072.pub.pem"), "utf8"), "pub.pem"), { message: /pub\.pem: not a private key/ });
});
