import test from "ava";
import { nodeDigests } from "../host-sim/node-digests.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("md5 known vectors", (t) => {
  const d = nodeDigests.create("md5");
  t.is(hex(d.finish()), "d41d8cd98f00b204e9800998ecf8427e");
  d.update(ascii("abc"));
  t.is(hex(d.finish()), "900150983cd24fb0d6963f7d28e17f72");
});

test("sha256 known vectors", (t) => {
  const d = nodeDigests.create("sha256");
  d.update(ascii("abc"));
  t.is(hex(d.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  t.is(hex(d.finish()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("crc32 check value, big-endian, streaming", (t) => {
  const d = nodeDigests.create("crc32");
  d.update(ascii("123456789"));
  t.is(hex(d.finish()), "cbf43926");
  d.update(ascii("1234"));
  d.update(ascii("56789"));
  t.is(hex(d.finish()), "cbf43926");
  t.is(hex(d.finish()), "00000000");
});

test("finish() resets for reuse", (t) => {
  for (const alg of ["md5", "sha256", "crc32"] as const) {
    const d = nodeDigests.create(alg);
    d.update(ascii("first"));
    d.finish();
    d.update(ascii("123456789"));
    const fresh = nodeDigests.create(alg);
    fresh.update(ascii("123456789"));
    t.is(hex(d.finish()), hex(fresh.finish()), alg);
  }
});
