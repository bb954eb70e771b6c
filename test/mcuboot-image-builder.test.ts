// host-sim/mcuboot-image-builder.ts against imgtool: for every deterministic (Ed25519, not
// --pure) vector in shared/vectors/mcuboot/, the options are read from the manifest's exact
// imgtool command and the built bytes must equal imgtool's file. ECDSA images (random nonce) must
// verify with src/targets/mcuboot/verify-image.ts and match imgtool's bytes outside ECDSA_SIG.

import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildMcubootImage, type McubootBuildOptions } from "../host-sim/mcuboot-image-builder.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import { nodeSignatures } from "../host-sim/node-signatures.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { parseImageHeader } from "../src/targets/mcuboot/image-header.ts";
import { TLV, readTlvAreas } from "../src/targets/mcuboot/tlv.ts";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");
const read = (f: string) => new Uint8Array(readFileSync(path.join(DIR, f)));
const manifest = JSON.parse(readFileSync(path.join(DIR, "manifest.json"), "utf8")) as {
  images: { file: string; command?: string; keyType?: string; pure: boolean; verifyKey?: string; fileSize: number }[];
};

/** Builder options from an `imgtool sign ...` command line (the flags the vectors use). */
function fromCommand(command: string): { options: McubootBuildOptions; output: string } {
  const argv = command.split(" ").slice(2);
  const o: Partial<McubootBuildOptions> = {};
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "-k") o.key = readFileSync(path.join(DIR, next()), "utf8");
    else if (a === "--align") o.align = Number(next());
    else if (a === "--max-align") o.maxAlign = Number(next());
    else if (a === "-v") o.version = next();
    else if (a === "-H") o.headerSize = Number(next());
    else if (a === "-S") o.slotSize = Number(next());
    else if (a === "--pad") o.pad = true;
    else if (a === "--pad-header") o.padHeader = true;
    else if (a === "--confirm") o.confirm = true;
    else if (a === "--security-counter") o.securityCounter = Number(next());
    else if (a.startsWith("-")) throw new Error(`flag ${a} not handled`);
    else files.push(a);
  }
  return { options: { ...o, payload: read(files[0]) } as McubootBuildOptions, output: files[1] };
}

const signed = manifest.images.filter((e) => e.command && !e.pure);
const ed25519 = signed.filter((e) => e.keyType === "ed25519");

test("Ed25519 images: the bytes equal imgtool's, for every vector (padded, --pad-header, max-align 32, SEC_CNT)", (t) => {
  t.true(ed25519.length >= 5);
  t.true(ed25519.some((e) => e.command!.includes("--pad ")));
  t.true(ed25519.some((e) => e.command!.includes("--max-align 32")));
  for (const e of ed25519) {
    const { options, output } = fromCommand(e.command!);
    t.is(output, e.file);
    const built = buildMcubootImage(options);
    const want = read(e.file);
    t.is(built.length, want.length, e.file);
    t.true(Buffer.from(built).equals(Buffer.from(want)), `${e.file} differs from imgtool's bytes`);
  }
});

test("unsigned and ECDSA P-256 images: imgtool's bytes outside the signature, and they verify", (t) => {
  for (const e of signed.filter((x) => x.keyType !== "ed25519")) {
    const { options } = fromCommand(e.command!);
    const built = buildMcubootImage(options);
    const want = read(e.file);
    const keys = e.verifyKey ? [parsePublicKey(readFileSync(path.join(DIR, e.verifyKey), "utf8"))] : [];
    const r = verifyMcubootImage((o, n) => built.subarray(o, o + n), built.length, { digests: nodeDigests, signatures: nodeSignatures, keys });
    t.true(r.valid, `${e.file}: ${r.errors.join("; ")}`);
    if (!e.keyType || e.keyType.startsWith("none")) {
      t.true(Buffer.from(built).equals(Buffer.from(want)), e.file);
      continue;
    }
    // the hashed region and the SHA256 and KEYHASH values are identical; only ECDSA_SIG differs
    const tlvsOf = (img: Uint8Array) => {
      const h = parseImageHeader(img);
      return readTlvAreas((o, n) => img.subarray(o, o + n), img.length, h);
    };
    const a = tlvsOf(built);
    const b = tlvsOf(want);
    t.is(a.hashedEnd, b.hashedEnd, e.file);
    t.true(Buffer.from(built.subarray(0, a.hashedEnd)).equals(Buffer.from(want.subarray(0, b.hashedEnd))), e.file);
    const val = (img: Uint8Array, x: typeof a, type: number) => {
      const en = x.entries.find((y) => y.type === type)!;
      return Buffer.from(img.subarray(en.valueOffset, en.valueOffset + en.len)).toString("hex");
    };
    t.is(val(built, a, TLV.SHA256), val(want, b, TLV.SHA256), e.file);
    t.is(val(built, a, TLV.KEYHASH), val(want, b, TLV.KEYHASH), e.file);
    t.deepEqual(a.entries.map((y) => y.type), b.entries.map((y) => y.type), e.file);
    if (options.pad || options.confirm) t.true(Buffer.from(built.subarray(built.length - 48)).equals(Buffer.from(want.subarray(want.length - 48))), e.file);
  }
});

test("bad options are refused with a reason", (t) => {
  const payload = new Uint8Array(0x200 + 100);
  t.throws(() => buildMcubootImage({ payload, version: "1.2", headerSize: 0x200, slotSize: 0x200, pad: true }), { message: /does not fit/ });
  t.throws(() => buildMcubootImage({ payload, version: "1.x.3", headerSize: 0x200 }), { message: /bad version/ });
  t.throws(() => buildMcubootImage({ payload: new Uint8Array(16), version: "1.0.0" }), { message: /no room/ });
  t.throws(() => buildMcubootImage({ payload, version: "1.0.0", pad: true }), { message: /slot size/ });
});
