// What one signature verification costs inside the real XS engine (xsnap's deterministic compute
// meter), for the device's choice of algorithms: Ed25519 in portable TypeScript (BigInt; SHA-512
// portable or native), EMSA-PSS decoding of an RSA-3072 signature (the raw RSA operation and
// SHA-256 are native), and whole MCUboot image checks (host-sim/signatures-xs.ts serves the
// native parts). Prints one JSON line. Run: npx tsx bench/signatures-xs.ts
//
// `net` subtracts a baseline call that parses the same hex arguments and returns at the first
// check, so it is the verification itself; `heapSlots` is XS's slot heap after the call.

import { constants, createHash, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { XsSignatures } from "../host-sim/signatures-xs.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { toHex } from "../src/util/bytes.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");

async function main(): Promise<void> {
  const xs = await XsSignatures.start();
  try {
    const out: Record<string, unknown> = {};

    const ed = generateKeyPairSync("ed25519");
    const pub = toHex(new Uint8Array(ed.publicKey.export({ format: "der", type: "spki" }).subarray(12)));
    const digest = createHash("sha256").update("image").digest();
    const edSig = toHex(new Uint8Array(sign(null, digest, ed.privateKey)));
    const edBase = await xs.call<boolean>("ed25519", pub.slice(2), toHex(digest), edSig);
    const edPortable = await xs.call<boolean>("ed25519", pub, toHex(digest), edSig, false);
    const edNative = await xs.call<boolean>("ed25519", pub, toHex(digest), edSig, true);
    if (!edPortable.value || !edNative.value || edBase.value) throw new Error("ed25519 bench inputs do not verify as expected");
    out.ed25519 = {
      computePortableSha512: edPortable.compute,
      computeNativeSha512: edNative.compute,
      net: edPortable.compute - edBase.compute,
      netNativeSha512: edNative.compute - edBase.compute,
      heapSlots: edPortable.heapSlots,
    };

    const rsa = generateKeyPairSync("rsa", { modulusLength: 3072 });
    const key = parsePublicKey(new Uint8Array(rsa.publicKey.export({ format: "der", type: "spki" })));
    if (key.kind !== "rsa") throw new Error("not an RSA key");
    const sig = new Uint8Array(sign("sha256", Buffer.from("image"), { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
    const em = nodeSignatures.rsaPublic(key.modulus, key.exponent, sig);
    const badEm = em.slice();
    badEm[badEm.length - 1] = 0;
    const pssBase = await xs.call<boolean>("emsaPss", toHex(digest), toHex(badEm), 3072, 32);
    const pss = await xs.call<boolean>("emsaPss", toHex(digest), toHex(em), 3072, 32);
    const full = await xs.call<boolean>("rsaPss", toHex(key.modulus), key.exponent, toHex(digest), toHex(sig));
    if (!pss.value || !full.value || pssBase.value) throw new Error("PSS bench inputs do not verify as expected");
    out.rsa3072Pss = { emsaPssDecode: pss.compute, net: pss.compute - pssBase.compute, withRawRsaCall: full.compute, hostCommands: pss.commands, heapSlots: full.heapSlots };

    const images: Record<string, unknown> = {};
    for (const [file, pem] of [["ed25519_h20_70000.bin", "ed25519"], ["ecdsa-p256_h20_70000.bin", "ecdsa-p256"]]) {
      xs.image = new Uint8Array(readFileSync(path.join(VECTORS, file)));
      const r = await xs.call<{ valid: boolean }>("mcuboot", xs.image.length, [readFileSync(path.join(VECTORS, `keys/${pem}.pub.pem`), "utf8")]);
      if (!r.value.valid) throw new Error(`${file} does not verify`);
      images[file] = { bytes: xs.image.length, compute: r.compute, hostCommands: r.commands, heapSlots: r.heapSlots };
    }
    out.mcubootImage = images;
    console.log(JSON.stringify(out));
  } finally {
    await xs.close();
  }
}

await main();
