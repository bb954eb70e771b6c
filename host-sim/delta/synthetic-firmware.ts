// Synthetic firmware images that differ the way two builds differ, for delta round trips
// (test/delta-create.test.ts) and bench/delta.ts. An image is a list of functions linked at a
// load address: each body is code-like bytes (drawn from a small instruction vocabulary, as
// compiled code reuses encodings) with call sites holding other functions' absolute addresses,
// then a string table and padding. A new build inserts, deletes, edits or moves functions and is
// linked again, so every call site after a change carries a shifted address, as in real builds.

import { Rng } from "../rng.ts";

export interface Program {
  functions: Uint8Array[];
  /** For each function, call sites: [offset in body, callee index]. */
  calls: [number, number][][];
  strings: Uint8Array;
}

const LOAD_ADDRESS = 0x400d0020;
const VOCABULARY_WORDS = 300;

function codeBytes(r: Rng, vocab: Uint32Array, length: number): Uint8Array {
  const b = new Uint8Array(length);
  const v = new DataView(b.buffer);
  for (let o = 0; o + 4 <= length; o += 4) v.setUint32(o, vocab[Math.floor(r.next() * VOCABULARY_WORDS)], true);
  return b;
}

export function syntheticProgram(size: number, seed: number): Program {
  const r = new Rng(seed);
  const vocab = new Uint32Array(VOCABULARY_WORDS).map(() => Math.floor(r.next() * 2 ** 32));
  const functions: Uint8Array[] = [];
  const calls: [number, number][][] = [];
  let total = 0;
  const codeSize = Math.floor(size * 0.8);
  while (total < codeSize) {
    const len = 4 * (16 + Math.floor(r.next() * 400));
    functions.push(codeBytes(r, vocab, len));
    total += len;
  }
  for (const f of functions) {
    const sites: [number, number][] = [];
    for (let o = 8; o + 4 <= f.length; o += 4 * (8 + Math.floor(r.next() * 40))) sites.push([o, Math.floor(r.next() * functions.length)]);
    calls.push(sites);
  }
  const words = ["ota", "flash", "partition", "error", "update", "image", "digest", "slot", "boot", "version", "%s: %d\n", "wifi"];
  let text = "";
  while (text.length < size - total - 4096) text += words[Math.floor(r.next() * words.length)] + (r.next() < 0.2 ? "\0" : " ");
  const strings = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) strings[i] = text.charCodeAt(i);
  return { functions, calls, strings };
}

/** Links a program: functions in order, call sites patched with absolute addresses, strings. */
export function link(p: Program): Uint8Array {
  const starts: number[] = [];
  let at = 0;
  for (const f of p.functions) {
    starts.push(at);
    at += f.length;
  }
  const out = new Uint8Array(at + p.strings.length + 64);
  const v = new DataView(out.buffer);
  p.functions.forEach((f, i) => {
    out.set(f, starts[i]);
    for (const [o, callee] of p.calls[i]) if (callee < starts.length) v.setUint32(starts[i] + o, LOAD_ADDRESS + starts[callee], true);
  });
  out.set(p.strings, at);
  return out;
}

export type Change = "insert" | "delete" | "edit" | "move" | "strings";

/** A copy of `p` with one kind of change, as the next build would have it. */
export function changed(p: Program, change: Change, seed: number): Program {
  const r = new Rng(seed);
  const functions = p.functions.slice();
  const calls = p.calls.map((c) => c.slice());
  let strings = p.strings;
  const pick = () => 1 + Math.floor(r.next() * (functions.length - 2));
  switch (change) {
    case "insert": {
      const at = pick();
      const body = new Uint8Array(4 * (100 + Math.floor(r.next() * 300))).map(() => Math.floor(r.next() * 256));
      functions.splice(at, 0, body);
      calls.splice(at, 0, []);
      // Calls to functions after the insertion now name the index + 1.
      for (const c of calls) for (const site of c) if (site[1] >= at) site[1]++;
      break;
    }
    case "delete": {
      const at = pick();
      functions.splice(at, 1);
      calls.splice(at, 1);
      for (const c of calls) for (const site of c) if (site[1] >= at) site[1] = site[1] === at ? 0 : site[1] - 1;
      break;
    }
    case "edit": {
      for (let k = 0; k < 3; k++) {
        const i = pick();
        const f = functions[i].slice();
        const o = 4 * Math.floor((r.next() * f.length) / 4);
        for (let j = o; j < Math.min(f.length, o + 24); j++) f[j] = Math.floor(r.next() * 256);
        functions[i] = f;
      }
      break;
    }
    case "move": {
      const from = pick();
      const to = pick();
      const [f] = functions.splice(from, 1);
      const [c] = calls.splice(from, 1);
      functions.splice(to, 0, f);
      calls.splice(to, 0, c);
      const remap = (i: number) => (i === from ? to : from < to && i > from && i <= to ? i - 1 : to < from && i >= to && i < from ? i + 1 : i);
      for (const cs of calls) for (const site of cs) site[1] = remap(site[1]);
      break;
    }
    case "strings": {
      const at = Math.floor(r.next() * strings.length);
      const ins = new Uint8Array(200).fill(0x41);
      const s = new Uint8Array(strings.length + ins.length);
      s.set(strings.subarray(0, at));
      s.set(ins, at);
      s.set(strings.subarray(at), at + ins.length);
      strings = s;
      break;
    }
  }
  return { functions, calls, strings };
}
