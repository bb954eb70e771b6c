// ESP-IDF partition CSV <-> entries, with gen_esp32part.py's conventions (esp-idf
// components/partition_table/gen_esp32part.py: PartitionTable.from_csv, PartitionDefinition.to_csv,
// parse_int), and the `xs-ota partitions build|show` commands.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  APP_ALIGN,
  AppSubtype,
  BootloaderSubtype,
  DATA_ALIGN,
  DataSubtype,
  PARTITION_LABEL_LEN,
  PARTITION_TABLE_OFFSET,
  PARTITION_TABLE_SECTOR_SIZE,
  PartFlag,
  PartitionTableSubtype,
  PartType,
  parsePartitionTable,
  serializePartitionTable,
  verifyPartitions,
  type PartitionEntry,
} from "../src/targets/esp-idf/partition-table.ts";
import { nodeDigests } from "./node-digests.ts";

const TYPES = new Map<string, number>([
  ["app", PartType.app],
  ["data", PartType.data],
  ["bootloader", PartType.bootloader],
  ["partition_table", PartType.partition_table],
]);

const appSubtypes: [string, number][] = [
  ["factory", AppSubtype.factory],
  ...Array.from({ length: 16 }, (_, n): [string, number] => [`ota_${n}`, AppSubtype.ota_0 + n]),
  ["test", AppSubtype.test],
  ["tee_0", AppSubtype.tee_0],
  ["tee_1", AppSubtype.tee_1],
];

const SUBTYPES = new Map<number, Map<string, number>>([
  [PartType.app, new Map(appSubtypes)],
  [PartType.data, new Map(Object.entries(DataSubtype))],
  [PartType.bootloader, new Map(Object.entries(BootloaderSubtype))],
  [PartType.partition_table, new Map(Object.entries(PartitionTableSubtype))],
]);

const FLAGS: [string, number][] = [
  ["encrypted", PartFlag.encrypted],
  ["readonly", PartFlag.readonly],
];

export interface CsvOptions {
  /** Where the table lives; auto-placement starts one sector after it. Default 0x8000. */
  tableOffset?: number;
  /** Checked by verifyPartitions when given. */
  flashSize?: number;
  /** Run verifyPartitions (gen_esp32part.py does unless --no-verify). Default true. */
  verify?: boolean;
}

/** Parses a partitions CSV. Empty offsets are placed after the previous partition, aligned to
 * 0x10000 for app and 0x1000 otherwise. Errors name the line. */
export function csvToEntries(text: string, opts: CsvOptions = {}): PartitionEntry[] {
  const rows: { entry: PartitionEntry; offset: number | undefined; line: number }[] = [];
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      rows.push({ ...parseRow(line), line: i + 1 });
    } catch (e) {
      throw new Error(`partitions CSV line ${i + 1}: ${(e as Error).message}`);
    }
  });
  const tableEnd = (opts.tableOffset ?? PARTITION_TABLE_OFFSET) + PARTITION_TABLE_SECTOR_SIZE;
  let lastEnd = tableEnd;
  const entries = rows.map(({ entry, offset, line }, k) => {
    if (offset !== undefined && offset < lastEnd) {
      throw new Error(
        k === 0
          ? `partitions CSV line ${line}: first partition offset ${hex(offset)} overlaps end of partition table ${hex(tableEnd)}`
          : `partitions CSV line ${line}: offset ${hex(offset)} overlaps the previous partition, which ends at ${hex(lastEnd)}`,
      );
    }
    if (offset === undefined) {
      const align = entry.type === PartType.app ? APP_ALIGN : DATA_ALIGN;
      offset = Math.ceil(lastEnd / align) * align;
    }
    entry.address = offset;
    lastEnd = offset + entry.size;
    return entry;
  });
  if (opts.verify ?? true) verifyPartitions(entries, { flashSize: opts.flashSize });
  return entries;
}

function parseRow(line: string): { entry: PartitionEntry; offset: number | undefined } {
  const f = (line + ",,,,").split(",").map((s) => s.trim());
  const label = f[0];
  if (new TextEncoder().encode(label).length > PARTITION_LABEL_LEN) {
    throw new Error(`name '${label}' is longer than ${PARTITION_LABEL_LEN} bytes`);
  }
  if (f[1] === "") throw new Error("field 'type' can't be left empty");
  const type = parseNumber(f[1], TYPES);
  if (type < 0 || type > 0xfe) throw new Error(`type ${f[1]} out of range`);
  let subtype: number;
  if (f[2] === "") {
    if (type === PartType.app) throw new Error("app partition cannot have an empty subtype");
    subtype = DataSubtype.undefined;
  } else {
    subtype = parseNumber(f[2], SUBTYPES.get(type));
    if (subtype < 0 || subtype > 0xfe) throw new Error(`subtype ${f[2]} out of range`);
  }
  const offset = f[3] === "" ? undefined : parseNumber(f[3]);
  if (f[4] === "") throw new Error("size field can't be empty");
  const size = parseNumber(f[4]);
  for (const [name, v] of [["offset", offset ?? 0], ["size", size]] as const) {
    if (v < 0 || v > 0xffffffff) throw new Error(`${name} ${hex(v)} out of range`);
  }
  let flags = 0;
  for (const name of f[5].split(":")) {
    const bit = FLAGS.find(([n]) => n === name);
    if (bit) flags |= bit[1];
    else if (name !== "") throw new Error(`unknown flag '${name}'`);
  }
  return { entry: { label, type, subtype, address: offset ?? 0, size, flags }, offset };
}

/** gen_esp32part.py's parse_int: a keyword, or an integer (0x/0o/0b/decimal) with optional
 * k/K (x1024) or m/M (x1048576) suffix. */
function parseNumber(v: string, keywords?: Map<string, number>): number {
  const key = keywords?.get(v.toLowerCase());
  if (key !== undefined) return key;
  const suffix = v.slice(-1).toLowerCase();
  if (suffix === "k" || suffix === "m") return parseNumber(v.slice(0, -1)) * (suffix === "k" ? 1024 : 1024 * 1024);
  const m = /^([+-]?)(0x[0-9a-f]+|0o[0-7]+|0b[01]+|0+|[1-9][0-9]*)$/i.exec(v);
  if (!m) {
    const known = keywords ? `; known keywords: ${[...keywords.keys()].join(", ")}` : "";
    throw new Error(`invalid value '${v}'${known}`);
  }
  const n = Number(m[2]);
  return m[1] === "-" ? -n : n;
}

/** gen_esp32part.py's binary->CSV output: names where known (else decimal), offsets in hex,
 * sizes as M/K when divisible. Flag bits other than encrypted/readonly are dropped, as there. */
export function entriesToCsv(entries: readonly PartitionEntry[]): string {
  const rows = ["# ESP-IDF Partition Table", "# Name, Type, SubType, Offset, Size, Flags"];
  for (const p of entries) {
    rows.push(
      [
        p.label,
        keyword(p.type, TYPES),
        keyword(p.subtype, SUBTYPES.get(p.type)),
        hex(p.address),
        sizeText(p.size),
        FLAGS.filter(([, bit]) => p.flags & bit).map(([n]) => n).join(":"),
      ].join(","),
    );
  }
  return rows.join("\n") + "\n";
}

function keyword(v: number, names: Map<string, number> | undefined): string {
  for (const [k, n] of names ?? []) if (n === v) return k;
  return String(v);
}

function sizeText(n: number): string {
  if (n % 0x100000 === 0) return `${n / 0x100000}M`;
  if (n % 0x400 === 0) return `${n / 0x400}K`;
  return hex(n);
}

const hex = (n: number): string => (n < 0 ? "-0x" + (-n).toString(16) : "0x" + n.toString(16));

/** `xs-ota partitions build IN.csv OUT.bin`: CSV -> verified 0xC00-byte table with MD5. */
export function buildPartitionsCommand(inCsvPath: string, outBinPath: string): PartitionEntry[] {
  const entries = csvToEntries(readFileSync(inCsvPath, "utf8"));
  const bin = serializePartitionTable(entries, nodeDigests);
  mkdirSync(dirname(outBinPath), { recursive: true });
  writeFileSync(outBinPath, bin);
  return entries;
}

/** `xs-ota partitions show IN.bin`: the table as CSV. IN.bin is the table itself, or a flash
 * dump with the table at 0x8000. */
export function showPartitionsCommand(inBinPath: string): string {
  const file = new Uint8Array(readFileSync(inBinPath));
  const isTable = (b: Uint8Array) => b[0] === 0xaa && b[1] === 0x50;
  let table = file;
  if (!isTable(file) && isTable(file.subarray(PARTITION_TABLE_OFFSET))) {
    table = file.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_SECTOR_SIZE);
  }
  return entriesToCsv(parsePartitionTable(table, nodeDigests));
}
