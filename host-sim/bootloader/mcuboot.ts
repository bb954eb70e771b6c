// A simulated MCUboot (boot_go) over two FlashPartitions of the NOR simulator: it decides the
// swap type from the trailers (src/targets/mcuboot/swap-table.ts, boot-formats.md §4.5), validates
// the secondary image as bootutil does (src/targets/mcuboot/verify-image.ts: hash, KEYHASH,
// signature, security counter) and erases it when it does not validate, performs swap-move or
// overwrite-only, reverts a test image that was not confirmed, and validates the primary before
// it boots it (MCUBOOT_VALIDATE_PRIMARY_SLOT). Every step is a flash operation, so power cuts
// land inside the swap; the swap status lives in the primary trailer and a restarted bootloader
// resumes from it (boot-formats.md §4.4 "Resume after an interrupted swap uses swap_info").
//
// Swap-move here (boot-formats.md §4.6; mcu-tools/mcuboot boot/bootutil/src/swap_move.c): all
// sectors equal, the primary one sector larger than the secondary; k = ceil(swap_size / sector).
// Status entries (one write each, in the primary's status area): e = 0..k-1 "primary sector
// k-1-e moved up one sector"; then per sector i: e = k+2i "primary[i] <- secondary[i]",
// e = k+2i+1 "secondary[i] <- primary[i+1]" (the old primary[i], moved up). A step is: erase the
// destination sector, copy the source, write its status entry; its source stays intact until a
// later step, so a restarted bootloader repeats the first step without status. Bytes of a slot's
// trailer are never copied. The swap starts by erasing the primary's last sector (it holds only
// the trailer) and writing swap_size, swap_info and the magic last; when the image fills the
// secondary, the first move targets that same sector and is done inside this start. A revert
// first asks for a permanent swap in the (erased) secondary trailer (magic last), so a cut after the primary
// trailer is erased still swaps back. It ends by erasing the secondary's trailer sector when no
// image data is in it, then image_ok (permanent, revert), then copy_done.
// Overwrite-only: copies the secondary's sectors over the primary, writes the primary trailer
// (magic, image_ok, copy_done) and erases the secondary's trailer sector; a cut repeats the copy.

import type { FlashPartition } from "../../src/ports.ts";
import type { PublicKey } from "../../src/crypto/public-key.ts";
import { parseImageHeader } from "../../src/targets/mcuboot/image-header.ts";
import { readTlvAreas } from "../../src/targets/mcuboot/tlv.ts";
import { swapTypeFromTable } from "../../src/targets/mcuboot/swap-table.ts";
import {
  SwapType, readSwapSize, readSwapState, statusEntryWritten, trailerLayout, writeFlag, writeMagic,
  writeStatusEntry, writeSwapInfo, writeSwapSize, type McubootStrategy, type SwapTypeValue, type TrailerLayout,
} from "../../src/targets/mcuboot/trailer.ts";
import { verifyMcubootImage, type McubootVerifyResult } from "../../src/targets/mcuboot/verify-image.ts";
import { nodeDigests } from "../node-digests.ts";
import { nodeSignatures } from "../node-signatures.ts";
import { NoBootableImage } from "./esp-idf.ts";

export interface McubootSimOptions {
  strategy: Exclude<McubootStrategy, "swap-scratch">;
  maxAlign?: number;
  /** Trusted keys (bootutil_keys); with keys, images must be signed by one of them. */
  keys?: readonly PublicKey[];
  /** MCUBOOT_HW_ROLLBACK_PROT: the image's SEC_CNT must be >= this. */
  minSecurityCounter?: number;
  /** Bytes per copy write (bootutil copies through a RAM buffer). Default 16 KiB. */
  copyChunk?: number;
}

export type McubootAction = "none" | "test" | "perm" | "revert" | "overwrite" | "refused";

export interface McubootBootOutcome {
  action: McubootAction;
  /** The swap was resumed from its status after a cut. */
  resumed: boolean;
  /** Version of the image booted from the primary. */
  version: string;
  /** Why the secondary was refused (action "refused"). */
  refused?: string[];
  log: string[];
}

interface Ctx {
  p: FlashPartition;
  s: FlashPartition;
  lp: TrailerLayout;
  ls: TrailerLayout;
  z: number;
  n: number;
  m: number;
  chunk: number;
  log: string[];
}

const SWAP_NAME: Readonly<Record<number, McubootAction>> = Object.freeze({ [SwapType.TEST]: "test", [SwapType.PERM]: "perm", [SwapType.REVERT]: "revert" });

function context(p: FlashPartition, s: FlashPartition, o: McubootSimOptions): Ctx {
  const z = p.geometry.sectors[0].size;
  const n = p.geometry.sectors.length;
  const m = s.geometry.sectors.length;
  if (o.strategy === "swap-move") {
    const all = [...p.geometry.sectors, ...s.geometry.sectors];
    if (all.some((x) => x.size !== z)) throw new Error("swap-move needs sectors of one size in both slots");
    if (n !== m + 1) throw new Error(`swap-move needs a primary one sector larger than the secondary (${n} and ${m} sectors)`);
  } else if (p.geometry.size < s.geometry.size) throw new Error("overwrite-only needs a primary at least as large as the secondary");
  const common = { maxAlign: o.maxAlign, writeAlign: Math.max(p.geometry.writeAlign, s.geometry.writeAlign), strategy: o.strategy, imageSectors: n };
  return { p, s, lp: trailerLayout(p.geometry.size, common), ls: trailerLayout(s.geometry.size, common), z, n, m, chunk: o.copyChunk ?? 0x4000, log: [] };
}

/** End of the image in a slot (header through the unprotected TLVs), or 0 without a readable one. */
function imageEnd(f: FlashPartition, limit: number): number {
  try {
    const h = parseImageHeader(f.read(0, 32));
    return readTlvAreas((o, len) => f.read(o, len), limit, h).end;
  } catch {
    return 0;
  }
}

function validate(f: FlashPartition, limit: number, o: McubootSimOptions): McubootVerifyResult {
  return verifyMcubootImage((off, len) => f.read(off, len), limit, {
    digests: nodeDigests,
    signatures: nodeSignatures,
    keys: o.keys,
    minSecurityCounter: o.minSecurityCounter,
  });
}

/** Bytes of sector `idx` of a slot that lie below its trailer. */
const dataLen = (c: Ctx, l: TrailerLayout, idx: number): number => Math.max(0, Math.min(c.z, l.statusOff - idx * c.z));

function copySector(c: Ctx, from: FlashPartition, fromIdx: number, to: FlashPartition, toIdx: number, len: number): void {
  to.erase(toIdx * c.z, c.z);
  for (let off = 0; off < len; off += c.chunk) {
    const n = Math.min(c.chunk, len - off);
    to.write(toIdx * c.z + off, from.read(fromIdx * c.z + off, n));
  }
}

/** Runs swap-move step `e` of a k-sector swap. */
function moveStep(c: Ctx, k: number, e: number): void {
  const { p, s, lp, ls } = c;
  if (e < k) {
    const from = k - 1 - e;
    copySector(c, p, from, p, from + 1, Math.min(dataLen(c, lp, from), dataLen(c, lp, from + 1)));
  } else {
    const i = (e - k) >> 1;
    if ((e - k) % 2 === 0) copySector(c, s, i, p, i, Math.min(dataLen(c, ls, i), dataLen(c, lp, i)));
    else copySector(c, p, i + 1, s, i, Math.min(dataLen(c, lp, i + 1), dataLen(c, ls, i)));
  }
}

/** Starts a swap-move: the primary trailer sector erased and initialised, the magic last. */
function startSwap(c: Ctx, type: SwapTypeValue, swapSize: number): void {
  const { p, lp, n } = c;
  const k = Math.ceil(swapSize / c.z);
  if (k === c.m) {
    moveStep(c, k, 0); // primary[n-2] -> primary[n-1]: erases the trailer sector
    writeSwapSize(p, lp, swapSize);
    writeSwapInfo(p, lp, type);
    writeStatusEntry(p, lp, 0, 1);
  } else {
    p.erase((n - 1) * c.z, c.z);
    writeSwapSize(p, lp, swapSize);
    writeSwapInfo(p, lp, type);
  }
  writeMagic(p, lp);
}

function finishSwap(c: Ctx, type: SwapTypeValue, k: number): void {
  const { p, s, lp } = c;
  if (k < c.m) s.erase((c.m - 1) * c.z, c.z);
  const st = readSwapState(p, lp);
  if (type !== SwapType.TEST && st.imageOk !== "set") writeFlag(p, lp, lp.imageOkOff);
  writeFlag(p, lp, lp.copyDoneOff);
}

function runSwap(c: Ctx, type: SwapTypeValue, swapSize: number, resume: boolean): void {
  const k = Math.ceil(swapSize / c.z);
  if (k < 1 || k > c.m) throw new Error(`swap of ${swapSize} bytes does not fit the secondary slot`);
  if (!resume) startSwap(c, type, swapSize);
  for (let e = 0; e < 3 * k; e++) {
    if (statusEntryWritten(c.p, c.lp, e)) continue;
    moveStep(c, k, e);
    writeStatusEntry(c.p, c.lp, e, 1);
  }
  finishSwap(c, type, k);
}

/** A revert asks for a permanent swap in the secondary trailer before the primary trailer goes. */
function requestRevert(c: Ctx): void {
  const { s, ls } = c;
  const st = readSwapState(s, ls);
  // image_ok and swap_info before the magic: until the magic is whole the table still says REVERT
  if (st.imageOk !== "set") writeFlag(s, ls, ls.imageOkOff);
  if (st.swapType !== SwapType.PERM) writeSwapInfo(s, ls, SwapType.PERM);
  if (st.magic !== "good") writeMagic(s, ls);
}

function overwrite(c: Ctx, secEnd: number): void {
  const { p, s, lp } = c;
  const k = Math.ceil(secEnd / c.z);
  for (let i = 0; i < k; i++) copySector(c, s, i, p, i, Math.min(dataLen(c, c.ls, i), dataLen(c, lp, i)));
  const pn = p.geometry.sectors.length;
  if (k < pn) p.erase((pn - 1) * c.z, c.z);
  writeMagic(p, lp);
  writeFlag(p, lp, lp.imageOkOff);
  writeFlag(p, lp, lp.copyDoneOff);
  s.erase((c.m - 1) * c.z, c.z);
}

/** An invalid secondary is erased and the primary's image_ok set so nothing reverts (loader.c BOOT_SWAP_TYPE_FAIL). */
function refuse(c: Ctx): void {
  c.s.erase(0, c.s.geometry.size);
  const st = readSwapState(c.p, c.lp);
  if (st.magic === "unset") writeMagic(c.p, c.lp);
  if (st.imageOk === "unset") writeFlag(c.p, c.lp, c.lp.imageOkOff);
}

/** One power-on of the simulated MCUboot. Throws NoBootableImage when the primary does not validate. */
export function bootMcuboot(primary: FlashPartition, secondary: FlashPartition, o: McubootSimOptions): McubootBootOutcome {
  const c = context(primary, secondary, o);
  const out: McubootBootOutcome = { action: "none", resumed: false, version: "", log: c.log };
  const ps = readSwapState(c.p, c.lp);
  const swapSize = readSwapSize(c.p, c.lp);
  if (o.strategy === "swap-move" && ps.magic === "good" && ps.copyDone !== "set" && ps.swapType !== SwapType.NONE && swapSize !== undefined) {
    c.log.push(`resuming a ${SWAP_NAME[ps.swapType]} swap of ${swapSize} bytes`);
    runSwap(c, ps.swapType, swapSize, true);
    out.action = SWAP_NAME[ps.swapType];
    out.resumed = true;
  } else {
    const type = swapTypeFromTable(ps, readSwapState(c.s, c.ls));
    if (type === SwapType.TEST || type === SwapType.PERM) {
      const v = validate(c.s, c.ls.statusOff, o);
      if (!v.valid) {
        c.log.push(`secondary image refused: ${v.errors.join("; ")}`);
        refuse(c);
        out.action = "refused";
        out.refused = v.errors;
      } else if (o.strategy === "overwrite-only") {
        overwrite(c, v.end ?? c.ls.statusOff);
        out.action = "overwrite";
      } else {
        const size = Math.max(v.end ?? 0, imageEnd(c.p, c.lp.statusOff));
        runSwap(c, type, size, false);
        out.action = SWAP_NAME[type];
      }
    } else if (type === SwapType.REVERT && o.strategy === "swap-move") {
      const size = Math.max(imageEnd(c.s, c.ls.statusOff), imageEnd(c.p, c.lp.statusOff));
      c.log.push("reverting an image that was not confirmed");
      requestRevert(c);
      runSwap(c, SwapType.REVERT, size, false);
      out.action = "revert";
    }
  }
  const v = validate(c.p, c.lp.statusOff, o);
  if (!v.valid) throw new NoBootableImage([...c.log, `primary image does not validate: ${v.errors.join("; ")}`]);
  out.version = v.version ?? "";
  return out;
}
