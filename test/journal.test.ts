import test from "ava";
import { NorFlash, PowerCut, CUT_MODES } from "../host-sim/flash/nor-flash.ts";
import { Journal, IDLE, type JournalState } from "../src/agent/journal.ts";
import { encodeRecord, RecordType, RECORD_HEADER } from "../src/agent/journal-record.ts";
import { utf8Encode } from "../src/util/utf8.ts";

const geometry = { size: 0x2000, sectors: [{ offset: 0, size: 0x1000 }, { offset: 0x1000, size: 0x1000 }], writeAlign: 4, erasedValue: 0xff };
const offer = { component: "app", version: "2.0.0", url: "http://127.0.0.1:1/a.bin", size: 1 << 20, md5: "0".repeat(32), crc32: "0".repeat(8), sha256: "0".repeat(64) };
const downloading: JournalState = { phase: "download", offer, fromVersion: "1.0.0", slot: "ota_1", validator: '"2.0.0-b1"', progress: 0 };

function fresh() {
  const flash = new NorFlash(geometry);
  return { flash, part: flash.partition("otajournal", 0, 0x2000) };
}

test("state and checkpoints survive a reload", (t) => {
  const { part } = fresh();
  const j = new Journal(part);
  t.deepEqual(j.load(), IDLE);
  j.save(downloading);
  j.checkpoint(4096);
  j.checkpoint(8192);
  t.deepEqual(new Journal(part).load(), { ...downloading, progress: 8192 });
  j.clear();
  t.deepEqual(new Journal(part).load(), IDLE);
});

test("a checkpoint costs one 32-byte write and no erase", (t) => {
  const { flash, part } = fresh();
  const j = new Journal(part);
  j.load();
  j.save(downloading);
  const before = { ...flash.counters };
  j.checkpoint(4096);
  t.is(flash.counters.writes - before.writes, 1);
  t.is(flash.counters.bytesWritten - before.bytesWritten, 32);
  t.is(flash.counters.erases, before.erases);
});

test("every torn prefix length of a record is ignored and the previous record stands", (t) => {
  const payload = utf8Encode(JSON.stringify({ ...downloading, progress: 12345 }));
  const record = encodeRecord(RecordType.State, 3, payload, 0xff);
  // Past header + payload the record is erased padding: a prefix that long is the whole record.
  for (let n = 0; n < RECORD_HEADER + payload.length; n++) {
    for (const partial of [false, true]) {
      const { flash, part } = fresh();
      const j = new Journal(part);
      j.load();
      j.save(downloading);
      j.checkpoint(4096);
      // Program a prefix of the next record where the journal would append it.
      const pos = findAppend(flash);
      const torn = record.slice();
      for (let i = n; i < torn.length; i++) torn[i] = 0xff;
      if (partial) {
        // Some, not all, of the next byte's bits cleared.
        const missing = ~record[n] & 0xff;
        if (missing === 0) continue;
        torn[n] = record[n] | (missing & -missing);
      }
      flash.bytes.set(torn.map((b, i) => b & flash.bytes[pos + i]), pos);
      const got = new Journal(part).load();
      t.deepEqual(got, { ...downloading, progress: 4096 }, `prefix ${n}${partial ? "+bits" : ""}`);
      // And the journal keeps working after the torn record.
      const again = new Journal(part);
      again.load();
      again.checkpoint(8192);
      t.is(new Journal(part).load().progress, 8192);
    }
  }
});

/** First erased 32-byte slot after the last used one, scanning like the journal does. */
function findAppend(flash: NorFlash): number {
  let end = 0;
  for (let at = 0; at < 0x1000; at += 32) if (!flash.bytes.subarray(at, at + 32).every((b) => b === 0xff)) end = at + 32;
  return end;
}

test("the wrap survives a cut at every step, in every mode", (t) => {
  // Fill sector 0 until the next checkpoint must wrap, counting the operations of the wrap.
  const prepare = () => {
    const { flash, part } = fresh();
    const j = new Journal(part);
    j.load();
    j.save(downloading);
    let p = 0;
    while (flash.bytes[0xfe0] === 0xff) j.checkpoint((p += 4096));
    return { flash, part, j, p };
  };
  const probe = prepare();
  const start = probe.flash.ops;
  probe.j.checkpoint(probe.p + 4096);
  const wrapOps = probe.flash.ops - start;
  t.true(wrapOps >= 2, "erase + state record");
  let runs = 0;
  for (const mode of CUT_MODES) for (let k = 1; k <= wrapOps; k++) for (const seed of [1, 2, 3]) {
    const { flash, part, j, p } = prepare();
    flash.armCuts([{ at: flash.ops + k, mode, seed }]);
    t.throws(() => j.checkpoint(p + 4096), { instanceOf: PowerCut });
    const after = flash.powerCycle();
    const view = after.partition("otajournal", 0, 0x2000);
    const state = new Journal(view).load();
    t.is(state.phase, "download", `${mode} k=${k}`);
    t.deepEqual(state.offer, offer);
    t.true(state.progress === p || state.progress === p + 4096, `${mode} k=${k}: progress ${state.progress}`);
    // Recovery: the journal accepts new records and they win.
    const r = new Journal(view);
    r.load();
    r.checkpoint(p + 8192);
    r.checkpoint(p + 12288);
    t.is(new Journal(view).load().progress, p + 12288);
    runs++;
  }
  t.is(runs, CUT_MODES.length * wrapOps * 3);
});

test("resume bookkeeping: saved, kept across checkpoints, and a state without it (older firmware) still loads", (t) => {
  const { part } = fresh();
  const j = new Journal(part);
  j.load();
  // A state record as firmware before the resume fields wrote it.
  const old = { phase: "download", offer, fromVersion: "1.0.0", slot: "ota_1", validator: '"2.0.0-b1"', progress: 8192 };
  j.save(old as JournalState);
  t.deepEqual(new Journal(part).load(), old);
  t.is(new Journal(part).load().resumeTries, undefined);
  j.save({ ...old, phase: "download", resumeAt: 8192, resumeTries: 1 });
  j.checkpoint(12288);
  const back = new Journal(part).load();
  t.is(back.progress, 12288);
  t.is(back.resumeAt, 8192);
  t.is(back.resumeTries, 1);
});
