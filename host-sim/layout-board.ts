// A simulated STM32 board (stm32f4-1mb with MCUboot, stm32l4-dualbank-1mb with the bank swap):
// the NOR flash of the profile (non-uniform sectors, ECC write-once words), the partitions of its
// `layout`, a factory image, the simulated boot between power-ons (host-sim/bootloader/mcuboot.ts
// or stm32-bank-swap.ts), the trusted keys, and the ports and boot target the runtime sees. The
// same surface as SimBoard (board.ts) where sim update and torture use it.

import * as fs from "node:fs";
import type { KeyValuePort, LogPort, HttpPort, Platform, PartitionInfo } from "../src/ports.ts";
import type { BootTarget } from "../src/targets/boot-target.ts";
import type { PublicKey } from "../src/crypto/public-key.ts";
import { McubootTarget } from "../src/targets/mcuboot/mcuboot-target.ts";
import { McubootBootControl } from "../src/targets/mcuboot/boot-control.ts";
import { DualBankTarget } from "../src/targets/stm32-dualbank/dualbank-target.ts";
import { mcubootIdentity } from "../src/targets/mcuboot/image-identity.ts";
import { mcubootView, payloadLength, VT_HEAD } from "../src/targets/stm32-dualbank/bank-image.ts";
import { NorFlash, type CutPlan } from "./flash/nor-flash.ts";
import { chipGeometry, layoutEntry, type DualBankBoardProfile, type McubootBoardProfile } from "./boards/profiles.ts";
import { bootMcuboot } from "./bootloader/mcuboot.ts";
import { bootDualBank, factoryOptionBytes, simOptionBytes } from "./bootloader/stm32-bank-swap.ts";
import { nodeDigests } from "./node-digests.ts";
import { nodeSignatures } from "./node-signatures.ts";
import { NodeClock } from "./node-clock.ts";
import { publicKeyOf, SIM_BOARD_KEY, type Stm32ImageFormat } from "./stm32-images.ts";
import type { BoardReadings } from "./board.ts";
import type { RuntimeTarget } from "./xs/runtime-protocol.ts";
import type { ServedRegion } from "./xs/board-services.ts";
import type { Sector } from "../src/ports.ts";
import { toHex } from "../src/util/bytes.ts";

export type LayoutProfile = McubootBoardProfile | DualBankBoardProfile;

/** What a power-on booted. */
export interface LayoutBoot {
  slot: string;
  /** "major.minor.revision" of the booted image. */
  version: string;
  log: string[];
}

/** The regions as PartitionPort.list() gives them, in ESP-IDF partition types (boot-formats.md
 * §1.4) so that the Moddable platform layer reaches them as it does on an ESP32 (engine xs): the
 * two image slots are OTA apps ota_0/ota_1, the journal the 0x40/0x01 partition ("xs"), the rest
 * data partitions by label. */
const APP = 0x00;
const OTA_0 = 0x10;
const DATA = 0x01;
const DATA_CUSTOM = 0x80;
const XS_TYPE = 0x40;
const XS_SUBTYPE = 0x01;

/** The native name of an MCUboot primary slot's trailer partition. */
export function trailerPath(primary: string): string {
  return `${primary}-trailer`;
}

export class LayoutBoard {
  readonly profile: LayoutProfile;
  flash: NorFlash;
  /** Label the last boot ran. */
  running = "";
  restartRequested = false;
  readonly kvStore = new Map<string, Uint8Array>();
  readings: BoardReadings = { battery: 90, rssi: -60 };
  /** The keys the bootloader (MCUboot) and the agent trust; empty: unsigned images are accepted. */
  keys: PublicKey[] = [publicKeyOf(SIM_BOARD_KEY)];

  private constructor(profile: LayoutProfile, flash: NorFlash) {
    this.profile = profile;
    this.flash = flash;
  }

  /** The image format the board's slots hold. */
  get imageFormat(): Stm32ImageFormat {
    return this.profile.target === "mcuboot" ? "mcuboot" : "bank";
  }

  get journalLabel(): string {
    return this.profile.target === "mcuboot" ? this.profile.mcuboot.journal : this.profile.dualBank.journal;
  }

  /** A factory-fresh board: `image` in the primary slot (bank 1), everything else erased (the
   * option bytes at their factory value). */
  static create(profile: LayoutProfile, image: Uint8Array, file?: string): LayoutBoard {
    const bytes = new Uint8Array(profile.flashSize).fill(profile.erasedValue);
    const first = layoutEntry(profile, profile.target === "mcuboot" ? profile.mcuboot.primary : profile.dualBank.banks[0]);
    if (image.length > first.size) throw new Error(`factory image of ${image.length} bytes does not fit ${first.label}`);
    bytes.set(image, first.offset);
    if (file) fs.writeFileSync(file, bytes);
    const board = new LayoutBoard(profile, file ? NorFlash.openFile(file, chipGeometry(profile)) : new NorFlash(chipGeometry(profile), bytes));
    if (profile.target === "stm32-dualbank") factoryOptionBytes(board.partition(profile.dualBank.optionBytes));
    return board;
  }

  static open(profile: LayoutProfile, file: string): LayoutBoard {
    if (!fs.existsSync(file)) throw new Error(`flash file ${file} does not exist`);
    const size = fs.statSync(file).size;
    if (size !== profile.flashSize) throw new Error(`flash file ${file} is ${size} bytes; board ${profile.name} has ${profile.flashSize}`);
    return new LayoutBoard(profile, NorFlash.openFile(file, chipGeometry(profile)));
  }

  /** Power on: the simulated MCUboot (its swap, revert and validation) or the STM32 ROM's bank
   * choice. Throws NoBootableImage on a brick. */
  boot(): LayoutBoot {
    this.restartRequested = false;
    const p = this.profile;
    if (p.target === "mcuboot") {
      const m = p.mcuboot;
      if (m.strategy === "swap-scratch") throw new Error("the simulated MCUboot does swap-move and overwrite-only");
      const out = bootMcuboot(this.partition(m.primary), this.partition(m.secondary), { strategy: m.strategy, maxAlign: m.maxAlign, keys: this.keys });
      this.running = m.primary;
      return { slot: m.primary, version: out.version.split("+")[0], log: [`mcuboot: ${out.action}${out.resumed ? " (resumed)" : ""}`, ...out.log] };
    }
    const d = p.dualBank;
    const banks = [this.partition(d.banks[0]), this.partition(d.banks[1])] as const;
    const out = bootDualBank(banks, this.partition(d.optionBytes));
    this.running = d.banks[out.bank - 1];
    return { slot: this.running, version: this.imageVersion(this.running) ?? "", log: [`rom: bank ${out.bank} (OPTR 0x${out.optr.toString(16)})`, ...out.log] };
  }

  /** What the next power-on would boot, computed on a copy of the flash (the file is not
   * written). Throws NoBootableImage on a brick. */
  peek(): LayoutBoot {
    const copy = new LayoutBoard(this.profile, new NorFlash(this.flash.geometry, this.flash.snapshot()));
    copy.keys = this.keys;
    return copy.boot();
  }

  /** The version of the image in a slot, or undefined when it holds none that parses. */
  imageVersion(label: string): string | undefined {
    const part = this.partition(label);
    const read = (at: number, n: number) => part.read(at, n);
    try {
      if (this.imageFormat === "mcuboot") return mcubootIdentity(read, part.geometry.size).version;
      return mcubootIdentity(mcubootView(read, payloadLength(read(0, VT_HEAD), part.geometry.size)), part.geometry.size).version;
    } catch {
      return undefined;
    }
  }

  powerCycle(): void {
    this.flash = this.flash.powerCycle();
  }

  armCuts(cuts: CutPlan[]): void {
    this.flash.armCuts(cuts);
  }

  partition(label: string) {
    const e = layoutEntry(this.profile, label);
    return this.flash.partition(e.label, e.offset, e.size);
  }

  get entries(): PartitionInfo[] {
    const p = this.profile;
    const slots = p.target === "mcuboot" ? [p.mcuboot.primary, p.mcuboot.secondary] : [...p.dualBank.banks];
    return p.layout.map((e) => {
      const slot = slots.indexOf(e.label);
      const [type, subtype] = slot >= 0 ? [APP, OTA_0 + slot] : e.label === this.journalLabel ? [XS_TYPE, XS_SUBTYPE] : [DATA, DATA_CUSTOM];
      return { label: e.label, type, subtype, address: e.offset, size: e.size };
    });
  }

  /** The boot target of the board over a platform's partitions. */
  target(platform: Platform): BootTarget {
    const p = this.profile;
    const common = { partitions: platform.partitions, digests: platform.digests, signatures: platform.signatures, keys: this.keys };
    if (p.target === "mcuboot") {
      return new McubootTarget({ ...common, strategy: p.mcuboot.strategy, maxAlign: p.mcuboot.maxAlign, primary: p.mcuboot.primary, secondary: p.mcuboot.secondary });
    }
    const d = p.dualBank;
    return new DualBankTarget({ ...common, banks: d.banks, flags: d.flags, optionBytes: simOptionBytes(platform.partitions.open(d.optionBytes)) });
  }

  /** The boot target as the XS runtime builds it (host-sim/xs/runtime-entry.ts). MCUboot: the
   * platform opens the primary slot (the running one) read-only and its trailer sector(s) as the
   * writable partition `trailerPath` (src/platform/moddable/partitions.ts), where
   * boot_set_confirmed writes image_ok. */
  runtimeTarget(): RuntimeTarget {
    const p = this.profile;
    const keys = this.keys.map((k) => toHex(k.spki));
    if (p.target === "mcuboot") {
      const m = p.mcuboot;
      return { kind: "mcuboot", keys, strategy: m.strategy, maxAlign: m.maxAlign, primary: m.primary, secondary: m.secondary, trailer: trailerPath(m.primary), journal: m.journal };
    }
    const d = p.dualBank;
    return { kind: "stm32-dualbank", keys, banks: [d.banks[0], d.banks[1]], flags: d.flags, optionBytes: d.optionBytes, journal: d.journal };
  }

  /** The chip's sector map when it is not uniform (the F4's 16/64/128 KiB sectors). */
  get sectorMap(): Sector[] | undefined {
    return this.profile.sectors?.map((x) => ({ offset: x.offset, size: x.size }));
  }

  /** Regions the flash natives open by a name of their own inside a partition: the MCUboot
   * primary's trailer sector(s) (those reaching past the image area, statusOff), as a firmware
   * declares them in its partition table (a Zephyr fixed-partition). */
  get regions(): readonly ServedRegion[] {
    const p = this.profile;
    if (p.target !== "mcuboot") return [];
    const m = p.mcuboot;
    const primary = this.partition(m.primary);
    const statusOff = new McubootBootControl(primary, this.partition(m.secondary), { strategy: m.strategy, maxAlign: m.maxAlign }).primaryLayout.statusOff;
    const first = primary.geometry.sectors.find((x) => x.offset + x.size > statusOff)!;
    return [{ path: trailerPath(m.primary), label: m.primary, offset: first.offset, size: primary.geometry.size - first.offset }];
  }

  /** Room for an image in the slot the next update goes to: the MCUboot secondary below its
   * trailer, or a bank (both are the same size). */
  nextSlotSize(): number {
    const p = this.profile;
    if (p.target === "stm32-dualbank") return layoutEntry(p, p.dualBank.banks[1]).size;
    const m = p.mcuboot;
    return new McubootBootControl(this.partition(m.primary), this.partition(m.secondary), { strategy: m.strategy, maxAlign: m.maxAlign }).maxImageSize();
  }

  platform(http: HttpPort, clock: NodeClock, log?: LogPort): Platform {
    const kv: KeyValuePort = {
      get: (k) => this.kvStore.get(k)?.slice(),
      set: (k, v) => void this.kvStore.set(k, v.slice()),
      delete: (k) => void this.kvStore.delete(k),
    };
    return {
      partitions: { list: () => this.entries, open: (label) => this.partition(label), running: () => this.running },
      kv,
      http,
      clock,
      digests: nodeDigests,
      signatures: nodeSignatures,
      system: {
        restart: () => {
          this.restartRequested = true;
        },
        batteryPercent: () => this.readings.battery,
        rssi: () => this.readings.rssi,
      },
      log,
    };
  }
}
