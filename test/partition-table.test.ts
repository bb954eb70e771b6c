import test from "ava";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PARTITION_TABLE_MAX_LEN,
  findOtadata,
  findOtaSlots,
  findPartition,
  parsePartitionTable,
  serializePartitionTable,
  type PartitionEntry,
} from "../src/targets/esp-idf/partition-table.ts";
import { nodeDigests } from "../host-sim/node-digests.ts";
import {
  buildPartitionsCommand,
  csvToEntries,
  entriesToCsv,
  showPartitionsCommand,
} from "../host-sim/partitions-csv.ts";

// boot-formats.md §10.1: partitions_two_ota.csv at the default offsets.
const TWO_OTA_HEAD = `
aa 50 01 02 00 90 00 00 00 40 00 00 6e 76 73 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
aa 50 01 00 00 d0 00 00 00 20 00 00 6f 74 61 64 61 74 61 00 00 00 00 00 00 00 00 00 00 00 00 00
aa 50 01 01 00 f0 00 00 00 10 00 00 70 68 79 5f 69 6e 69 74 00 00 00 00 00 00 00 00 00 00 00 00
aa 50 00 00 00 00 01 00 00 00 10 00 66 61 63 74 6f 72 79 00 00 00 00 00 00 00 00 00 00 00 00 00
aa 50 00 10 00 00 11 00 00 00 10 00 6f 74 61 5f 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
aa 50 00 11 00 00 21 00 00 00 10 00 6f 74 61 5f 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
eb eb ff ff ff ff ff ff ff ff ff ff ff ff ff ff bf 25 82 2c 0f a6 d8 64 1b d9 30 25 1e 06 b4 c4
ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff`;

function twoOtaBinary(): Uint8Array {
  const out = new Uint8Array(PARTITION_TABLE_MAX_LEN).fill(0xff);
  out.set(Buffer.from(TWO_OTA_HEAD.replace(/\s+/g, ""), "hex"));
  return out;
}

const e = (label: string, type: number, subtype: number, address: number, size: number, flags = 0): PartitionEntry => ({
  label,
  type,
  subtype,
  address,
  size,
  flags,
});

const TWO_OTA: PartitionEntry[] = [
  e("nvs", 1, 2, 0x9000, 0x4000),
  e("otadata", 1, 0, 0xd000, 0x2000),
  e("phy_init", 1, 1, 0xf000, 0x1000),
  e("factory", 0, 0, 0x10000, 0x100000),
  e("ota_0", 0, 0x10, 0x110000, 0x100000),
  e("ota_1", 0, 0x11, 0x210000, 0x100000),
];

// ESP-IDF components/partition_table/partitions_two_ota.csv
const TWO_OTA_CSV = `# Name,   Type, SubType, Offset,   Size, Flags
# Note: if you have increased the bootloader size, make sure to update the offsets to avoid overlap
nvs,      data, nvs,     ,        0x4000,
otadata,  data, ota,     ,        0x2000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
ota_0,    app,  ota_0,   ,        1M,
ota_1,    app,  ota_1,   ,        1M,
`;

const ser = (entries: PartitionEntry[], md5 = true) => serializePartitionTable(entries, nodeDigests, { md5 });
const parse = (b: Uint8Array, flashSize?: number) => parsePartitionTable(b, nodeDigests, { flashSize });

test("two-OTA vector serializes byte-for-byte", (t) => {
  const bin = ser(TWO_OTA);
  t.is(bin.length, 0xc00);
  t.deepEqual(Buffer.from(bin), Buffer.from(twoOtaBinary()));
  t.is(createHash("md5").update(bin.subarray(0, 192)).digest("hex"), "bf25822c0fa6d8641bd930251e06b4c4");
  t.is(Buffer.from(bin.subarray(0xd0, 0xe0)).toString("hex"), "bf25822c0fa6d8641bd930251e06b4c4");
});

test("two-OTA vector parses back to the same entries (0xC00 and full sector)", (t) => {
  t.deepEqual(parse(twoOtaBinary()), TWO_OTA);
  const sector = new Uint8Array(0x1000).fill(0xff);
  sector.set(twoOtaBinary());
  t.deepEqual(parse(sector, 4 << 20), TWO_OTA);
});

test("two-OTA CSV with auto offsets gives the vector", (t) => {
  const entries = csvToEntries(TWO_OTA_CSV);
  t.deepEqual(entries, TWO_OTA);
  t.deepEqual(Buffer.from(ser(entries)), Buffer.from(twoOtaBinary()));
});

test("MD5-less table parses", (t) => {
  const bin = ser(TWO_OTA, false);
  t.true(bin.subarray(6 * 32).every((b) => b === 0xff));
  t.deepEqual(parse(bin), TWO_OTA);
});

test("helpers find slots, otadata and labels", (t) => {
  const shuffled = [TWO_OTA[5], ...TWO_OTA.slice(0, 5)];
  t.deepEqual(findOtaSlots(shuffled).map((p) => p.label), ["ota_0", "ota_1"]);
  t.is(findOtadata(TWO_OTA)?.label, "otadata");
  t.is(findPartition(TWO_OTA, "phy_init")?.address, 0xf000);
  t.is(findPartition(TWO_OTA, "nope"), undefined);
  t.is(findOtadata([TWO_OTA[0]]), undefined);
});

test("label of 16 bytes without NUL round-trips; flags are kept", (t) => {
  const entries = [e("abcdefghijklmnop", 1, 0x81, 0x9000, 0x1000, 3)];
  t.deepEqual(parse(ser(entries)), entries);
  t.throws(() => ser([e("abcdefghijklmnopq", 1, 0x81, 0x9000, 0x1000)]), { message: /longer than 16/ });
});

const withEntries = (...changes: Array<[number, Partial<PartitionEntry>]>) => {
  const list = TWO_OTA.map((p) => ({ ...p }));
  for (const [i, c] of changes) Object.assign(list[i], c);
  return list;
};

test("bad magic", (t) => {
  const bin = twoOtaBinary();
  bin[0x40] = 0x12;
  t.throws(() => parse(bin), { message: /record 2: bad magic 0x5012/ });
});

test("bad MD5", (t) => {
  const bin = twoOtaBinary();
  bin[0x0a] ^= 1; // nvs size
  t.throws(() => parse(bin), { message: /record 6: bad MD5/ });
  const bin2 = twoOtaBinary();
  bin2[0xdf] ^= 1; // the digest itself
  t.throws(() => parse(bin2), { message: /record 6: bad MD5/ });
});

test("empty table", (t) => {
  t.throws(() => parse(new Uint8Array(0xc00).fill(0xff)), { message: /record 0: end marker in first record/ });
  t.throws(() => parse(ser([])), { message: /record 1: end marker before any partition/ });
});

test("missing end marker", (t) => {
  t.throws(() => parse(twoOtaBinary().subarray(0, 0xe0)), { message: /record 7: truncated/ });
});

test("overlapping partitions", (t) => {
  t.throws(() => parse(ser(withEntries([1, { address: 0xc000 }]))), {
    message: /record 1 \("otadata"\): offset 0xc000 overlaps record 0 \("nvs"\)/,
  });
});

test("app offset not 64 KiB aligned", (t) => {
  t.throws(() => parse(ser(withEntries([4, { address: 0x111000, size: 0xff000 }]))), {
    message: /record 4 \("ota_0"\): app partition offset 0x111000 is not aligned to 0x10000/,
  });
});

test("partition beyond flash size", (t) => {
  t.notThrows(() => parse(ser(TWO_OTA), 0x310000));
  t.throws(() => parse(ser(TWO_OTA), 0x300000), { message: /record 5 \("ota_1"\): .*beyond flash size 0x300000/ });
});

test("duplicate labels", (t) => {
  t.throws(() => parse(ser(withEntries([5, { label: "ota_0" }]))), {
    message: /record 5 \("ota_0"\): duplicate label, also used by record 4/,
  });
});

test("otadata size must be 0x2000", (t) => {
  t.throws(() => parse(ser(withEntries([1, { size: 0x1000 }]))), {
    message: /record 1 \("otadata"\): otadata size 0x1000 must be 0x2000/,
  });
});

test("more than one otadata", (t) => {
  const list = [...TWO_OTA, e("otadata2", 1, 0, 0x310000, 0x2000)];
  t.throws(() => parse(ser(list)), { message: /record 6 \("otadata2"\): more than one otadata partition \(first is record 1\)/ });
});

test("too many partitions for the table", (t) => {
  const many = Array.from({ length: 95 }, (_, i) => e(`p${i}`, 1, 0x81, 0x9000 + i * 0x1000, 0x1000));
  t.notThrows(() => ser(many, false));
  t.throws(() => ser(many), { message: /more than/ });
});

// Round trip CSV -> entries -> binary -> entries -> CSV is stable.
function roundTrip(t: import("ava").ExecutionContext, csv: string) {
  const entries = csvToEntries(csv);
  const back = parse(ser(entries));
  t.deepEqual(back, entries);
  const printed = entriesToCsv(back);
  t.is(entriesToCsv(entries), printed);
  t.deepEqual(csvToEntries(printed), entries);
  t.deepEqual(Buffer.from(ser(csvToEntries(printed))), Buffer.from(ser(entries)));
  return printed;
}

test("CSV round trip: two-OTA", (t) => {
  t.is(
    roundTrip(t, TWO_OTA_CSV),
    [
      "# ESP-IDF Partition Table",
      "# Name, Type, SubType, Offset, Size, Flags",
      "nvs,data,nvs,0x9000,16K,",
      "otadata,data,ota,0xd000,8K,",
      "phy_init,data,phy,0xf000,4K,",
      "factory,app,factory,0x10000,1M,",
      "ota_0,app,ota_0,0x110000,1M,",
      "ota_1,app,ota_1,0x210000,1M,",
      "",
    ].join("\n"),
  );
});

test("CSV round trip: esp32-4mb board profile", (t) => {
  const csv = readFileSync(new URL("../host-sim/boards/esp32-4mb.csv", import.meta.url), "utf8");
  const entries = csvToEntries(csv, { flashSize: 4 << 20 });
  t.deepEqual(entries, [
    e("nvs", 1, 2, 0x9000, 0x4000),
    e("otadata", 1, 0, 0xd000, 0x2000),
    e("phy_init", 1, 1, 0xf000, 0x1000),
    e("ota_0", 0, 0x10, 0x10000, 0x1e0000),
    e("ota_1", 0, 0x11, 0x1f0000, 0x1e0000),
    e("otajournal", 0x40, 0x01, 0x3d0000, 0x4000),
  ]);
  const printed = roundTrip(t, csv);
  t.true(printed.includes("\nota_0,app,ota_0,0x10000,1920K,\n"));
  t.true(printed.includes("\notajournal,64,1,0x3d0000,16K,\n"));
});

test("CSV parsing: numbers, suffixes, flags, auto placement, errors", (t) => {
  const csv = `
# comment
  fs, data, SPIFFS, , 0x10000, readonly
app0, app, 0x10, , 512k, encrypted:readonly
user, 0x41, 7, 0x200000, 1M
`;
  const entries = csvToEntries(csv);
  t.deepEqual(entries, [
    e("fs", 1, 0x82, 0x9000, 0x10000, 2),
    e("app0", 0, 0x10, 0x20000, 0x80000, 3),
    e("user", 0x41, 7, 0x200000, 0x100000),
  ]);
  t.is(entriesToCsv(entries).split("\n")[3], "app0,app,ota_0,0x20000,512K,encrypted:readonly");
  t.deepEqual(csvToEntries("x, data, , , 4K")[0].subtype, 0x06);
  t.throws(() => csvToEntries("a, app, , , 1M"), { message: /line 1: app partition cannot have an empty subtype/ });
  t.throws(() => csvToEntries("a, data, nvs, , "), { message: /line 1: size field/ });
  t.throws(() => csvToEntries("a, data, bogus, , 4K"), { message: /line 1: invalid value 'bogus'/ });
  t.throws(() => csvToEntries("a, data, nvs, , 4K, weird"), { message: /line 1: unknown flag 'weird'/ });
  t.throws(() => csvToEntries("a, data, nvs, 0x8000, 4K"), { message: /line 1: first partition offset 0x8000 overlaps/ });
  t.throws(() => csvToEntries("a, data, nvs, , 8K\n\nb, data, phy, 0xa000, 4K"), { message: /line 3: offset 0xa000 overlaps/ });
  t.throws(() => csvToEntries("a, data, ota, , 4K"), { message: /otadata size/ });
});

test("build and show commands", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "xs-ota-pt-"));
  const csvPath = join(dir, "two.csv");
  writeFileSync(csvPath, TWO_OTA_CSV);
  const binPath = join(dir, "out", "two.bin");
  t.deepEqual(buildPartitionsCommand(csvPath, binPath), TWO_OTA);
  t.deepEqual(new Uint8Array(readFileSync(binPath)), twoOtaBinary());
  const shown = showPartitionsCommand(binPath);
  t.true(shown.startsWith("# ESP-IDF Partition Table\n"));
  t.deepEqual(csvToEntries(shown), TWO_OTA);
  const flash = new Uint8Array(0x10000).fill(0xff);
  flash.set(twoOtaBinary(), 0x8000);
  const flashPath = join(dir, "flash.bin");
  writeFileSync(flashPath, flash);
  t.is(showPartitionsCommand(flashPath), shown);
});
