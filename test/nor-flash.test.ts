import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NorFlash, FlashRuleError, PowerCut } from "../host-sim/flash/nor-flash.ts";

const geometry = { size: 0x4000, sectors: [0, 1, 2, 3].map((i) => ({ offset: i * 0x1000, size: 0x1000 })), writeAlign: 4, erasedValue: 0xff };

test("a write may only clear bits: programming 0 back to 1 is an error", (t) => {
  const f = new NorFlash(geometry);
  f.write(0, Uint8Array.of(0xf0, 0x0f, 0xff, 0x00));
  f.write(0, Uint8Array.of(0xf0, 0x0f, 0x7f, 0x00)); // only clears
  const e = t.throws(() => f.write(0, Uint8Array.of(0xff, 0x0f, 0x7f, 0x00)), { instanceOf: FlashRuleError });
  t.regex(e.message, /sets bits 0->1/);
  t.deepEqual([...f.read(0, 4)], [0xf0, 0x0f, 0x7f, 0x00]);
  f.erase(0, 0x1000);
  t.deepEqual([...f.read(0, 4)], [0xff, 0xff, 0xff, 0xff]);
});

test("misaligned writes and erases off sector bounds are rejected", (t) => {
  const f = new NorFlash(geometry);
  t.throws(() => f.write(2, new Uint8Array(4)), { instanceOf: FlashRuleError, message: /misaligned/ });
  t.throws(() => f.write(0, new Uint8Array(6)), { instanceOf: FlashRuleError, message: /misaligned/ });
  t.throws(() => f.erase(0x800, 0x1000), { instanceOf: FlashRuleError });
  t.throws(() => f.write(0x4000, new Uint8Array(4)), { instanceOf: FlashRuleError, message: /outside/ });
  t.is(f.counters.writes, 0);
});

test("operations are counted and a partition view stays inside its bounds", (t) => {
  const f = new NorFlash(geometry);
  const p = f.partition("p", 0x1000, 0x2000);
  p.erase(0, 0x2000);
  p.write(0x1ffc, new Uint8Array(4));
  t.deepEqual(f.counters, { reads: 0, writes: 1, erases: 2, bytesWritten: 4 });
  t.throws(() => p.write(0x2000, new Uint8Array(4)), { message: /outside the partition/ });
  t.is(f.read(0x2ffc, 4)[0], 0);
});

test("power cuts: before, torn-write and torn-erase are deterministic and kill the chip", (t) => {
  const run = (mode: "before" | "torn-write" | "torn-erase", seed: number) => {
    const f = new NorFlash(geometry);
    f.write(0x1000, new Uint8Array(16).fill(0x55));
    f.armCuts([{ at: mode === "torn-erase" ? 2 : 2, mode, seed }]);
    const op = () => (mode === "torn-erase" ? f.erase(0x1000, 0x1000) : f.write(0, new Uint8Array(64)));
    t.throws(op, { instanceOf: PowerCut });
    t.throws(() => f.read(0, 4), { instanceOf: PowerCut });
    return f.bytes.slice(0, 0x2000);
  };
  const before = run("before", 1);
  t.true(before.subarray(0, 64).every((b) => b === 0xff));
  const torn = run("torn-write", 7);
  t.deepEqual(torn, run("torn-write", 7));
  const zeros = torn.subarray(0, 64).filter((b) => b === 0).length;
  t.true(zeros < 64);
  const erased = run("torn-erase", 3);
  t.deepEqual(erased, run("torn-erase", 3));
});

test("a file-backed chip reads and writes the file at each operation's offset, with the same torn cells as in memory", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nor-flash-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const mode of ["before", "torn-write", "torn-erase"] as const) {
    const file = path.join(dir, `${mode}.bin`);
    const chips = [new NorFlash(geometry), NorFlash.openFile(file, geometry)];
    for (let f of chips) {
      f.write(0x1000, new Uint8Array(16).fill(0x55));
      f.erase(0x2000, 0x1000);
      f.armCuts([{ at: 3, mode, seed: 11 }]);
      t.throws(() => (mode === "torn-erase" ? f.erase(0x1000, 0x1000) : f.write(0x1000, new Uint8Array(64).fill(0x11))), { instanceOf: PowerCut });
      f = f.powerCycle();
      f.write(0x3000, Uint8Array.of(1, 2, 3, 4));
      f.close();
    }
    const [mem] = chips;
    t.deepEqual(new Uint8Array(fs.readFileSync(file)), mem.snapshot(), `${mode}: the file holds the in-memory chip's cells`);
    const reopened = NorFlash.openFile(file, geometry);
    t.deepEqual([...reopened.read(0x3000, 4)], [1, 2, 3, 4]);
    t.throws(() => reopened.bytes, { message: /backed by the file .*\(use read\(\) or snapshot\(\)\)/ });
    reopened.close();
  }
  fs.writeFileSync(path.join(dir, "short.bin"), new Uint8Array(100));
  t.throws(() => NorFlash.openFile(path.join(dir, "short.bin"), geometry), { message: /is 100 bytes, the board has 16384/ });
});
