// Secure Boot V2 on the ESP-IDF target: a board whose eFuse holds a key digest installs only an
// image with a signature block that verifies with that key (esp_ota_end with secure boot,
// signatures.md §2.7-§2.8). Unsigned, tampered and wrong-key images are refused with -3 before
// anything is staged: the running image, otadata and the journal stay as they were. Images are
// signed here with node:crypto (test/helpers/sbv2-sign.ts), served by the local server and
// applied by the agent on host-sim's node platform (node SignaturePort).

import test, { type ExecutionContext } from "ava";
import { Agent } from "../src/agent/agent.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { simUpdate } from "../host-sim/sim-update.ts";
import { p256Key, p256KeyDigest, signSbv2P256 } from "./helpers/sbv2-sign.ts";
import { nodeRig } from "./helpers/node-rig.ts";

const SIZE = 64 * 1024 + 96; // not a multiple of 4 KiB: the signed region has 0xFF padding
const trusted = p256Key();
const other = p256Key();

function keyedBoard(): SimBoard {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  board.secureBootKeyDigests = [p256KeyDigest(trusted)];
  return board;
}

/** One update of `bytes` offered as 2.0.0 on a keyed board; what the board holds before and after. */
async function offer(t: ExecutionContext, bytes: Uint8Array) {
  const board = keyedBoard();
  const before = board.flash.bytes.slice();
  board.boot();
  const { server, clock } = await nodeRig(t, bytes, board);
  const agent = new Agent({ platform: board.platform(nodeHttp, clock) });
  await agent.boot();
  const result = await agent.update(server.offer());
  return { board, before, agent, result, clock };
}

function assertNothingChanged(t: ExecutionContext, r: Awaited<ReturnType<typeof offer>>): void {
  const { board, before, agent } = r;
  t.is(agent.journalState().phase, "idle");
  const region = (label: string, bytes: Uint8Array) => {
    const e = board.entries.find((p) => p.label === label)!;
    return bytes.subarray(e.address, e.address + e.size);
  };
  t.deepEqual(region("ota_0", board.flash.bytes), region("ota_0", before), "the running image is untouched");
  // otadata may gain a VALID record for ota_0 (the slot release before the first byte), but
  // nothing selects ota_1: the bootloader boots 1.0.0 from ota_0 without falling back.
  const boot = board.boot();
  t.like(boot, { slot: "ota_0", fellBack: false });
  t.is(boot.image.appDesc.version, "1.0.0");
}

const image = () => buildTestImage({ version: "2.0.0", size: SIZE });

test("a keyed board installs an image signed with its key (ECDSA P-256) and boots it", async (t) => {
  const r = await offer(t, signSbv2P256(image(), trusted));
  t.true(r.result.ok, r.result.reason);
  t.true(r.board.restartRequested);
  const boot = r.board.boot();
  t.is(boot.slot, "ota_1");
  const report = await new Agent({ platform: r.board.platform(nodeHttp, r.clock) }).boot();
  t.like(report, { version: "2.0.0", slot: "ota_1", imageState: "valid" });
});

test("a keyed board refuses an unsigned image with -3 and stages nothing", async (t) => {
  const r = await offer(t, image());
  t.is(r.result.errorCode, -3);
  t.regex(r.result.reason, /Secure Boot V2/);
  assertNothingChanged(t, r);
});

test("a keyed board refuses an image signed with another key with -3", async (t) => {
  const r = await offer(t, signSbv2P256(image(), other));
  t.is(r.result.errorCode, -3);
  t.regex(r.result.reason, /key digest is not trusted/);
  assertNothingChanged(t, r);
});

test("a keyed board refuses a signed image changed after signing (in the signed padding) with -3", async (t) => {
  const signed = signSbv2P256(image(), trusted);
  const unsignedLength = image().length;
  t.true(signed[unsignedLength + 10] === 0xff, "the padding the signature covers");
  signed[unsignedLength + 10] = 0x00;
  const r = await offer(t, signed);
  t.is(r.result.errorCode, -3);
  t.regex(r.result.reason, /image digest does not match/);
  assertNothingChanged(t, r);
});

test("a keyed board refuses a signed image whose signature block was altered with -3", async (t) => {
  const signed = signSbv2P256(image(), trusted);
  const sector = Math.ceil(image().length / 0x1000) * 0x1000;
  signed[sector + 101] ^= 0x01; // r, least significant byte
  const r = await offer(t, signed);
  t.is(r.result.errorCode, -3);
  t.regex(r.result.reason, /CRC mismatch/);
  assertNothingChanged(t, r);
});

test("an unkeyed board still installs an unsigned image", async (t) => {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const report = await simUpdate({ existing: board, size: SIZE });
  t.true(report.ok, report.reason);
});

// The XS engine checks signatures through the Moddable SignaturePort (ecdsa/rsa modules, served
// by host-sim's shims): the same verdicts as Node.
test("xs: a keyed board refuses an unsigned image with -3 and keeps 1.0.0", async (t) => {
  const board = keyedBoard();
  const report = await simUpdate({ existing: board, size: SIZE, engine: "xs" });
  t.is(report.errorCode, -3);
  t.regex(report.reason, /Secure Boot V2/);
  t.is(report.bootedSlot, "ota_0");
  t.is(report.bootedVersion, "1.0.0");
});

test("xs: a keyed board installs an image signed with its key, and refuses one signed with another", async (t) => {
  const good = await simUpdate({ existing: keyedBoard(), size: SIZE, engine: "xs", signKeys: [trusted] });
  t.true(good.ok, good.reason);
  t.is(good.bootedVersion, "2.0.0");
  t.is(good.imageState, "valid");
  const bad = await simUpdate({ existing: keyedBoard(), size: SIZE, engine: "xs", signKeys: [other] });
  t.is(bad.errorCode, -3);
  t.is(bad.bootedVersion, "1.0.0");
});
