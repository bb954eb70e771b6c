// `xs-ota image verify` and `image build --sign`, run as the CLI (bin/xs-ota.js, a child
// process): every vector of shared/vectors/mcuboot/ and shared/vectors/esp-sbv2/ gets its
// manifest's verdict and exit code with the manifest's trusted keys, tampered copies exit 1 with
// the reason, bad usage exits 2, and the CLI's signed images verify with the key that signed them.

import test from "ava";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureDistCli } from "./helpers/dist-cli.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = path.join(root, "bin", "xs-ota.js");
const VECTORS = path.resolve(root, "../shared/vectors");
const MCUBOOT = path.join(VECTORS, "mcuboot");
const SBV2 = path.join(VECTORS, "esp-sbv2");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-verify-"));

interface Result {
  stdout: string;
  stderr: string;
  code: number;
}
const xsota = (...args: string[]): Promise<Result> =>
  run(process.execPath, [bin, ...args], { cwd: tmp }).then(
    (r) => ({ ...r, code: 0 }),
    (e: Result) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );

interface Report {
  valid: boolean;
  format: string;
  version: string | null;
  securityCounter: number | null;
  signatures: { index: number; algorithm: string | null; keyDigest: string | null; ok: boolean; trusted: boolean; reason?: string }[];
  errors: string[];
}
/** `image verify --json ...`: the report and the exit code. */
async function verify(...args: string[]): Promise<{ r: Report; code: number; stderr: string }> {
  const out = await xsota("image", "verify", "--json", ...args);
  return { r: JSON.parse(out.stdout) as Report, code: out.code, stderr: out.stderr };
}

interface McubootEntry {
  file: string;
  verifyKey?: string;
  version: string;
  securityCounter?: number;
  tlvs: { name: string; len: number; valueOffset: number }[];
  expected: "valid" | "invalid";
  headerSize: number;
}
interface Sbv2Entry {
  file: string;
  app: string;
  signedLength: number;
  trustedKeys: string[];
  trustedKeyDigests: string[];
  signatureBlocks: { index: number; valid: boolean; keyDigest?: string; scheme?: string }[];
  expected: "valid" | "invalid";
}
const mcuboot = (JSON.parse(fs.readFileSync(path.join(MCUBOOT, "manifest.json"), "utf8")) as { images: McubootEntry[] }).images;
const sbv2 = JSON.parse(fs.readFileSync(path.join(SBV2, "manifest.json"), "utf8")) as { images: Sbv2Entry[]; keyDigests: Record<string, string> };
const exitFor = (verdict: string) => (verdict === "valid" ? 0 : 1);
const SIG_TLVS = ["ECDSA_SIG", "ED25519", "RSA2048_PSS", "RSA3072_PSS"];

/** A copy of `file` in tmp with byte `offset` flipped. */
function tampered(file: string, offset: number, name: string): string {
  const b = fs.readFileSync(file);
  b[offset] ^= 0x01;
  const out = path.join(tmp, name);
  fs.writeFileSync(out, b);
  return out;
}

test.before(async () => {
  await ensureDistCli();
});

test("every MCUboot vector gets its manifest verdict, version, SEC_CNT and KEYHASH, with and without its key", async (t) => {
  t.true(mcuboot.length >= 12);
  for (const e of mcuboot) {
    const file = path.join(MCUBOOT, e.file);
    const bytes = fs.readFileSync(file);
    const keyArgs = e.verifyKey ? ["--key", path.join(MCUBOOT, e.verifyKey)] : [];
    const { r, code } = await verify(file, ...keyArgs);
    t.is(r.valid ? "valid" : "invalid", e.expected, `${e.file}: ${r.errors.join("; ")}`);
    t.is(code, exitFor(e.expected), e.file);
    t.is(r.format, "mcuboot");
    t.is(r.version, e.version);
    t.is(r.securityCounter, e.securityCounter ?? null, e.file);
    const keyhash = e.tlvs.find((x) => x.name === "KEYHASH");
    const sigs = e.tlvs.filter((x) => SIG_TLVS.includes(x.name));
    t.is(r.signatures.length, sigs.length, e.file);
    for (const s of r.signatures) {
      t.is(s.keyDigest, keyhash ? bytes.subarray(keyhash.valueOffset, keyhash.valueOffset + keyhash.len).toString("hex") : null);
      t.true(s.ok && s.trusted, `${e.file}: ${s.reason}`);
    }
    // without a key: the hash is checked, the signature cannot be and does not count
    const bare = await verify(file);
    t.is(bare.code, exitFor(e.expected), `${e.file} without a key`);
    for (const s of bare.r.signatures) t.false(s.ok || s.trusted);
  }
  // the human form says the same
  const text = await xsota("image", "verify", path.join(MCUBOOT, "ed25519_h200_4096.bin"), "--key", path.join(MCUBOOT, "keys/ed25519.pem"));
  t.is(text.code, 0);
  t.regex(text.stdout, /valid MCUboot image\n  version 1\.2\.3\+4\n  signature 0: ed25519, key digest [0-9a-f]{64}: verifies, trusted key/);
});

test("every ESP Secure Boot V2 vector gets its manifest verdict with its trusted keys or eFuse digests", async (t) => {
  t.true(sbv2.images.length >= 6);
  for (const e of sbv2.images) {
    const file = path.join(SBV2, e.file);
    const byKey = await verify(file, ...e.trustedKeys.flatMap((k) => ["--key", path.join(SBV2, k)]));
    const byDigest = await verify(file, ...e.trustedKeyDigests.flatMap((d) => ["--key-digest", d]));
    const bare = await verify(file);
    for (const [how, { r, code }] of [["--key", byKey], ["--key-digest", byDigest], ["no key", bare]] as const) {
      t.is(r.valid ? "valid" : "invalid", e.expected, `${e.file} ${how}: ${r.errors.join("; ")}`);
      t.is(code, exitFor(e.expected), `${e.file} ${how}`);
      t.is(r.format, "esp");
      t.is(r.version, "2.0.0");
      t.is(r.securityCounter, 0);
      const present = e.signatureBlocks.filter((b) => b.valid);
      t.deepEqual(r.signatures.map((s) => [s.index, s.keyDigest, s.ok]), present.map((b) => [b.index, b.keyDigest, true]), `${e.file} ${how}`);
      const trusted = how === "no key" ? [] : e.trustedKeyDigests;
      t.deepEqual(r.signatures.map((s) => s.trusted), present.map((b) => trusted.includes(b.keyDigest!)), `${e.file} ${how}`);
    }
    t.deepEqual(byKey.r.signatures.map((s) => s.algorithm), e.signatureBlocks.filter((b) => b.valid).map((b) => ({ "RSA-3072-PSS": "rsa3072-pss", "ECDSA-SHA256": "ecdsa-p256", "ECDSA-P384-SHA384": "ecdsa-p384" })[b.scheme!]));
  }
  // the unsigned apps: valid on their own, refused when a key is required
  for (const app of ["app.bin", "app-40000.bin"]) {
    t.is((await verify(path.join(SBV2, app))).code, 0, app);
    const keyed = await verify(path.join(SBV2, app), "--key", path.join(SBV2, "keys/ecdsa256.pub.pem"));
    t.is(keyed.code, 1, app);
    t.regex(keyed.r.errors.join(), /Secure Boot V2: (no room for a signature sector|no signature block verifies)/);
  }
  // a key that signed another block only
  const other = await verify(path.join(SBV2, "app_ecdsa256_3keys.bin"), "--key", path.join(SBV2, "keys/rsa3072.pub.pem"));
  t.is(other.code, 1);
  t.regex(other.r.errors.join(), /no signature block verifies with a trusted key/);
});

test("tampered copies exit 1 with the reason; the file is left as it was", async (t) => {
  for (const e of mcuboot.filter((x) => x.verifyKey)) {
    const copy = tampered(path.join(MCUBOOT, e.file), e.headerSize + 100, `t-${e.file}`);
    const before = createHash("sha256").update(fs.readFileSync(copy)).digest("hex");
    const { r, code } = await verify(copy, "--key", path.join(MCUBOOT, e.verifyKey!));
    t.is(code, 1, e.file);
    t.false(r.valid);
    t.regex(r.errors.join(), /does not match the hash TLV/, e.file);
    t.is(createHash("sha256").update(fs.readFileSync(copy)).digest("hex"), before);
    // a flipped signature byte: the hash holds, the signature does not
    const sig = e.tlvs.find((x) => SIG_TLVS.includes(x.name))!;
    const badSig = await verify(tampered(path.join(MCUBOOT, e.file), sig.valueOffset + sig.len - 2, `s-${e.file}`), "--key", path.join(MCUBOOT, e.verifyKey!));
    t.is(badSig.code, 1, e.file);
    t.regex(badSig.r.errors.join(), /no signature by a trusted key verifies/, e.file);
  }
  for (const e of sbv2.images) {
    const keys = e.trustedKeys.flatMap((k) => ["--key", path.join(SBV2, k)]);
    const body = await verify(tampered(path.join(SBV2, e.file), 1000, `t-${e.file}`), ...keys);
    t.is(body.code, 1, e.file);
    t.regex(body.r.errors.join(), /checksum mismatch|appended SHA-256 mismatch/, e.file);
    // the last byte of the signed region (the app's appended hash, or espsecure's 0xFF padding)
    const last = tampered(path.join(SBV2, e.file), e.signedLength - 1, `p-${e.file}`);
    for (const args of [keys, []]) {
      const { r, code } = await verify(last, ...args);
      t.is(code, 1, `${e.file} ${args.length ? "with" : "without"} keys`);
      t.regex(r.errors.join(), /appended SHA-256 mismatch|Secure Boot V2/, e.file);
    }
  }
  // the padding of a 40000-byte app: the app checks out, only the signature catches it
  const padded = await verify(tampered(path.join(SBV2, "app-40000_ecdsa256.bin"), 40000, "pad.bin"));
  t.is(padded.code, 1);
  t.regex(padded.r.errors.join(), /Secure Boot V2 block 0: the block's image digest does not match the image/);
  t.false(padded.r.signatures[0].ok);
  // a signature byte, its CRC fixed by nobody: the block is refused by its CRC
  const sigByte = await verify(tampered(path.join(SBV2, "app_ecdsa256.bin"), 65536 + 110, "sig.bin"), "--key", path.join(SBV2, "keys/ecdsa256.pub.pem"));
  t.is(sigByte.code, 1);
  t.regex(sigByte.r.errors.join(), /block 0: CRC mismatch/);
  // a file that is neither format
  const unknown = await verify(path.join(MCUBOOT, "README.md"));
  t.is(unknown.code, 1);
  t.is(unknown.r.format, "unknown");
  t.regex(unknown.r.errors[0], /unknown image format/);
  // --format forces the parser
  const forced = await verify(path.join(MCUBOOT, "unsigned_h200_4096.bin"), "--format", "esp");
  t.is(forced.code, 1);
  t.regex(forced.r.errors[0], /bad magic/);
});

test("--min-security-counter: SEC_CNT and secure_version below it exit 1", async (t) => {
  const seccnt = path.join(MCUBOOT, "ed25519_h200_4096_seccnt7.bin");
  const key = ["--key", path.join(MCUBOOT, "keys/ed25519.pub.pem")];
  t.is((await verify(seccnt, ...key, "--min-security-counter", "7")).code, 0);
  const low = await verify(seccnt, ...key, "--min-security-counter", "8");
  t.is(low.code, 1);
  t.regex(low.r.errors.join(), /security counter 7 is below 8/);
  const none = await verify(path.join(MCUBOOT, "ed25519_h200_4096.bin"), ...key, "--min-security-counter", "0");
  t.regex(none.r.errors.join(), /no protected SEC_CNT/);
  t.is(none.code, 1);
  const esp = await verify(path.join(SBV2, "app_ecdsa256.bin"), "--min-security-counter", "1");
  t.is(esp.code, 1);
  t.regex(esp.r.errors.join(), /secure_version 0 is below 1/);
});

test("bad usage exits 2 with a clear error and no report", async (t) => {
  const img = path.join(SBV2, "app_ecdsa256.bin");
  const cases: [string[], RegExp][] = [
    [[], /missing required argument 'file'/],
    [[img, "--bogus"], /unknown option '--bogus'/],
    [[img, "--format", "zip"], /argument 'zip' is invalid/],
    [[img, "--min-security-counter", "-1"], /not a non-negative integer/],
    [[img, "--key-digest", "abcd"], /--key-digest wants 64 hex digits/],
    [[path.join(MCUBOOT, "ed25519_h200_4096.bin"), "--key-digest", sbv2.keyDigests.ecdsa256], /MCUboot image does not carry its key/],
    [[img, "--key", path.join(tmp, "nope.pem")], /--key .*nope\.pem: does not exist/],
    [[img, "--key", path.join(SBV2, "README.md")], /--key .*README\.md: not a public or private key/],
    [[img, "--key", path.join(MCUBOOT, "keys/ed25519.pub.pem")], /Ed25519 keys are not a Secure Boot V2 scheme/],
    [[path.join(tmp, "missing.bin")], /image .*missing\.bin does not exist/],
    [[tmp], /is a directory/],
  ];
  for (const [args, message] of cases) {
    const r = await xsota("image", "verify", ...args);
    t.is(r.code, 2, args.join(" "));
    t.regex(r.stderr, /^xs-ota: error: /, args.join(" "));
    t.regex(r.stderr, message, args.join(" "));
    t.is(r.stdout, "", args.join(" "));
  }
});

test("image build --sign: the image verifies with each signing key (PEM or its eFuse digest) and not with another", async (t) => {
  const out = path.join(tmp, "signed.bin");
  const keys = ["rsa3072", "ecdsa256", "ecdsa384"];
  const built = await xsota("image", "build", "--version", "3.1.0", "--size", "40000", "--secure-version", "2", ...keys.flatMap((k) => ["--sign", path.join(SBV2, `keys/${k}.pem`)]), "-o", out);
  t.is(built.code, 0, built.stderr);
  t.regex(built.stdout, /45056 bytes \(signed: 3 Secure Boot V2 blocks\)/);
  t.is(fs.statSync(out).size, 40960 + 4096);
  for (const k of keys) {
    for (const args of [["--key", path.join(SBV2, `keys/${k}.pub.pem`)], ["--key", path.join(SBV2, `keys/${k}.pem`)], ["--key-digest", sbv2.keyDigests[k]]]) {
      const { r, code } = await verify(out, ...args, "--min-security-counter", "2");
      t.is(code, 0, `${k} ${args[0]}: ${r.errors.join("; ")}`);
      t.is(r.version, "3.1.0");
      t.is(r.securityCounter, 2);
      t.deepEqual(r.signatures.map((s) => s.keyDigest), keys.map((n) => sbv2.keyDigests[n]));
      t.deepEqual(r.signatures.map((s) => s.trusted), keys.map((n) => n === k));
    }
  }
  const wrong = await verify(out, "--key", path.join(SBV2, "keys/ecdsa256-b.pub.pem"));
  t.is(wrong.code, 1);
  // refused: a fourth key, a key that is not SBv2, a missing key file; nothing is written
  const four = path.join(tmp, "four.bin");
  const many = await xsota("image", "build", "--version", "3.1.0", "--size", "64KiB", ...[...keys, "ecdsa256-b"].flatMap((k) => ["--sign", path.join(SBV2, `keys/${k}.pem`)]), "-o", four);
  t.is(many.code, 2);
  t.regex(many.stderr, /at most 3/);
  const ed = await xsota("image", "build", "--version", "3.1.0", "--size", "64KiB", "--sign", path.join(MCUBOOT, "keys/ed25519.pem"), "-o", four);
  t.is(ed.code, 2);
  t.regex(ed.stderr, /not a Secure Boot V2 scheme/);
  const missing = await xsota("image", "build", "--version", "3.1.0", "--size", "64KiB", "--sign", path.join(tmp, "none.pem"), "-o", four);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--sign .*none\.pem: does not exist/);
  t.false(fs.existsSync(four));
});
