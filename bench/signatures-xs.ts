// What one signature verification costs inside the real XS engine (xsnap's deterministic compute
// meter and slot heap), on the Moddable platform's SignaturePort (src/platform/moddable/
// signatures.ts over host-sim's ecdsa/curve/ecp/rsa/crypt shims, whose work stands in for the
// SDK's natives and is not metered):
// - ecdsaP256: SignaturePort.ecdsaVerify (point, range and length checks in TS, then the native
//   `ecdsa` verify) of an MCUboot vector's signature;
// - ed25519: src/crypto/ed25519.ts, portable TypeScript (BigInt), SHA-512 portable or native;
// - rsa3072Pss: RSASSA-PSS over the port's raw RSA (native `rsa` process) and EMSA-PSS in TS.
// `compute` is the whole call, `net` the call minus a baseline that decodes the same hex arguments;
// `heapBytes` the slots (16 bytes) the call left in the heap after a collection before it, garbage
// included (an upper bound of its working set; ArrayBuffer contents are not counted by xsnap).
// signatureFigures() is what `npm run bench:xs` adds to its line; run alone
// (npx tsx bench/signatures-xs.ts) it also prints whole MCUboot image checks. One JSON line.

import { constants, createHash, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { XsSignatures, type XsCallResult } from "../host-sim/signatures-xs.ts";
import { parseEcdsaSignature, parsePublicKey } from "../src/crypto/public-key.ts";
import { toHex } from "../src/util/bytes.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");
const SLOT = 16;

interface Figure {
  compute: number;
  net: number;
  heapBytes: number;
}

/** One call measured after a collection: compute, compute net of decoding its hex arguments, heap. */
async function measure(xs: XsSignatures, fn: string, args: unknown[], hexArgs: string[]): Promise<Figure & { value: unknown }> {
  const base = await xs.call<boolean>("decode", ...hexArgs);
  const idle = await xs.liveHeapCount();
  const r: XsCallResult<unknown> = await xs.call(fn, ...args);
  return { value: r.value, compute: r.compute, net: r.compute - base.compute, heapBytes: (r.heapSlots - idle) * SLOT };
}

/** Compute and heap of one verification of each kind. */
export async function signatureFigures(given?: XsSignatures): Promise<Record<string, unknown>> {
  const xs = given ?? (await XsSignatures.start());
  try {
    const manifest = JSON.parse(readFileSync(path.join(VECTORS, "manifest.json"), "utf8")) as {
      images: { file: string; keyType: string; tlvs: { name: string; valueOffset: number; len: number }[] }[];
    };
    const entry = manifest.images.find((e) => e.file === "ecdsa-p256_h20_70000.bin")!;
    const img = new Uint8Array(readFileSync(path.join(VECTORS, entry.file)));
    const tlv = (name: string) => {
      const v = entry.tlvs.find((x) => x.name === name)!;
      return img.subarray(v.valueOffset, v.valueOffset + v.len);
    };
    const key = parsePublicKey(readFileSync(path.join(VECTORS, "keys/ecdsa-p256.pub.pem"), "utf8"));
    if (key.kind !== "ecdsa") throw new Error("not an EC key");
    const { r, s } = parseEcdsaSignature(tlv("ECDSA_SIG"), "p256");
    const ecHex = [toHex(key.point), toHex(tlv("SHA256")), toHex(r), toHex(s)];
    await xs.call("ecdsa", "p256", ...ecHex); // the Curve is made on first use: not part of one verification
    const ec = await measure(xs, "ecdsa", ["p256", ...ecHex], ecHex);

    const ed = generateKeyPairSync("ed25519");
    const pub = toHex(new Uint8Array(ed.publicKey.export({ format: "der", type: "spki" }).subarray(12)));
    const digest = createHash("sha256").update("image").digest();
    const edHex = [pub, toHex(digest), toHex(new Uint8Array(sign(null, digest, ed.privateKey)))];
    const edPortable = await measure(xs, "ed25519", [...edHex, false], edHex);
    const edNative = await measure(xs, "ed25519", [...edHex, true], edHex);

    const rsa = generateKeyPairSync("rsa", { modulusLength: 3072 });
    const rsaKey = parsePublicKey(new Uint8Array(rsa.publicKey.export({ format: "der", type: "spki" })));
    if (rsaKey.kind !== "rsa") throw new Error("not an RSA key");
    const pss = new Uint8Array(sign("sha256", Buffer.from("image"), { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
    const rsaHex = [toHex(rsaKey.modulus), toHex(digest), toHex(pss)];
    const pssFigure = await measure(xs, "rsaPss", [rsaHex[0], rsaKey.exponent, rsaHex[1], rsaHex[2]], rsaHex);

    if (ec.value !== true || edPortable.value !== true || edNative.value !== true || pssFigure.value !== true) {
      throw new Error("a benchmark signature does not verify");
    }
    const figure = ({ compute, net, heapBytes }: Figure): Figure => ({ compute, net, heapBytes });
    return {
      ecdsaP256: figure(ec),
      ed25519: { ...figure(edPortable), nativeSha512: figure(edNative) },
      rsa3072Pss: figure(pssFigure),
    };
  } finally {
    if (!given) await xs.close();
  }
}

/** Whole MCUboot image checks (hash, KEYHASH, signature) through the same ports. */
async function imageChecks(xs: XsSignatures): Promise<Record<string, unknown>> {
  const images: Record<string, unknown> = {};
  for (const [file, pem] of [["ed25519_h20_70000.bin", "ed25519"], ["ecdsa-p256_h20_70000.bin", "ecdsa-p256"]]) {
    const bytes = new Uint8Array(readFileSync(path.join(VECTORS, file)));
    xs.image = bytes;
    const r = await xs.call<{ valid: boolean }>("mcuboot", bytes.length, [readFileSync(path.join(VECTORS, `keys/${pem}.pub.pem`), "utf8")]);
    if (!r.value.valid) throw new Error(`${file} does not verify`);
    images[file] = { bytes: bytes.length, compute: r.compute, hostCommands: r.commands, heapSlots: r.heapSlots };
  }
  return images;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const xs = await XsSignatures.start();
  try {
    const out = { ...(await signatureFigures(xs)), mcubootImage: await imageChecks(xs) };
    console.log(JSON.stringify(out));
  } finally {
    await xs.close();
  }
}
