// Where a NorFlash keeps its cells: in memory (a Uint8Array), or in a file read and written at
// each operation's offset (positioned reads and writes), so that a file-backed chip holds no
// copy of its bytes in memory and a fleet of boards costs disk, not RAM. The NOR rules and the
// cut semantics live in NorFlash; a store only reads and writes what it is given.

import * as fs from "node:fs";

export interface FlashStore {
  readonly size: number;
  /** A copy of [address, address + length). */
  read(address: number, length: number): Uint8Array;
  /** Stores `data` at `address` as is (NorFlash has already applied the NOR rules). */
  write(address: number, data: Uint8Array): void;
  fill(address: number, length: number, value: number): void;
  close(): void;
}

export class MemoryStore implements FlashStore {
  constructor(readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  read(address: number, length: number): Uint8Array {
    return this.bytes.slice(address, address + length);
  }

  write(address: number, data: Uint8Array): void {
    this.bytes.set(data, address);
  }

  fill(address: number, length: number, value: number): void {
    this.bytes.fill(value, address, address + length);
  }

  close(): void {}
}

/** Largest buffer a fill writes at a time. */
const FILL_CHUNK = 64 * 1024;

export class FileStore implements FlashStore {
  private fd: number | undefined;

  private constructor(readonly path: string, readonly size: number, fd: number) {
    this.fd = fd;
  }

  /** Opens `path`, which must be `size` bytes; creates it filled with `erasedValue` when absent. */
  static open(path: string, size: number, erasedValue: number): FileStore {
    if (!fs.existsSync(path)) {
      const fd = fs.openSync(path, "w+");
      const store = new FileStore(path, size, fd);
      store.fill(0, size, erasedValue);
      return store;
    }
    const actual = fs.statSync(path).size;
    if (actual !== size) throw new Error(`flash image ${path} is ${actual} bytes, the board has ${size}`);
    return new FileStore(path, size, fs.openSync(path, "r+"));
  }

  read(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const fd = this.open();
    for (let done = 0; done < length; ) {
      const n = fs.readSync(fd, out, done, length - done, address + done);
      if (n === 0) throw new Error(`flash image ${this.path} ends at ${address + done}, before ${address + length}`);
      done += n;
    }
    return out;
  }

  write(address: number, data: Uint8Array): void {
    const fd = this.open();
    for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done, address + done);
  }

  fill(address: number, length: number, value: number): void {
    const chunk = new Uint8Array(Math.min(length, FILL_CHUNK)).fill(value);
    for (let at = address; at < address + length; at += chunk.length) {
      this.write(at, chunk.subarray(0, Math.min(chunk.length, address + length - at)));
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) throw new Error(`flash image ${this.path} was closed`);
    return this.fd;
  }
}
