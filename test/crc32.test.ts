import test from "ava";
import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import { crc32, crc32Hex, otadataCrc } from "../src/util/crc32.ts";
import {
  asciiDecodeZ, asciiEncode, concatBytes, equalBytes, fromHex, readU16LE, readU32LE, toHex, writeU16LE, writeU32LE,
} from "../src/util/bytes.ts";

const ascii = (s: string) => asciiEncode(s);
const le32 = (v: number) => { const b = new Uint8Array(4); writeU32LE(b, 0, v); return b; };

test("check value of \"123456789\"", (t) => {
  t.is(crc32(ascii("123456789")), 0xcbf43926);
  t.is(crc32Hex(crc32(ascii("123456789"))), "cbf43926");
  t.is(crc32(new Uint8Array(0)), 0);
  t.is(crc32Hex(0x1234), "00001234");
});

test("streaming in pieces equals one-shot", (t) => {
  const data = new Uint8Array(randomBytes(5000));
  const whole = crc32(data);
  for (const cuts of [[0], [1], [17, 4095], [1, 2, 3, 2500, 4999], [5000]]) {
    let c = 0;
    let from = 0;
    for (const cut of [...cuts, data.length]) {
      c = crc32(data.subarray(from, cut), c);
      from = cut;
    }
    t.is(c, whole, `cuts ${cuts}`);
  }
});

test("matches node:zlib crc32 on random data and arbitrary prev", (t) => {
  for (let i = 0; i < 50; i++) {
    const data = new Uint8Array(randomBytes(i * 37));
    t.is(crc32(data), zlib.crc32(data));
    const prev = randomBytes(4).readUInt32LE(0);
    t.is(crc32(data, prev), zlib.crc32(data, prev));
  }
});

test("otadata CRC vectors (boot-formats.md 2.2 / 10.2)", (t) => {
  const vectors: [number, number, number][] = [
    [1, 0x4743989a, 0x99f8b879],
    [2, 0x55f63774, 0x8b4d1797],
    [3, 0xed4a5011, 0x33f170f2],
    [4, 0x709d68a8, 0xae26484b],
    [5, 0xc8210fcd, 0x169a2f2e],
    [16, 0xafe6a860, 0x715d8883],
  ];
  for (const [seq, crc, plain] of vectors) {
    t.is(otadataCrc(seq), crc, `seq ${seq}`);
    t.is(crc32(le32(seq), 0xffffffff), crc, `identity seq ${seq}`);
    t.is(zlib.crc32(le32(seq), 0xffffffff), crc, `zlib seq ${seq}`);
    t.is(crc32(le32(seq)), plain, `plain seq ${seq}`);
  }
  // Example entry of 10.2: seq=2, label 0xFF, state NEW, crc LE at 28.
  t.is(toHex(le32(otadataCrc(2))), "7437f655");
});

test("byte helpers", (t) => {
  t.is(toHex(new Uint8Array([0, 0xab, 0x0f, 0xff])), "00ab0fff");
  t.deepEqual(fromHex("00AB0fFF"), new Uint8Array([0, 0xab, 0x0f, 0xff]));
  t.throws(() => fromHex("abc"));
  t.throws(() => fromHex("zz"));
  t.deepEqual(asciiEncode("Az0"), new Uint8Array([0x41, 0x7a, 0x30]));
  t.throws(() => asciiEncode("é"));
  t.is(asciiDecodeZ(new Uint8Array([0x68, 0x69, 0, 0x78])), "hi");
  t.is(asciiDecodeZ(new Uint8Array([0x68, 0x69])), "hi");
  t.true(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  t.false(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  t.false(equalBytes(new Uint8Array([1]), new Uint8Array([1, 2])));
  const b = new Uint8Array(8);
  writeU32LE(b, 1, 0xdeadbeef);
  writeU16LE(b, 5, 0xcafe);
  t.is(toHex(b), "00efbeaddefeca00");
  t.is(readU32LE(b, 1), 0xdeadbeef);
  t.is(readU16LE(b, 5), 0xcafe);
  t.deepEqual(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])), new Uint8Array([1, 2, 3]));
});
