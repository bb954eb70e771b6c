// A uniform sector map that does not allocate one object per sector up front. An ESP32 app slot of
// 0x1E0000 bytes has 480 sectors of 4 KiB: as plain objects they would take about 30 KB of an XS
// heap that is about 77 KB in total (moddable-sdk.md §9). The array is a Proxy that makes each
// {offset, size} on access; length, indexing, iteration and the Array methods work as usual.

import type { Sector } from "../../ports.ts";

export function uniformSectors(size: number, blockLength: number): readonly Sector[] {
  if (!(blockLength > 0) || size % blockLength !== 0) {
    throw new RangeError(`partition size ${size} is not a multiple of the erase unit ${blockLength}`);
  }
  const count = size / blockLength;
  const index = (key: string | symbol): number => {
    if (typeof key !== "string" || key === "" || key.length > 10) return -1;
    const n = Number(key);
    return Number.isInteger(n) && n >= 0 && n < count && String(n) === key ? n : -1;
  };
  const target: Sector[] = [];
  return new Proxy(target, {
    get(t, key, receiver) {
      if (key === "length") return count;
      const i = index(key);
      if (i >= 0) return { offset: i * blockLength, size: blockLength };
      return Reflect.get(t, key, receiver);
    },
    has(t, key) {
      return index(key) >= 0 || Reflect.has(t, key);
    },
    set() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
}

/** The sectors of [address, address + size) in a chip's sector map (absolute offsets), made
 * partition-relative. The ECMA-419 status() has one blockLength per partition, so a chip with
 * mixed sectors (STM32F4: 4 x 16, 1 x 64, 7 x 128 KiB) cannot report its map through the flash
 * module: the firmware knows it, as it knows the partition table. Throws when the partition does
 * not start and end on sector bounds or a sector is not a whole number of `blockLength` (the unit
 * eraseBlock counts in). */
export function mappedSectors(map: readonly Sector[], address: number, size: number, blockLength: number): readonly Sector[] {
  const out: Sector[] = [];
  let at = address;
  for (const s of map) {
    if (s.offset + s.size <= address || s.offset >= address + size) continue;
    if (s.offset !== at || s.offset + s.size > address + size) break;
    if (!(blockLength > 0) || s.size % blockLength !== 0) {
      throw new RangeError(`sector at 0x${s.offset.toString(16)} (${s.size} bytes) is not a multiple of the erase unit ${blockLength}`);
    }
    out.push(Object.freeze({ offset: s.offset - address, size: s.size }));
    at += s.size;
  }
  if (at !== address + size) {
    throw new RangeError(`partition [0x${address.toString(16)}, +0x${size.toString(16)}) does not start and end on sector bounds of the sector map`);
  }
  return Object.freeze(out);
}
