// The simulated MCUboot (host-sim/bootloader/mcuboot.ts) on the stm32f4-1mb board: swap-move
// test/permanent upgrades, revert of an unconfirmed image, overwrite-only, refused images
// (unsigned, tampered, wrong key, lower security counter), and a power-cut sweep over the
// bootloader's own flash operations (a cut before every operation, in the three cut modes, for
// the test swap and for the revert): the resumed bootloader always ends with a whole image.

import test from "ava";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { boardProfile, chipGeometry, layoutEntry } from "../host-sim/boards/profiles.ts";
import { NorFlash, PowerCut, CUT_MODES, type CutMode } from "../host-sim/flash/nor-flash.ts";
import { bootMcuboot, type McubootSimOptions } from "../host-sim/bootloader/mcuboot.ts";
import { buildMcubootImage } from "../host-sim/mcuboot-image-builder.ts";
import { parsePublicKey } from "../src/crypto/public-key.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors/mcuboot");
const ED_PRIV = readFileSync(path.join(VECTORS, "keys/ed25519.pem"), "utf8");
const ED_PUB = parsePublicKey(readFileSync(path.join(VECTORS, "keys/ed25519.pub.pem"), "utf8"));
const KiB = 1024;
const PROFILE = boardProfile("stm32f4-1mb");

function image(version: string, size: number, o: { key?: string; securityCounter?: number; seed?: number } = {}): Uint8Array {
  const payload = new Uint8Array(0x200 + size);
  for (let i = 0x200; i < payload.length; i++) payload[i] = (i * 13 + (o.seed ?? 1) * 7 + (i >> 9)) & 0xff;
  return buildMcubootImage({ payload, headerSize: 0x200, version, key: o.key, securityCounter: o.securityCounter });
}

function board(bytes?: Uint8Array) {
  const flash = new NorFlash(chipGeometry(PROFILE), bytes);
  const slot = (l: string) => flash.partition(l, layoutEntry(PROFILE, l).offset, layoutEntry(PROFILE, l).size);
  return { flash, primary: slot("primary"), secondary: slot("secondary") };
}

/** A board running `oldImg` with `newImg` written into the erased secondary (not staged). */
function withImages(oldImg: Uint8Array, newImg: Uint8Array) {
  const b = board();
  b.primary.erase(0, b.primary.geometry.size);
  b.primary.write(0, pad4(oldImg));
  b.secondary.erase(0, b.secondary.geometry.size);
  b.secondary.write(0, pad4(newImg));
  return b;
}
const pad4 = (img: Uint8Array) => {
  const out = new Uint8Array(Math.ceil(img.length / 4) * 4).fill(0xff);
  out.set(img);
  return out;
};
const holds = (f: { read(o: number, n: number): Uint8Array }, img: Uint8Array) => Buffer.from(f.read(0, img.length)).equals(Buffer.from(img));

const SWAP: McubootSimOptions = { strategy: "swap-move", copyChunk: 32 * KiB };
const OLD = image("1.0.0", 300 * KiB, { seed: 1 }); // fills 3 sectors: the move touches the trailer sector
const NEW = image("2.0.0", 200 * KiB, { seed: 2 });

test("swap-move test upgrade: the new image boots on trial, reverts when not confirmed", (t) => {
  const b = withImages(OLD, NEW);
  const bc = new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" });
  bc.stage(false);
  const first = bootMcuboot(b.primary, b.secondary, SWAP);
  t.is(first.action, "test");
  t.is(first.version, "2.0.0+0");
  t.true(holds(b.primary, NEW));
  t.true(holds(b.secondary, OLD), "the old image is kept in the secondary slot");
  t.is(bc.runningState(), "trial");
  t.true(bc.canRevert());
  const second = bootMcuboot(b.primary, b.secondary, SWAP);
  t.is(second.action, "revert");
  t.is(second.version, "1.0.0+0");
  t.true(holds(b.primary, OLD));
  t.is(bc.runningState(), "confirmed");
  t.is(bootMcuboot(b.primary, b.secondary, SWAP).action, "none");
  t.true(holds(b.primary, OLD));
});

test("swap-move: a confirmed test image stays; a permanent one needs no confirm", (t) => {
  for (const permanent of [false, true]) {
    const b = withImages(image("1.0.0", 100 * KiB), image("2.0.0", 150 * KiB, { seed: 3 }));
    const bc = new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" });
    bc.stage(permanent);
    t.is(bootMcuboot(b.primary, b.secondary, SWAP).action, permanent ? "perm" : "test");
    t.is(bc.runningState(), permanent ? "confirmed" : "trial");
    if (!permanent) bc.confirm();
    const again = bootMcuboot(b.primary, b.secondary, SWAP);
    t.is(again.action, "none");
    t.is(again.version, "2.0.0+0");
    t.is(bc.secondaryState().magic, "unset", "the secondary trailer was cleared");
  }
});

test("overwrite-only: the secondary is copied over the primary, no revert", (t) => {
  const b = withImages(OLD, NEW);
  const bc = new McubootBootControl(b.primary, b.secondary, { strategy: "overwrite-only" });
  bc.stage(false);
  const o: McubootSimOptions = { strategy: "overwrite-only", copyChunk: 32 * KiB };
  t.is(bootMcuboot(b.primary, b.secondary, o).action, "overwrite");
  t.true(holds(b.primary, NEW));
  t.false(bc.canRevert());
  t.is(bootMcuboot(b.primary, b.secondary, o).action, "none");
  t.true(holds(b.primary, NEW));
});

test("refused images (unsigned, tampered, wrong key, lower security counter): secondary erased, old image boots", (t) => {
  const other = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const good = image("2.0.0", 64 * KiB, { key: ED_PRIV, securityCounter: 3, seed: 4 });
  const tampered = good.slice();
  tampered[0x300] ^= 1;
  const cases: [string, Uint8Array, RegExp][] = [
    ["unsigned", image("2.0.0", 64 * KiB, { securityCounter: 3 }), /not signed/],
    ["tampered", tampered, /does not match the hash TLV/],
    ["wrong key", image("2.0.0", 64 * KiB, { key: other, securityCounter: 3 }), /KEYHASH matches no trusted key/],
    ["lower security counter", image("2.0.0", 64 * KiB, { key: ED_PRIV, securityCounter: 1 }), /security counter 1 is below 2/],
  ];
  const opts: McubootSimOptions = { ...SWAP, keys: [ED_PUB], minSecurityCounter: 2 };
  const oldSigned = image("1.0.0", 64 * KiB, { key: ED_PRIV, securityCounter: 2, seed: 5 });
  for (const [name, img, why] of cases) {
    const b = withImages(oldSigned, img);
    new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" }).stage(true);
    const r = bootMcuboot(b.primary, b.secondary, opts);
    t.is(r.action, "refused", name);
    t.regex(r.refused!.join("; "), why, name);
    t.is(r.version, "1.0.0+0", name);
    t.true(holds(b.primary, oldSigned), name);
    t.true(b.secondary.read(0, b.secondary.geometry.size).every((x) => x === 0xff), `${name}: secondary erased`);
    t.is(bootMcuboot(b.primary, b.secondary, opts).action, "none", name);
  }
  const b = withImages(oldSigned, good);
  new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" }).stage(true);
  t.is(bootMcuboot(b.primary, b.secondary, opts).action, "perm");
  t.true(holds(b.primary, good));
});

/** Runs one boot with a cut at operation `at`, then boots again to completion. */
function cutAndResume(start: Uint8Array, at: number, mode: CutMode, o: McubootSimOptions) {
  let { flash } = board(start.slice());
  flash.armCuts([{ at, mode, seed: at * 31 + 7 }]);
  let cut = false;
  try {
    bootMcuboot(flash.partition("primary", 0x20000, 0x80000), flash.partition("secondary", 0xa0000, 0x60000), o);
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    cut = true;
  }
  flash = flash.powerCycle();
  const b = { primary: flash.partition("primary", 0x20000, 0x80000), secondary: flash.partition("secondary", 0xa0000, 0x60000) };
  const r = bootMcuboot(b.primary, b.secondary, o);
  return { cut, r, ...b };
}

function opsOf(start: Uint8Array, o: McubootSimOptions): number {
  const b = board(start.slice());
  bootMcuboot(b.primary, b.secondary, o);
  return b.flash.ops;
}

for (const [label, oldImg, newImg] of [
  ["image filling the secondary", OLD, NEW],
  ["smaller images", image("1.0.0", 100 * KiB, { seed: 6 }), image("2.0.0", 130 * KiB, { seed: 7 })],
] as const) {
  test(`power-cut sweep, swap-move, ${label}: every cut in the test swap and in the revert resumes to a whole image`, (t) => {
    const b = withImages(oldImg, newImg);
    new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" }).stage(false);
    const staged = b.flash.bytes.slice();
    const testOps = opsOf(staged, SWAP);
    bootMcuboot(b.primary, b.secondary, SWAP);
    const swapped = b.flash.bytes.slice();
    const revertOps = opsOf(swapped, SWAP);
    t.true(testOps > 20 && revertOps > 20);
    let runs = 0;
    let reverted = 0;
    for (const mode of CUT_MODES) {
      for (let at = 1; at <= testOps; at++) {
        const r = cutAndResume(staged, at, mode, SWAP);
        t.true(r.cut);
        const bc = new McubootBootControl(r.primary, r.secondary, { strategy: "swap-move" });
        if (r.r.action === "revert") {
          // the cut tore the last write (copy_done) into a whole one: the swap had completed, the
          // test image never ran to confirm itself, and this boot reverted it, as MCUboot does
          if (!holds(r.primary, oldImg) || !holds(r.secondary, newImg) || bc.runningState() !== "confirmed") t.fail(`test swap, ${mode} cut at ${at}: bad revert`);
          reverted++;
        } else {
          if (!holds(r.primary, newImg) || !holds(r.secondary, oldImg)) t.fail(`test swap, ${mode} cut at ${at}: half-swapped (${r.r.log.join("; ")})`);
          if (bc.runningState() !== "trial") t.fail(`test swap, ${mode} cut at ${at}: not on trial`);
        }
        runs++;
      }
      for (let at = 1; at <= revertOps; at++) {
        const r = cutAndResume(swapped, at, mode, SWAP);
        if (!holds(r.primary, oldImg)) t.fail(`revert, ${mode} cut at ${at}: primary is not the old image (${r.r.log.join("; ")})`);
        const bc = new McubootBootControl(r.primary, r.secondary, { strategy: "swap-move" });
        if (bc.runningState() !== "confirmed") t.fail(`revert, ${mode} cut at ${at}: the old image is not confirmed`);
        if (bootMcuboot(r.primary, r.secondary, SWAP).action !== "none") t.fail(`revert, ${mode} cut at ${at}: another swap follows`);
        runs++;
      }
    }
    t.is(runs, 3 * (testOps + revertOps));
    t.true(reverted <= 1, "only a cut inside the very last write can complete the swap");
    t.log(`${testOps} + ${revertOps} cut points x 3 modes = ${runs} runs (${reverted} completed swaps reverted on the resumed boot)`);
  });
}

test("power-cut sweep, overwrite-only: every cut resumes to the new image", (t) => {
  const o: McubootSimOptions = { strategy: "overwrite-only", copyChunk: 32 * KiB };
  const b = withImages(OLD, NEW);
  new McubootBootControl(b.primary, b.secondary, { strategy: "overwrite-only" }).stage(true);
  const staged = b.flash.bytes.slice();
  const ops = opsOf(staged, o);
  for (const mode of CUT_MODES) {
    for (let at = 1; at <= ops; at++) {
      const r = cutAndResume(staged, at, mode, o);
      if (!holds(r.primary, NEW)) t.fail(`${mode} cut at ${at}: primary is not the new image`);
      if (bootMcuboot(r.primary, r.secondary, o).action !== "none") t.fail(`${mode} cut at ${at}: copies again`);
    }
  }
  t.pass();
  t.log(`${ops} cut points x 3 modes`);
});

test("max-align 32 trailers: the same test swap, revert and confirm", (t) => {
  const o: McubootSimOptions = { ...SWAP, maxAlign: 32 };
  const b = withImages(image("1.0.0", 100 * KiB), image("2.0.0", 120 * KiB, { seed: 8 }));
  const bc = new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move", maxAlign: 32 });
  bc.stage(false);
  t.is(bootMcuboot(b.primary, b.secondary, o).action, "test");
  t.is(bc.runningState(), "trial");
  t.is(bootMcuboot(b.primary, b.secondary, o).action, "revert");
  t.is(bc.runningState(), "confirmed");
  // a bootloader built for max-align 8 reads these trailers' magic as bad: no swap
  bc.stage(true);
  t.is(new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" }).secondaryState().magic, "bad");
  t.is(bootMcuboot(b.primary, b.secondary, SWAP).action, "none");
  t.is(bootMcuboot(b.primary, b.secondary, o).action, "perm");
});

test("an image signed with --pad (magic in its trailer) is scheduled by writing it; --confirm makes it permanent", (t) => {
  for (const confirm of [false, true]) {
    const payload = new Uint8Array(0x200 + 50 * KiB).map((_, i) => (i < 0x200 ? 0 : i & 0xff));
    const padded = buildMcubootImage({ payload, headerSize: 0x200, version: "3.0.0", slotSize: 0x60000, pad: true, confirm, align: 4 });
    const b = withImages(image("1.0.0", 80 * KiB), padded);
    t.is(bootMcuboot(b.primary, b.secondary, SWAP).action, confirm ? "perm" : "test");
    t.is(new McubootBootControl(b.primary, b.secondary, { strategy: "swap-move" }).runningState(), confirm ? "confirmed" : "trial");
  }
});
