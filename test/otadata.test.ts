import test from "ava";
import {
  OtaState, decodeEntry, encodeEntry, selectActive, slotOfSeq, seqForSlot, type OtaEntry,
} from "../src/targets/esp-idf/esp-otadata.ts";
import { otadataCrc } from "../src/util/crc32.ts";
import { toHex } from "../src/util/bytes.ts";

test("otadata CRC vectors (boot-formats.md 10.2)", (t) => {
  const vectors: [number, number][] = [[1, 0x4743989a], [2, 0x55f63774], [3, 0xed4a5011], [4, 0x709d68a8], [5, 0xc8210fcd], [16, 0xafe6a860]];
  for (const [seq, crc] of vectors) t.is(otadataCrc(seq), crc, `seq ${seq}`);
});

test("entry encoding matches the reference example byte for byte", (t) => {
  t.is(toHex(encodeEntry(2, OtaState.New)), "02000000ffffffffffffffffffffffffffffffffffffffff000000007437f655");
  const e = decodeEntry(encodeEntry(7, OtaState.Valid));
  t.deepEqual(e, { seq: 7, state: OtaState.Valid, crc: otadataCrc(7), crcOk: true });
});

// An independent statement of bootloader_utility's rules, table style, for the exhaustive check.
function oracle(entries: OtaEntry[]): number {
  const ok = entries.map((e) => e.seq !== 0xffffffff && e.state !== 3 && e.state !== 4 && e.crc === otadataCrc(e.seq));
  if (ok[0] && ok[1]) return entries[0].seq >= entries[1].seq ? 0 : 1;
  return ok[0] ? 0 : ok[1] ? 1 : -1;
}

test("slot choice for every combination of seq, state and CRC validity in both sectors", (t) => {
  const seqs = [1, 2, 3, 4, 0xffffffff];
  const states = Object.values(OtaState);
  const variants: OtaEntry[] = [];
  for (const seq of seqs) for (const state of states) for (const good of [true, false]) {
    const crc = good ? otadataCrc(seq) : (otadataCrc(seq) ^ 1) >>> 0;
    variants.push(decodeEntry(Uint8Array.from([...encodeEntry(seq, state).subarray(0, 28), crc & 255, (crc >>> 8) & 255, (crc >>> 16) & 255, crc >>> 24])));
  }
  let n = 0;
  for (const a of variants) for (const b of variants) {
    const got = selectActive([a, b]);
    const want = oracle([a, b]);
    if (got !== want) t.fail(`entries ${JSON.stringify([a, b])}: got ${got}, want ${want}`);
    n++;
  }
  t.is(n, variants.length ** 2);
  t.true(n >= 3600);
});

test("seq maps to slots and new seqs follow compute_ota_seq_for_target_slot", (t) => {
  t.is(slotOfSeq(1, 2), 0);
  t.is(slotOfSeq(2, 2), 1);
  t.is(slotOfSeq(5, 3), 1);
  t.is(seqForSlot(1, 1, 2), 2);
  t.is(seqForSlot(2, 0, 2), 3);
  t.is(seqForSlot(3, 0, 2), 3);
  t.is(seqForSlot(4, 0, 2), 5);
  for (let seq = 1; seq < 40; seq++) for (const count of [2, 3, 4]) for (let slot = 0; slot < count; slot++) {
    const s = seqForSlot(seq, slot, count);
    t.true(s >= seq && slotOfSeq(s, count) === slot && s - count < seq, `seq ${seq} slot ${slot} count ${count} -> ${s}`);
  }
});
