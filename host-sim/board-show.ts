// `xs-ota board show --flash FILE`: what a simulated board's flash holds, read with the project's
// own parsers (partition table, otadata, journal, app image, the simulated bootloader); no format
// is decoded here. The file is never written: the bootloader's choice is computed on a copy.

import { findOtaSlots, findOtadata, type PartitionEntry } from "../src/targets/esp-idf/partition-table.ts";
import { decodeEntry, entryOffset, selectActive, slotOfSeq, stateName, OTA_ENTRY_SIZE, OTA_SEQ_ERASED } from "../src/targets/esp-idf/esp-otadata.ts";
import { Journal } from "../src/agent/journal.ts";
import { checkEspImage, peekAppDesc } from "../src/targets/esp-idf/esp-app-image.ts";
import { OtaError } from "../src/errors.ts";
import { bootEsp, NoBootableImage, type BootOutcome } from "./bootloader/esp-idf.ts";
import { NorFlash } from "./flash/nor-flash.ts";
import { nodeDigests } from "./node-digests.ts";
import type { SimBoard } from "./board.ts";

export interface OtadataView {
  index: number;
  /** null when erased (0xFFFFFFFF). */
  seq: number | null;
  state: string;
  crcOk: boolean;
  /** The OTA slot the entry selects, when its seq is not erased. */
  selects: string | null;
}

export interface SlotView {
  label: string;
  address: number;
  size: number;
  /** "empty" (erased), "valid" (the image verifies) or "invalid". */
  image: "empty" | "valid" | "invalid";
  version: string | null;
  projectName: string | null;
  /** Why the image does not verify. */
  problem: string | null;
}

export interface BoardView {
  board: string;
  partitions: { label: string; type: number; subtype: number; address: number; size: number }[];
  otadata: OtadataView[];
  /** Index of the entry the bootloader selects, -1 for none. */
  activeEntry: number;
  journal: { phase: string; version: string | null; slot: string | null; progress: number; size: number | null; fromVersion: string | null; attempts: number | null } | { error: string };
  slots: SlotView[];
  nextBoot: { slot: string; version: string; fellBack: boolean; log: string[] } | { bricked: true; log: string[] };
}

/** What the bootloader would do at the next power-on, computed on a copy of the flash (its
 * otadata writes land in the copy). Throws NoBootableImage on a brick. */
export function peekBoot(board: SimBoard): BootOutcome {
  const copy = new NorFlash(board.flash.geometry, board.flash.snapshot());
  return bootEsp(copy, { tableOffset: board.profile.tableOffset });
}

export function inspectBoard(board: SimBoard): BoardView {
  const slots = findOtaSlots(board.entries);
  const otaInfo = findOtadata(board.entries);
  const otadata: OtadataView[] = [];
  let activeEntry = -1;
  if (otaInfo) {
    const part = board.partition(otaInfo.label);
    const entries = [0, 1].map((i) => decodeEntry(part.read(entryOffset(i), OTA_ENTRY_SIZE)));
    activeEntry = selectActive(entries);
    entries.forEach((e, index) => {
      const erased = e.seq === OTA_SEQ_ERASED;
      otadata.push({
        index, seq: erased ? null : e.seq, state: stateName(e.state), crcOk: e.crcOk,
        selects: erased || slots.length === 0 ? null : slots[slotOfSeq(e.seq, slots.length)]?.label ?? null,
      });
    });
  }
  let nextBoot: BoardView["nextBoot"];
  try {
    const b = peekBoot(board);
    nextBoot = { slot: b.slot, version: b.image.appDesc.version, fellBack: b.fellBack, log: b.log };
  } catch (e) {
    if (!(e instanceof NoBootableImage)) throw e;
    nextBoot = { bricked: true, log: e.log };
  }
  const apps = board.entries.filter((e) => e.type === 0);
  return {
    board: board.profile.name,
    partitions: board.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
    otadata,
    activeEntry,
    journal: journalView(board),
    slots: (apps.length ? apps : slots).map((e) => slotView(board, e)),
    nextBoot,
  };
}

function journalView(board: SimBoard): BoardView["journal"] {
  try {
    const s = new Journal(board.partition("otajournal")).load();
    return {
      phase: s.phase, version: s.offer?.version ?? null, slot: s.slot ?? null, progress: s.progress,
      size: s.offer?.size ?? null, fromVersion: s.fromVersion ?? null, attempts: s.attempts ?? null,
    };
  } catch (e) {
    return { error: message(e) };
  }
}

function slotView(board: SimBoard, e: PartitionEntry): SlotView {
  const read = (at: number, n: number) => board.flash.read(e.address + at, n);
  const view: SlotView = { label: e.label, address: e.address, size: e.size, image: "invalid", version: null, projectName: null, problem: null };
  const head = read(0, Math.min(e.size, 4096));
  if (head.every((b) => b === board.flash.geometry.erasedValue)) return { ...view, image: "empty" };
  try {
    const info = checkEspImage(read, e.size, nodeDigests);
    return { ...view, image: "valid", version: info.appDesc.version, projectName: info.appDesc.projectName };
  } catch (err) {
    view.problem = message(err);
  }
  try {
    const desc = peekAppDesc(head);
    view.version = desc?.version ?? null;
    view.projectName = desc?.projectName ?? null;
  } catch {
    // Not even a header: the problem above says why.
  }
  return view;
}

function message(e: unknown): string {
  return e instanceof OtaError ? e.reason : e instanceof Error ? e.message : String(e);
}

const hex = (n: number) => `0x${n.toString(16)}`;

export function formatBoard(v: BoardView): string {
  const out: string[] = [`board ${v.board}`, "partitions"];
  for (const p of v.partitions) {
    out.push(`  ${p.label.padEnd(12)} type ${hex(p.type).padEnd(5)} subtype ${hex(p.subtype).padEnd(5)} at ${hex(p.address).padEnd(9)} ${p.size} bytes`);
  }
  out.push("otadata");
  if (v.otadata.length === 0) out.push("  (no otadata partition)");
  for (const e of v.otadata) {
    const seq = e.seq === null ? "erased" : `seq ${e.seq}`;
    const picks = e.selects ? ` -> ${e.selects}` : "";
    out.push(`  [${e.index}] ${seq}, ${e.state}, CRC ${e.crcOk ? "ok" : "bad"}${picks}${v.activeEntry === e.index ? " (selected)" : ""}`);
  }
  if (v.otadata.length && v.activeEntry < 0) out.push("  no entry is selectable");
  const j = v.journal;
  if ("error" in j) out.push(`journal     unreadable: ${j.error}`);
  else if (j.phase === "idle") out.push("journal     idle");
  else {
    const what = j.version ? ` ${j.version}${j.size !== null ? ` (${j.size} bytes)` : ""}` : "";
    const where = j.slot ? ` into ${j.slot}` : "";
    const from = j.fromVersion ? ` from ${j.fromVersion}` : "";
    const attempts = j.attempts ? `, staged ${j.attempts} ${j.attempts === 1 ? "time" : "times"}` : "";
    out.push(`journal     ${j.phase}${what}${where}${from}, ${j.progress} bytes durable${attempts}`);
  }
  out.push("slots");
  for (const s of v.slots) {
    const desc = s.image === "empty" ? "empty" : s.image === "valid" ? `${s.version} (${s.projectName}), verifies` : `${s.version ?? "?"} does not verify: ${s.problem}`;
    out.push(`  ${s.label.padEnd(12)} ${desc}`);
  }
  const n = v.nextBoot;
  out.push("bootloader");
  if ("bricked" in n) out.push(`  next boot   none: no bootable image`);
  else out.push(`  next boot   ${n.slot} ${n.version}${n.fellBack ? " (fallback: the selected slot does not verify)" : ""}`);
  for (const line of n.log) out.push(`    ${line}`);
  return out.join("\n");
}
