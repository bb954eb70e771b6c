// Heap snapshots of a booted XS machine (shims and runtime bundle evaluated, nothing run yet), so
// that every later power-on starts an xsnap-worker from the snapshot (`-r`) instead of evaluating
// the same scripts again. The restored machine is the booted machine: a fresh heap with the same
// globals and modules, no state from any run. One snapshot per process and set of boot scripts
// (and worker flags), in a temporary folder removed when the process exits.
//
// Initial heap of the restored machine: xsnap-worker creates every machine with a 32 MiB chunk
// heap and 256 Ki slots, and (built with mxSnapshot) zeroes all of it at creation: about 10 000
// page faults, some 18 ms of system time per power-on, more than the run itself. The snapshot
// records the creation sizes it restores with; trimHeap() lowers the two initial sizes to what the
// booted heap holds with room to spare (at least 4 MiB / 64 Ki slots). XS grows both on demand by
// the unchanged increments (4 MiB / 128 Ki slots), so a run only sees its garbage collected
// sooner; a device's heap is smaller still.
//
// Snapshot layout (node_modules/@agoric/xsnap/moddable/xs/sources/xsSnapshot.c, fxWriteSnapshot
// and fxReadSnapshot): atoms of [u32 big-endian size including this 8-byte header][4-char type],
// the file being the atom "XS_M" whose body is the atoms VERS, SIGN, CREA, BLOC, HEAP, STAC,
// KEYS, NAME, SYMB. CREA is the txCreation struct (xsAll.h sxCreation), native-endian int32s.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import path from "node:path";

const ATOM_HEADER = 8;
/** txCreation field offsets in CREA's body (sxCreation in xsAll.h). */
const CREA_INITIAL_CHUNK_SIZE = 0;
const CREA_INITIAL_HEAP_COUNT = 8;
/** txSlot size on 64-bit hosts (the HEAP atom holds slots). */
const SLOT_SIZE = 16;
const MIN_CHUNK_BYTES = 4 * 1024 * 1024;
const MIN_HEAP_SLOTS = 64 * 1024;

const made = new Map<string, Promise<string>>();
let folder: string | undefined;

/** The identity of a boot: the scripts evaluated in order and the worker's flags. */
export function bootKey(scripts: string[], flags: unknown): string {
  const h = createHash("sha256");
  for (const s of scripts) h.update(`${s.length}:`).update(s);
  h.update(JSON.stringify(flags ?? null));
  return h.digest("hex").slice(0, 32);
}

/** A finished snapshot for `key`, or undefined when none was made (or is being made). */
export function findBootSnapshot(key: string): Promise<string> | undefined {
  return made.get(key);
}

/** Records that `write(file)` makes the snapshot for `key`; returns its promise (rejected, and
 * forgotten, when writing fails). Later boots with the same key wait for it. */
export function makeBootSnapshot(key: string, write: (file: string) => Promise<void>): Promise<string> {
  const file = path.join(snapshotFolder(), `${key}.xss`);
  const done = write(file).then(
    () => file,
    (e: unknown) => {
      made.delete(key);
      throw e;
    },
  );
  done.catch(() => undefined);
  made.set(key, done);
  return done;
}

function snapshotFolder(): string {
  if (!folder) {
    const dir = mkdtempSync(path.join(tmpdir(), "xs-ota-boot-"));
    folder = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return folder;
}

/** Lowers the initial chunk size and slot count a snapshot restores with (see the top of this
 * file). Returns false, leaving the file as it is, when its layout is not the one expected. */
export function trimHeap(file: string): boolean {
  if (endianness() !== "LE") return false;
  const bytes = readFileSync(file);
  const atoms = new Map<string, { body: number; size: number }>();
  if (bytes.toString("latin1", 4, 8) !== "XS_M") return false;
  for (let at = ATOM_HEADER; at + ATOM_HEADER <= bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    if (size < ATOM_HEADER || at + size > bytes.length) return false;
    atoms.set(bytes.toString("latin1", at + 4, at + 8), { body: at + ATOM_HEADER, size: size - ATOM_HEADER });
    at += size;
  }
  const crea = atoms.get("CREA");
  const bloc = atoms.get("BLOC");
  const heap = atoms.get("HEAP");
  if (!crea || !bloc || !heap || crea.size < CREA_INITIAL_HEAP_COUNT + 4) return false;
  const chunk = Math.max(MIN_CHUNK_BYTES, 2 * bloc.size);
  const slots = Math.max(MIN_HEAP_SLOTS, 2 * Math.ceil(heap.size / SLOT_SIZE));
  if (chunk >= bytes.readInt32LE(crea.body + CREA_INITIAL_CHUNK_SIZE) && slots >= bytes.readInt32LE(crea.body + CREA_INITIAL_HEAP_COUNT)) return true;
  bytes.writeInt32LE(Math.min(chunk, bytes.readInt32LE(crea.body + CREA_INITIAL_CHUNK_SIZE)), crea.body + CREA_INITIAL_CHUNK_SIZE);
  bytes.writeInt32LE(Math.min(slots, bytes.readInt32LE(crea.body + CREA_INITIAL_HEAP_COUNT)), crea.body + CREA_INITIAL_HEAP_COUNT);
  writeFileSync(file, bytes);
  return true;
}
