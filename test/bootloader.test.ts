import test from "ava";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { NoBootableImage } from "../host-sim/bootloader/esp-idf.ts";
import { EspBootControl } from "../src/targets/esp-idf/esp-boot-control.ts";
import { OtaState } from "../src/targets/esp-idf/esp-otadata.ts";

function board(withNew: boolean) {
  const b = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  if (withNew) {
    const slot = b.partition("ota_1");
    const image = buildTestImage({ version: "2.0.0", size: 64 * 1024 });
    slot.erase(0, 64 * 1024);
    slot.write(0, image);
  }
  return { b, bc: () => new EspBootControl(b.partition("otadata"), 2) };
}

test("blank otadata boots ota_0 and writes the initial record {seq 1, VALID}", (t) => {
  const { b, bc } = board(false);
  const out = b.boot();
  t.is(out.slot, "ota_0");
  t.false(out.fellBack);
  t.deepEqual(bc().active()?.entry.state, OtaState.Valid);
  t.is(bc().active()?.entry.seq, 1);
});

test("NEW becomes PENDING_VERIFY on the first boot and ABORTED on the next", (t) => {
  const { b, bc } = board(true);
  b.boot();
  bc().stage(1);
  t.is(b.boot().slot, "ota_1");
  t.is(bc().stateOf(1), OtaState.PendingVerify);
  const again = b.boot();
  t.is(again.slot, "ota_0", "a trial that was not confirmed is abandoned");
  t.is(bc().entries().find((e) => e.seq === 2)?.state, OtaState.Aborted);
});

test("a selected image that fails verification is skipped: fallback to the other slot, otadata untouched", (t) => {
  const { b, bc } = board(true);
  b.boot();
  bc().stage(1);
  const slot = b.partition("ota_1");
  const bytes = slot.read(0, 64 * 1024);
  slot.erase(0, 64 * 1024);
  bytes[5000] ^= 0x01;
  slot.write(0, bytes);
  const out = b.boot();
  t.is(out.slot, "ota_0");
  t.true(out.fellBack);
  t.true(out.log.some((l) => /ota_1: (checksum mismatch|appended SHA-256 mismatch)/.test(l)), out.log.join("\n"));
  t.is(bc().active()?.slot, 1, "the fallback does not rewrite otadata (as in ESP-IDF)");
});

test("no verifiable image anywhere is reported as a brick", (t) => {
  const { b } = board(false);
  const ota0 = b.partition("ota_0");
  ota0.erase(0, 0x1000);
  t.throws(() => b.boot(), { instanceOf: NoBootableImage });
});
