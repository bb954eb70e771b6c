// The Moddable platform's partitions on an MCUboot board (src/platform/moddable/partitions.ts):
// a mixed sector map (STM32F4) gives each partition its real sectors, and the running (primary)
// slot stays read-only except for its trailer sector(s), opened as a partition of their own.

import test from "ava";
import { ModdablePartitions } from "../src/platform/moddable/partitions.ts";
import type { FlashBackend, RawFlash } from "../src/platform/moddable/flash-backend.ts";
import type { PartitionInfo, Sector } from "../src/ports.ts";

const KiB = 1024;
const MAP: Sector[] = [16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128].reduce<Sector[]>((out, k) => {
  const at = out.length ? out[out.length - 1].offset + out[out.length - 1].size : 0;
  out.push({ offset: at, size: k * KiB });
  return out;
}, []);
const LAYOUT: PartitionInfo[] = [
  { label: "journal", type: 0x40, subtype: 0x01, address: 0x08000, size: 0x08000 },
  { label: "storage", type: 0x01, subtype: 0x80, address: 0x10000, size: 0x10000 },
  { label: "primary", type: 0x00, subtype: 0x10, address: 0x20000, size: 0x80000 },
  { label: "secondary", type: 0x00, subtype: 0x11, address: 0xa0000, size: 0x60000 },
];
/** What the natives open: [address, size, erase unit]. */
const NATIVE: Record<string, [number, number, number]> = {
  xs: [0x08000, 0x08000, 16 * KiB],
  storage: [0x10000, 0x10000, 64 * KiB],
  running: [0x20000, 0x80000, 128 * KiB],
  nextota: [0xa0000, 0x60000, 128 * KiB],
  "primary-trailer": [0x80000, 0x20000, 128 * KiB],
};

function backend(chip: Uint8Array, ops: string[]): FlashBackend {
  return {
    module: "embedded:storage/flash",
    labels: () => [...LAYOUT.map((p) => p.label), "primary-trailer"],
    open(path, writable): RawFlash {
      const [address, size, blockLength] = NATIVE[path];
      return {
        size,
        blockLength,
        read: (o, n) => chip.slice(address + o, address + o + n),
        write: (o, d) => {
          if (!writable) throw new Error("read-only");
          ops.push(`write ${path} 0x${o.toString(16)}`);
          chip.set(d, address + o);
        },
        eraseBlocks: (a, b) => {
          if (!writable) throw new Error("read-only");
          ops.push(`erase ${path} ${a}-${b}`);
          chip.fill(0xff, address + a * blockLength, address + b * blockLength);
        },
      };
    },
  };
}

function parts(trailer?: string) {
  const chip = new Uint8Array(1024 * KiB).fill(0xff);
  const ops: string[] = [];
  const p = new ModdablePartitions(backend(chip, ops), { layout: LAYOUT, running: "primary", sectorMap: MAP, runningTrailer: trailer });
  return { p, chip, ops };
}

test("a mixed sector map: the journal sees 2 x 16 KiB, storage 64 KiB, the slots 128 KiB sectors", (t) => {
  const { p } = parts("primary-trailer");
  t.deepEqual(p.open("journal").geometry.sectors.map((s) => s.size), [16 * KiB, 16 * KiB]);
  t.deepEqual(p.open("storage").geometry.sectors.map((s) => s.size), [64 * KiB]);
  t.deepEqual(p.open("primary").geometry.sectors.map((s) => s.offset), [0, 0x20000, 0x40000, 0x60000]);
  t.is(p.open("secondary").geometry.sectors.length, 3);
});

test("erases follow the map: a 16 KiB journal sector is one block, a half sector is refused", (t) => {
  const { p, ops } = parts();
  p.open("journal").erase(0x4000, 0x4000);
  t.deepEqual(ops, ["erase xs 1-2"]);
  t.throws(() => p.open("secondary").erase(0, 0x10000), { message: /sector bounds/ });
});

test("the running slot writes only in its trailer partition; the image part is refused", (t) => {
  const { p, chip, ops } = parts("primary-trailer");
  const primary = p.open("primary");
  primary.write(0x7fff8, new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  t.deepEqual(ops, ["write primary-trailer 0x1fff8"]);
  t.is(chip[0xa0000 - 8], 1);
  t.is(primary.read(0x7fff8, 1)[0], 1);
  t.throws(() => primary.write(0x5fff8, new Uint8Array(8)), { message: /read-only below its trailer/ });
  t.throws(() => primary.erase(0, 0x20000), { message: /read-only/ });
  primary.erase(0x60000, 0x20000);
  t.deepEqual(ops.slice(1), ["erase primary-trailer 0-1"]);
});

test("without a trailer partition the running slot is read-only", (t) => {
  const { p } = parts();
  t.throws(() => p.open("primary").write(0x7fff8, new Uint8Array(8)), { message: /read-only/ });
});
