// `xs-ota board show --board stm32f4-1mb|stm32l4-dualbank-1mb --flash FILE`: what an STM32 board's
// flash holds, read with the project's own parsers: the regions, each slot's image (MCUboot or
// bank format: version, security counter, whether it verifies with the board's key), the MCUboot
// trailers and the swap the bootloader would do, or the dual-bank option bytes (which bank BFB2
// selects) and flag record, the journal, and what the next power-on boots (computed on a copy:
// the file is not written).

import { Journal } from "../src/agent/journal.ts";
import { OtaError } from "../src/errors.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";
import { SwapType, type SwapState } from "../src/targets/mcuboot/trailer.ts";
import { verifyMcubootImage } from "../src/targets/mcuboot/verify-image.ts";
import { readCurrentFlag } from "../src/targets/stm32-dualbank/boot-flags.ts";
import { bootBankOf, decodeOptionBytes, OB_RECORD_SIZE } from "../src/targets/stm32-dualbank/option-bytes.ts";
import { mcubootView, payloadLength, VT_HEAD } from "../src/targets/stm32-dualbank/bank-image.ts";
import { NoBootableImage } from "./bootloader/esp-idf.ts";
import { nodeDigests } from "./node-digests.ts";
import { nodeSignatures } from "./node-signatures.ts";
import type { LayoutBoard } from "./layout-board.ts";

export interface LayoutSlotView {
  label: string;
  image: "empty" | "valid" | "invalid";
  version: string | null;
  securityCounter: number | null;
  problem: string | null;
}

export interface LayoutBoardView {
  board: string;
  target: string;
  regions: { label: string; address: number; size: number }[];
  slots: LayoutSlotView[];
  mcuboot?: { strategy: string; primary: SwapState; secondary: SwapState; pendingSwap: string; running: string };
  dualBank?: { optr: string; optionLoadError: boolean; bfb2Selects: number; flag: { seq: number; bank: number; state: string } | null };
  journal: { phase: string; version: string | null; slot: string | null; progress: number; attempts: number | null } | { error: string };
  nextBoot: { slot: string; version: string; log: string[] } | { bricked: true; log: string[] };
}

const SWAP_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [SwapType.NONE]: "none", [SwapType.TEST]: "test", [SwapType.PERM]: "perm", [SwapType.REVERT]: "revert", [SwapType.FAIL]: "fail", [SwapType.PANIC]: "panic",
});
const FLAG_NAMES = ["?", "trial", "booted", "confirmed"];

export function inspectLayoutBoard(board: LayoutBoard): LayoutBoardView {
  const p = board.profile;
  const base = p.baseAddress ?? 0;
  const view: LayoutBoardView = {
    board: p.name,
    target: p.target,
    regions: p.layout.map((e) => ({ label: e.label, address: base + e.offset, size: e.size })),
    slots: [],
    journal: journalView(board),
    nextBoot: { bricked: true, log: [] },
  };
  if (p.target === "mcuboot") {
    const m = p.mcuboot;
    const c = new McubootBootControl(board.partition(m.primary), board.partition(m.secondary), { strategy: m.strategy, maxAlign: m.maxAlign });
    view.mcuboot = {
      strategy: m.strategy, primary: c.primaryState(), secondary: c.secondaryState(),
      pendingSwap: SWAP_NAMES[c.pendingSwap()] ?? String(c.pendingSwap()), running: c.runningState(),
    };
    view.slots = [slotView(board, m.primary, c.primaryLayout.statusOff), slotView(board, m.secondary, c.maxImageSize())];
  } else {
    const d = p.dualBank;
    const { optr, loadError } = decodeOptionBytes(board.partition(d.optionBytes).read(0, OB_RECORD_SIZE));
    const flag = readCurrentFlag(board.partition(d.flags));
    view.dualBank = {
      optr: `0x${optr.toString(16)}`, optionLoadError: loadError, bfb2Selects: bootBankOf(optr),
      flag: flag ? { seq: flag.seq, bank: flag.bank, state: FLAG_NAMES[flag.state] ?? String(flag.state) } : null,
    };
    view.slots = d.banks.map((b) => slotView(board, b, board.partition(b).geometry.size));
  }
  try {
    const b = board.peek();
    view.nextBoot = { slot: b.slot, version: b.version, log: b.log };
  } catch (e) {
    if (!(e instanceof NoBootableImage)) throw e;
    view.nextBoot = { bricked: true, log: e.log };
  }
  return view;
}

function slotView(board: LayoutBoard, label: string, limit: number): LayoutSlotView {
  const part = board.partition(label);
  const view: LayoutSlotView = { label, image: "invalid", version: null, securityCounter: null, problem: null };
  if (part.read(0, 4096).every((b) => b === part.geometry.erasedValue)) return { ...view, image: "empty" };
  let read = (at: number, n: number) => part.read(at, n);
  try {
    if (board.imageFormat === "bank") read = mcubootView(read, payloadLength(read(0, VT_HEAD), limit));
  } catch (e) {
    return { ...view, problem: message(e) };
  }
  const r = verifyMcubootImage(read, limit, { digests: nodeDigests, signatures: nodeSignatures, keys: board.keys });
  return {
    ...view, image: r.valid ? "valid" : "invalid", version: r.version ?? null, securityCounter: r.securityCounter ?? null,
    problem: r.valid ? null : r.errors.join("; "),
  };
}

function journalView(board: LayoutBoard): LayoutBoardView["journal"] {
  try {
    const s = new Journal(board.partition(board.journalLabel)).load();
    return { phase: s.phase, version: s.offer?.version ?? null, slot: s.slot ?? null, progress: s.progress, attempts: s.attempts ?? null };
  } catch (e) {
    return { error: message(e) };
  }
}

function message(e: unknown): string {
  return e instanceof OtaError ? e.reason : e instanceof Error ? e.message : String(e);
}

const hex = (n: number) => `0x${n.toString(16)}`;
const trailer = (s: SwapState) => `magic ${s.magic}, image_ok ${s.imageOk}, copy_done ${s.copyDone}, swap_type ${SWAP_NAMES[s.swapType] ?? s.swapType}`;

export function formatLayoutBoard(v: LayoutBoardView): string {
  const out: string[] = [`board ${v.board} (${v.target})`, "regions"];
  for (const r of v.regions) out.push(`  ${r.label.padEnd(13)} at ${hex(r.address).padEnd(11)} ${r.size} bytes`);
  out.push("slots");
  for (const s of v.slots) {
    const sec = s.securityCounter !== null ? `, security counter ${s.securityCounter}` : "";
    const desc = s.image === "empty" ? "empty" : s.image === "valid" ? `${s.version}${sec}, verifies` : `${s.version ?? "?"} does not verify: ${s.problem}`;
    out.push(`  ${s.label.padEnd(13)} ${desc}`);
  }
  if (v.mcuboot) {
    const m = v.mcuboot;
    out.push(`mcuboot (${m.strategy})`);
    out.push(`  primary     ${trailer(m.primary)}`);
    out.push(`  secondary   ${trailer(m.secondary)}`);
    out.push(`  running image ${m.running}; next boot's swap: ${m.pendingSwap}`);
  }
  if (v.dualBank) {
    const d = v.dualBank;
    out.push("dual bank");
    out.push(`  FLASH_OPTR  ${d.optr}${d.optionLoadError ? " (load error: OPTVERR)" : ""}: BFB2 selects bank ${d.bfb2Selects}`);
    out.push(`  flag record ${d.flag ? `#${d.flag.seq}: bank ${d.flag.bank} ${d.flag.state}` : "none (factory)"}`);
  }
  const j = v.journal;
  if ("error" in j) out.push(`journal       unreadable: ${j.error}`);
  else if (j.phase === "idle") out.push("journal       idle");
  else out.push(`journal       ${j.phase} ${j.version ?? ""} into ${j.slot ?? "?"}, ${j.progress} bytes durable${j.attempts ? `, staged ${j.attempts}x` : ""}`);
  const n = v.nextBoot;
  out.push("next boot");
  if ("bricked" in n) out.push("  none: no bootable image");
  else out.push(`  ${n.slot} ${n.version}`);
  for (const line of n.log) out.push(`    ${line}`);
  return out.join("\n");
}
