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
