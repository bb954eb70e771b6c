// A cut in the bootloader's very first otadata write ({1, VALID} over blank otadata) leaves a
// torn entry 0 whose seq is set. ESP-IDF then boots ota_0 by trying every partition and writes
// nothing, so the running image has no record. An update from there must still end on a VALID
// record: 2.0.0 after a good trial, 1.0.0 after a failed one.

import test from "ava";
import { simUpdate } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { encodeEntry, OtaState } from "../src/targets/esp-idf/esp-otadata.ts";
import { ENGINES } from "./helpers/engines.ts";

const SIZE = 64 * 1024;

function tornBoard() {
  const b = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: SIZE }));
  const record = encodeEntry(1, OtaState.Valid);
  record.fill(0xff, 4); // only ota_seq was programmed when the power went
  b.partition("otadata").write(0, record);
  const boot = b.boot();
  if (boot.slot !== "ota_0") throw new Error(`setup: booted ${boot.slot}`);
  return b;
}

for (const engine of ENGINES) {
  test(`${engine}: from a torn first record, a failed trial rolls back to 1.0.0 with a VALID record`, async (t) => {
    const r = await simUpdate({ engine, existing: tornBoard(), size: SIZE, failSelfTest: true });
    t.is(r.errorCode, -1, r.reason);
    t.is(r.bootedVersion, "1.0.0");
    t.is(r.imageState, "valid");
  });

  test(`${engine}: from a torn first record, an update ends on 2.0.0 VALID`, async (t) => {
    const r = await simUpdate({ engine, existing: tornBoard(), size: SIZE });
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.imageState, "valid");
  });
}
