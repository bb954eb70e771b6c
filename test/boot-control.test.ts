import test from "ava";
import { NorFlash, PowerCut, CUT_MODES } from "../host-sim/flash/nor-flash.ts";
import { EspBootControl } from "../src/targets/esp-idf/esp-boot-control.ts";
import { OtaState, selectActive, slotOfSeq, decodeEntry, encodeEntry, entryOffset, OTA_ENTRY_SIZE } from "../src/targets/esp-idf/esp-otadata.ts";

const geometry = { size: 0x2000, sectors: [{ offset: 0, size: 0x1000 }, { offset: 0x1000, size: 0x1000 }], writeAlign: 4, erasedValue: 0xff };

function setup() {
  const flash = new NorFlash(geometry);
  const part = () => flash.partition("otadata", 0, 0x2000);
  return { flash, bc: new EspBootControl(part(), 2) };
}

/** What the bootloader would select, read straight from the bytes. */
function selected(flash: NorFlash) {
  const entries = [0, 1].map((i) => decodeEntry(flash.bytes.slice(entryOffset(i), entryOffset(i) + OTA_ENTRY_SIZE)));
  const i = selectActive(entries);
  return i < 0 ? undefined : { slot: slotOfSeq(entries[i].seq, 2), state: entries[i].state };
}

/** The bootloader's NEW -> PENDING_VERIFY step (erase + rewrite of the sector), done by hand. */
function bootloaderTrial(bc: EspBootControl) {
  const a = bc.active()!;
  if (a.entry.state !== OtaState.New) return;
  bc.otadata.erase(entryOffset(a.index), 0x1000);
  bc.otadata.write(entryOffset(a.index), encodeEntry(a.entry.seq, OtaState.PendingVerify));
}

test("stage writes the other sector with the next seq for the target slot, state NEW", (t) => {
  const { flash, bc } = setup();
  bc.stage(0); // from blank otadata: sector 0, seq 1
  t.deepEqual(selected(flash), { slot: 0, state: OtaState.New });
  bc.stage(1);
  t.deepEqual(selected(flash), { slot: 1, state: OtaState.New });
  t.is(bc.entries()[1].seq, 2);
  t.throws(() => bc.stage(1), { message: /already holds the selected record/ });
});

test("confirm: PENDING_VERIFY becomes VALID with no instant where the new image loses its record", (t) => {
  for (const mode of CUT_MODES) {
    for (let k = 1; k <= 3; k++) {
      const { flash, bc } = setup();
      bc.stage(0);
      bc.confirm(0); // NEW -> VALID without a trial (rollback disabled path)
      bc.stage(1);
      bootloaderTrial(bc);
      t.deepEqual(selected(flash), { slot: 1, state: OtaState.PendingVerify });
      flash.armCuts([{ at: flash.ops + k, mode, seed: k }]);
      try {
        bc.confirm(1);
      } catch (e) {
        t.true(e instanceof PowerCut);
      }
      const s = selected(flash.powerCycle());
      t.is(s?.slot, 1, `${mode} cut at confirm op ${k}: the new image stays selected`);
      t.true(s!.state === OtaState.New || s!.state === OtaState.PendingVerify || s!.state === OtaState.Valid);
    }
  }
  const { flash, bc } = setup();
  bc.stage(0);
  bc.stage(1);
  bootloaderTrial(bc);
  bc.confirm(1);
  t.deepEqual(selected(flash), { slot: 1, state: OtaState.Valid });
  t.is(flash.counters.erases, 4, "stage x2, bootloader, confirm's VALID record: no erase of the trial record by confirm");
});

test("markInvalid: the running record becomes INVALID and the old slot is selected", (t) => {
  const { flash, bc } = setup();
  bc.stage(0);
  bc.confirm(0);
  bc.stage(1);
  bootloaderTrial(bc);
  t.true(bc.rollbackPossible(1));
  bc.markInvalid(1);
  t.deepEqual(selected(flash), { slot: 0, state: OtaState.Valid });
  t.is(bc.stateOf(1), undefined);
});

test("releaseSlot removes a record that selects the slot about to be written, keeping the running one", (t) => {
  const { flash, bc } = setup();
  bc.stage(1); // a stale record for slot 1 (e.g. after a bootloader fallback)
  t.is(selected(flash)?.slot, 1);
  bc.releaseSlot(1, 0);
  t.deepEqual(selected(flash), { slot: 0, state: OtaState.Valid });
  bc.releaseSlot(1, 0); // nothing to do the second time
  t.is(selected(flash)?.slot, 0);
});
