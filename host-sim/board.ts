// A simulated board: a NOR flash chip (file-backed or in memory) with the profile's partition
// table and a factory-flashed first image, the ESP-IDF bootloader simulator, and the host
// platform (ports) the runtime sees while it runs.

import * as fs from "node:fs";
import type { ChipInfo, Platform, HttpPort, KeyValuePort, LogPort } from "../src/ports.ts";
import { serializePartitionTable, findPartition, type PartitionEntry, parsePartitionTable, PARTITION_TABLE_MAX_LEN } from "../src/targets/esp-idf/partition-table.ts";
import { NorFlash, type CutPlan } from "./flash/nor-flash.ts";
import { FileStore } from "./flash/flash-store.ts";
import { chipGeometry, partitionsCsv, type BoardProfile } from "./boards/profiles.ts";
import { csvToEntries } from "./partitions-csv.ts";
import { nodeDigests } from "./node-digests.ts";
import { nodeSignatures } from "./node-signatures.ts";
import { bootEsp, type BootOutcome, type BootloaderOptions } from "./bootloader/esp-idf.ts";
import { NodeClock } from "./node-clock.ts";

export interface BoardReadings {
  battery?: number;
  rssi?: number;
}

export class SimBoard {
  readonly profile: BoardProfile;
  flash: NorFlash;
  readonly entries: PartitionEntry[];
  /** Label the bootloader booted, set by boot(). */
  running = "";
  restartRequested = false;
  readonly kvStore = new Map<string, Uint8Array>();
  readings: BoardReadings = { battery: 90, rssi: -60 };
  /** Secure Boot V2 key digests in the simulated eFuse (hex, ChipInfo.secureBootKeyDigests):
   * non-empty, the runtime installs only images signed with one of these keys. */
  secureBootKeyDigests: string[] = [];

  private constructor(profile: BoardProfile, flash: NorFlash) {
    this.profile = profile;
    this.flash = flash;
    this.entries = parsePartitionTable(flash.read(profile.tableOffset, PARTITION_TABLE_MAX_LEN), nodeDigests, { flashSize: profile.flashSize });
  }

  /** A factory-fresh board: partition table written, `image` in ota_0, otadata erased. */
  static create(profile: BoardProfile, image: Uint8Array, file?: string): SimBoard {
    const geometry = chipGeometry(profile);
    const entries = csvToEntries(partitionsCsv(profile), { tableOffset: profile.tableOffset, flashSize: profile.flashSize });
    const ota0 = findPartition(entries, "ota_0");
    if (!ota0) throw new Error(`board ${profile.name} has no ota_0`);
    if (image.length > ota0.size) throw new Error(`factory image of ${image.length} bytes does not fit ota_0`);
    const table = serializePartitionTable(entries, nodeDigests);
    if (file) {
      // Written in place: a file-backed board never holds its whole chip in memory.
      fs.rmSync(file, { force: true });
      const store = FileStore.open(file, profile.flashSize, profile.erasedValue);
      store.write(profile.tableOffset, table);
      store.write(ota0.address, image);
      return new SimBoard(profile, new NorFlash(geometry, store));
    }
    const bytes = new Uint8Array(profile.flashSize).fill(profile.erasedValue);
    bytes.set(table, profile.tableOffset);
    bytes.set(image, ota0.address);
    return new SimBoard(profile, new NorFlash(geometry, bytes));
  }

  static open(profile: BoardProfile, file: string): SimBoard {
    if (!fs.existsSync(file)) throw new Error(`flash file ${file} does not exist`);
    const size = fs.statSync(file).size;
    if (size !== profile.flashSize) throw new Error(`flash file ${file} is ${size} bytes; board ${profile.name} has ${profile.flashSize}`);
    return new SimBoard(profile, NorFlash.openFile(file, chipGeometry(profile)));
  }

  /** Power on: the bootloader picks and verifies an image. Throws NoBootableImage on a brick. */
  boot(): BootOutcome {
    this.restartRequested = false;
    // The bootloader refuses images for another chip or revision (BootloaderOptions.chip).
    const options: BootloaderOptions & { chip?: { id: number; revisionFull: number } } = {
      tableOffset: this.profile.tableOffset,
      chip: { id: this.profile.chip.id, revisionFull: this.profile.chip.revisionFull },
    };
    const outcome = bootEsp(this.flash, options);
    this.running = outcome.slot;
    return outcome;
  }

  /** Power off and on again: a fresh chip object on the same bytes (pending cuts carry over). */
  powerCycle(): void {
    this.flash = this.flash.powerCycle();
  }

  armCuts(cuts: CutPlan[]): void {
    this.flash.armCuts(cuts);
  }

  partition(label: string) {
    const e = findPartition(this.entries, label);
    if (!e) throw new Error(`no partition ${label}`);
    return this.flash.partition(e.label, e.address, e.size);
  }

  /** The chip the runtime is told it runs on: the profile's, with the board's eFuse key digests. */
  chip(): ChipInfo {
    const chip: ChipInfo = { ...this.profile.chip };
    if (this.secureBootKeyDigests.length > 0) chip.secureBootKeyDigests = [...this.secureBootKeyDigests];
    return chip;
  }

  /** The ports the runtime sees during one power-on. */
  platform(http: HttpPort, clock: NodeClock, log?: LogPort): Platform {
    const kv: KeyValuePort = {
      get: (k) => this.kvStore.get(k)?.slice(),
      set: (k, v) => void this.kvStore.set(k, v.slice()),
      delete: (k) => void this.kvStore.delete(k),
    };
    return {
      chip: this.chip(),
      partitions: {
        list: () => this.entries.map((e) => ({ label: e.label, type: e.type, subtype: e.subtype, address: e.address, size: e.size })),
        open: (label) => this.partition(label),
        running: () => this.running,
      },
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
