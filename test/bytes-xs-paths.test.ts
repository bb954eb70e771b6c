// The word-wise paths of equalBytes / xorBytes (taken for aligned views of 64 bytes or more, a
// cost fix for XS, see src/util/bytes.ts) agree with the byte loops everywhere: every alignment,
// every length around the word and unroll boundaries, a difference at every position. And the
// image digests skip a CRC-32 the platform only computes in JavaScript when SHA-256 is native.

import test from "ava";
import { createHash, randomBytes } from "node:crypto";
import { equalBytes, xorBytes } from "../src/util/bytes.ts";
import { ImageDigests, digestMismatch } from "../src/download/image-digests.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import type { DigestAlgorithm, DigestPort } from "../src/ports.ts";

const slowXor = (b: Uint8Array, seed: number) => b.reduce((x, v) => x ^ v, seed & 0xff);

test("xorBytes equals the byte loop for every offset and length", (t) => {
  const data = new Uint8Array(randomBytes(400));
  for (let off = 0; off < 8; off++) {
    for (let len = 0; len <= 200; len++) {
      const v = data.subarray(off, off + len);
      if (xorBytes(v, 0xef) !== slowXor(v, 0xef)) return t.fail(`offset ${off} length ${len}`);
    }
  }
  t.pass();
});

test("equalBytes finds a difference at every position, aligned or not", (t) => {
  const a = new Uint8Array(randomBytes(300));
  for (let off = 0; off < 5; off++) {
    for (const len of [0, 1, 63, 64, 65, 67, 127, 128, 131, 257]) {
      const x = a.subarray(off, off + len);
      const buf = new Uint8Array(len + 3);
      for (const boff of [0, 1, 3]) {
        const y = buf.subarray(boff, boff + len);
        y.set(x);
        if (!equalBytes(x, y)) return t.fail(`equal: offsets ${off}/${boff} length ${len}`);
        for (let i = 0; i < len; i++) {
          y[i] ^= 0x40;
          if (equalBytes(x, y)) return t.fail(`difference at ${i} missed: offsets ${off}/${boff} length ${len}`);
          y[i] ^= 0x40;
        }
      }
    }
  }
  t.false(equalBytes(new Uint8Array(64), new Uint8Array(65)));
  t.pass();
});

test("ImageDigests skips a scripted CRC-32 only when SHA-256 is native", (t) => {
  const data = new Uint8Array(randomBytes(5000));
  const created: DigestAlgorithm[] = [];
  const port = (scripted: DigestAlgorithm[]): DigestPort => ({
    create: (a) => (created.push(a), nodeDigests.create(a)),
    scripted,
  });
  const expected = {
    md5: createHash("md5").update(data).digest("hex"),
    sha256: createHash("sha256").update(data).digest("hex"),
    crc32: "00000000", // wrong on purpose
  };

  created.length = 0;
  const skipping = new ImageDigests(port(["crc32"]));
  t.false(skipping.checksCrc32);
  t.deepEqual(created.sort(), ["md5", "sha256"], "no CRC-32 digest is even created");
  skipping.update(data);
  const got = skipping.finish();
  t.is(got.crc32, undefined);
  t.is(digestMismatch(expected, got), undefined, "md5 and sha256 match; the CRC-32 is not checked");
  t.regex(digestMismatch({ ...expected, sha256: "0".repeat(64) }, got) ?? "", /^sha256 mismatch/);

  for (const scripted of [[], ["crc32", "sha256"]] as DigestAlgorithm[][]) {
    const all = new ImageDigests(port(scripted));
    t.true(all.checksCrc32, JSON.stringify(scripted));
    all.update(data);
    t.regex(digestMismatch(expected, all.finish()) ?? "", /^crc32 mismatch/);
  }
});
