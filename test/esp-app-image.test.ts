import test from "ava";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEspImage, peekAppDesc, ESP_CHECK_CHUNK, type EspImageInfo } from "../src/targets/esp-idf/esp-app-image.ts";
import { encodeAppDesc, parseAppDesc } from "../src/targets/esp-idf/esp-app-desc.ts";
import { readU32LE } from "../src/util/bytes.ts";
import { buildTestImage, imageBuildCommand, parseSize } from "../host-sim/image-builder.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";

const digests = nodeDigests;

const KiB = 1024;
const MiB = 1024 * 1024;

/** Checks `img` as if it sat at the start of a slot of `limit` bytes (erased 0xFF after it). */
function check(img: Uint8Array, limit = img.length + 64 * KiB): EspImageInfo & { maxRead: number } {
  let maxRead = 0;
  const read = (off: number, len: number) => {
    if (len > ESP_CHECK_CHUNK) throw new Error(`read of ${len} bytes`);
    if (off + len > limit) throw new Error("read past limit");
    maxRead = Math.max(maxRead, len);
    const out = new Uint8Array(len).fill(0xff);
    if (off < img.length) out.set(img.subarray(off, Math.min(off + len, img.length)));
    return out;
  };
  return { ...checkEspImage(read, limit, digests), maxRead };
}

/** Offsets of interesting places in a built image. */
function layout(img: Uint8Array) {
  const segs: { hdr: number; data: number; len: number }[] = [];
  let pos = 24;
  for (let s = 0; s < img[1]; s++) {
    const len = readU32LE(img, pos + 4);
    segs.push({ hdr: pos, data: pos + 8, len });
    pos += 8 + len;
  }
  const end = img.length - 32; // end of the checksum block
  return { segs, unpadded: pos, checksum: end - 1, hash: end };
}

const flip = (img: Uint8Array, off: number, mask = 0xff) => {
  const c = img.slice();
  c[off] ^= mask;
  return c;
};

test("built images pass with the right length, version and project", (t) => {
  for (const size of [1 * KiB, 64 * KiB, 1 * MiB, 1 * KiB + 16, 100_000 - (100_000 % 16)]) {
    const img = buildTestImage({ version: "2.0.0", size, secureVersion: 3 });
    t.is(img.length, size);
    const info = check(img);
    t.is(info.length, size);
    t.is(info.segmentCount, 4);
    t.is(info.chipId, 0);
    t.true(info.hashAppended);
    t.is(info.entryAddr, 0x40080000);
    t.true(info.maxRead <= 4096);
    t.deepEqual(info.appDesc, {
      secureVersion: 3, version: "2.0.0", projectName: "xs-ota-demo", time: "12:00:00", date: "Jan  1 2026", idfVersion: "v5.5",
    });
    t.deepEqual(peekAppDesc(img.subarray(0, 0x20 + 256)), info.appDesc);
    // exact fit in a slot of the image size
    t.is(check(img, size).length, size);
  }
  const named = buildTestImage({ version: "1.2.3-rc.1", size: 4 * KiB, projectName: "other" });
  t.is(check(named).appDesc.projectName, "other");
});

test("sizes are checked, not rounded", (t) => {
  t.throws(() => buildTestImage({ version: "1", size: 1024 + 8 }), { instanceOf: RangeError });
  t.throws(() => buildTestImage({ version: "1", size: 1008 }), { instanceOf: RangeError });
});

test("determinism: same options give the same bytes; build varies bytes, not version", (t) => {
  const a = buildTestImage({ version: "2.0.0", size: 64 * KiB });
  const b = buildTestImage({ version: "2.0.0", size: 64 * KiB });
  const c = buildTestImage({ version: "2.0.0", size: 64 * KiB, build: 1 });
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  t.is(check(c).appDesc.version, "2.0.0");
  t.is(check(c).length, 64 * KiB);
  t.notDeepEqual(a, buildTestImage({ version: "2.0.1", size: 64 * KiB }));
});

test("flipped header bytes are detected", (t) => {
  const img = buildTestImage({ version: "2.0.0", size: 64 * KiB });
  t.throws(() => check(flip(img, 0)), { message: /bad magic 0x16 at 0/ });
  t.throws(() => check(flip(img, 1)), { message: /segment count 251 exceeds 16/ });
  for (const off of [2, 3, 4, 7, 8, 12, 13, 15, 18, 22, 23]) {
    t.throws(() => check(flip(img, off)), { message: /appended SHA-256 mismatch/ }, `offset ${off}`);
  }
});

test("flipped segment headers and data are detected", (t) => {
  for (const build of [0, 1, 2, 3]) {
    const img = buildTestImage({ version: "2.0.0", size: 64 * KiB, build });
    const { segs } = layout(img);
    // load_addr is covered by the SHA-256 only
    t.throws(() => check(flip(img, segs[2].hdr)), { message: /appended SHA-256 mismatch/ });
    // data_len: low bits break the 4-alignment, high bits run past the slot
    t.throws(() => check(flip(img, segs[1].hdr + 4, 0x01)), { message: /segment 1 length 0x[0-9a-f]+ not a multiple of 4/ });
    t.throws(() => check(flip(img, segs[3].hdr + 4, 0x02)), { message: /segment 3 length 0x[0-9a-f]+ not a multiple of 4/ });
    t.throws(() => check(flip(img, segs[2].hdr + 7)), { message: /image runs past the slot end/ });
    // app descriptor magic
    t.throws(() => check(flip(img, 0x20)), { message: /app descriptor magic 0xabcd54cd/ });
    t.throws(() => peekAppDesc(flip(img, 0x21)), { message: /app descriptor magic/ });
    // segment data anywhere
    for (const s of segs) {
      for (const off of [s.data + 4, s.data + (s.len >> 1), s.data + s.len - 1]) {
        t.throws(() => check(flip(img, off, 0x5a)), { message: /checksum mismatch: stored 0x[0-9a-f]+, computed 0x[0-9a-f]+/ }, `offset ${off}`);
      }
    }
    t.throws(() => check(flip(img, 0x20 + 16)), { message: /checksum mismatch/ }); // version string
  }
});

test("flipped checksum, padding and appended hash are detected", (t) => {
  for (const build of [0, 1, 2, 3, 4, 5]) {
    const img = buildTestImage({ version: "3.1.4", size: 16 * KiB, build });
    const { checksum, hash, unpadded } = layout(img);
    t.true(hash - unpadded >= 1 && hash - unpadded <= 16 && hash % 16 === 0);
    const stored = img[checksum];
    t.throws(() => check(flip(img, checksum, 0x01)), {
      message: `-3: checksum mismatch: stored 0x${(stored ^ 1).toString(16)}, computed 0x${stored.toString(16)}`,
    });
    if (checksum > unpadded) t.throws(() => check(flip(img, unpadded)), { message: /appended SHA-256 mismatch/ });
    for (const off of [hash, hash + 1, hash + 16, hash + 31]) {
      t.throws(() => check(flip(img, off)), { message: /appended SHA-256 mismatch/ }, `offset ${off}`);
    }
  }
});

test("truncated image runs past the slot end", (t) => {
  const img = buildTestImage({ version: "2.0.0", size: 64 * KiB });
  for (const limit of [16, 100, 0x8000, img.length - 33, img.length - 32, img.length - 1]) {
    t.throws(() => check(img, limit), { message: /image runs past the slot end/ }, `limit ${limit}`);
  }
  // a short read (the source ends early) is also an error
  t.throws(() => checkEspImage((o, l) => img.slice(o, Math.min(o + l, 1000)), img.length, digests), { message: /short read/ });
});

test("segment count 17 is rejected; 0 too", (t) => {
  const img = buildTestImage({ version: "2.0.0", size: 4 * KiB });
  const c = img.slice();
  c[1] = 17;
  t.throws(() => check(c), { message: /segment count 17 exceeds 16/ });
  t.throws(() => peekAppDesc(c), { message: /segment count 17/ });
  c[1] = 0;
  t.throws(() => check(c), { message: /no segments/ });
});

test("app descriptor encode/parse round trip and peek on short input", (t) => {
  const desc = { secureVersion: 0xfffffffe, version: "v".repeat(31), projectName: "p", time: "t".repeat(15), date: "", idfVersion: "v5.5" };
  t.deepEqual(parseAppDesc(encodeAppDesc(desc)), desc);
  t.throws(() => encodeAppDesc({ ...desc, version: "v".repeat(32) }), { instanceOf: RangeError });
  t.throws(() => parseAppDesc(new Uint8Array(255)));
  const img = buildTestImage({ version: "9", size: 1024 });
  t.is(peekAppDesc(img.subarray(0, 0x11f)), undefined);
  t.is(peekAppDesc(img.subarray(0, 0x120))?.version, "9");
  t.is(readU32LE(img, 0x20 + 4), 0); // secure_version at image offset 0x24
});

test("parseSize and imageBuildCommand", (t) => {
  t.is(parseSize("1MiB"), MiB);
  t.is(parseSize("64KiB"), 64 * KiB);
  t.is(parseSize("4096"), 4096);
  t.is(parseSize("2M"), 2 * MiB);
  t.is(parseSize("64k"), 64 * KiB);
  t.is(parseSize("1mb"), MiB);
  t.is(parseSize("0x10000"), 64 * KiB);
  t.is(parseSize(2048), 2048);
  for (const bad of ["", "MiB", "1 XB", "-1", "1.5.5"]) t.throws(() => parseSize(bad), undefined, bad);
  const out = join(mkdtempSync(join(tmpdir(), "xs-ota-img-")), "app.bin");
  const r = imageBuildCommand({ version: "2.0.0", size: "64KiB", out, build: 2, secureVersion: 1 });
  const file = new Uint8Array(readFileSync(out));
  t.is(r.size, 64 * KiB);
  t.deepEqual(file, buildTestImage({ version: "2.0.0", size: 64 * KiB, build: 2, secureVersion: 1 }));
  t.is(r.sha256, createHash("sha256").update(file).digest("hex"));
  t.is(check(file).appDesc.secureVersion, 1);
});
