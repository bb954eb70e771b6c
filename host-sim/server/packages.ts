// Packages: uploaded files with their digests and the version the image itself carries. A
// package holds 1..5 files, one per component (QuecThing's and Alibaba's multi-file limit of
// src/protocol/multi-component.ts), each at most MAX_FILE_BYTES. A delta package names the
// version it applies to (source_version): a detools patch (src/delta) that plans offer to devices
// on that version (host-sim/server/rollout.ts).

import * as fs from "node:fs";
import * as path from "node:path";
import { peekAppDesc } from "../../src/targets/esp-idf/esp-app-image.ts";
import { IMAGE_HEADER_SIZE, IMAGE_MAGIC, formatImageVersion, parseImageHeader } from "../../src/targets/mcuboot/image-header.ts";
import { readU32LE } from "../../src/util/bytes.ts";
import { errorMessage } from "../../src/errors.ts";
import { digestsOf } from "../server.ts";
import type { Store } from "./store.ts";
import { bad, conflict, name, notFound, text, version as semver } from "./validate.ts";
import { versionProblem } from "../../src/agent/version.ts";

/** Files per package: the multi-component plans' limit (QuecThing's FOTA takes up to 5). */
export const MAX_FILES = 5;
/** One file: 16 MiB, the most an ESP32 app partition can hold (the ESP32 flash map addresses
 * 16 MiB; host-sim/image-builder.ts has the same bound). The platforms accept larger packages
 * (Alibaba's console documents up to 1,000 MB per file; not checked here), which no device this
 * runtime targets could store. `xs-ota server --max-file-size` changes it. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface UploadedFile {
  component: string;
  filename: string;
  bytes: Uint8Array;
  /** The version for a file whose format carries none (a raw data partition). */
  version?: string;
}

export interface PackageInput {
  name?: string;
  product: string;
  kind?: "full" | "delta";
  sourceVersion?: string;
  files: UploadedFile[];
}

export interface PackageFile {
  id: number;
  component: string;
  filename: string;
  format: "esp-app" | "mcuboot" | "raw";
  version: string;
  size: number;
  md5: string;
  crc32: string;
  sha256: string;
}

export interface Package {
  id: number;
  name: string;
  product: string;
  kind: "full" | "delta";
  sourceVersion: string | null;
  createdAt: number;
  files: PackageFile[];
}

/** The format and version an image carries: the ESP app descriptor (esp_app_desc_t at 0x20), or
 * the MCUboot header's ih_ver (as imgtool prints it), else raw with the caller's version. */
export function imageVersion(bytes: Uint8Array, fallback: string | undefined, field: string): { format: PackageFile["format"]; version: string } {
  if (bytes.length >= IMAGE_HEADER_SIZE && readU32LE(bytes, 0) === IMAGE_MAGIC) {
    try {
      return { format: "mcuboot", version: formatImageVersion(parseImageHeader(bytes).version) };
    } catch (e) {
      bad(`${field}: MCUboot header: ${errorMessage(e)}`);
    }
  }
  if (bytes[0] === 0xe9) {
    let desc;
    try {
      desc = peekAppDesc(bytes);
    } catch (e) {
      bad(`${field}: ESP app image: ${errorMessage(e)}`);
    }
    if (!desc) bad(`${field}: ESP app image of ${bytes.length} bytes is too short to hold its app descriptor`);
    const problem = versionProblem(desc.version);
    if (problem) bad(`${field}: the image's app descriptor version ${JSON.stringify(desc.version)} is not SemVer: ${problem}`);
    if (fallback !== undefined && fallback !== desc.version) bad(`${field}: version ${fallback} was given, the image says ${desc.version}`);
    return { format: "esp-app", version: desc.version };
  }
  if (fallback === undefined) bad(`${field}: neither an ESP app image nor an MCUboot image: give its version`);
  return { format: "raw", version: fallback };
}

export class Packages {
  constructor(private readonly store: Store, private readonly maxFileBytes = MAX_FILE_BYTES) {}

  /** Validates everything, then writes files and rows; bad input changes nothing. */
  add(input: PackageInput, now = Date.now()): Package {
    const product = name(input.product, "product");
    const kind = input.kind ?? "full";
    if (kind !== "full" && kind !== "delta") bad(`kind must be "full" or "delta"`);
    const sourceVersion = input.sourceVersion === undefined ? undefined : semver(input.sourceVersion, "sourceVersion");
    if (kind === "delta" && sourceVersion === undefined) bad("a delta package needs sourceVersion (the version its patch applies to)");
    if (kind === "full" && sourceVersion !== undefined) bad("sourceVersion is only for delta packages");
    if (!Array.isArray(input.files) || input.files.length === 0) bad("a package needs at least one file");
    if (input.files.length > MAX_FILES) bad(`a package holds at most ${MAX_FILES} files (one per component); got ${input.files.length}`);
    const seen = new Set<string>();
    const analysed = input.files.map((f, i) => {
      const field = `files[${i}]`;
      const component = name(f.component, `${field}.component`, 32);
      if (seen.has(component)) bad(`${field}: component ${component} appears twice: one file per component`);
      seen.add(component);
      const filename = text(f.filename, `${field}.filename`, 128);
      if (f.bytes.length === 0) bad(`${field}: ${filename} is empty`);
      if (f.bytes.length > this.maxFileBytes) bad(`${field}: ${filename} has ${f.bytes.length} bytes; the limit is ${this.maxFileBytes}`);
      const given = f.version === undefined ? undefined : semver(f.version, `${field}.version`);
      const { format, version } = kind === "delta" ? { format: "raw" as const, version: given ?? bad(`${field}: a delta file needs its target version`) } : imageVersion(f.bytes, given, field);
      return { component, filename, format, version, bytes: f.bytes, ...digestsOf(f.bytes) };
    });
    const pkgName = input.name === undefined ? `${product} ${analysed.map((f) => `${f.component}@${f.version}`).join(" ")}` : text(input.name, "name", 100);
    for (const f of analysed) {
      const file = path.join(this.store.filesDir, `${f.sha256}.bin`);
      if (!fs.existsSync(file)) {
        fs.writeFileSync(`${file}.tmp`, f.bytes);
        fs.renameSync(`${file}.tmp`, file);
      }
    }
    const db = this.store.db;
    const id = db.transaction(() => {
      const r = db.prepare("INSERT INTO packages (name, product, kind, source_version, created_at) VALUES (?, ?, ?, ?, ?)").run(pkgName, product, kind, sourceVersion ?? null, now);
      const pid = Number(r.lastInsertRowid);
      const ins = db.prepare("INSERT INTO package_files (package_id, component, filename, format, version, size, md5, crc32, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      for (const f of analysed) ins.run(pid, f.component, f.filename, f.format, f.version, f.bytes.length, f.md5, f.crc32, f.sha256);
      return pid;
    })();
    return this.get(id);
  }

  get(id: number): Package {
    const row = this.store.db.prepare("SELECT * FROM packages WHERE id = ?").get(id) as PackageRow | undefined;
    if (!row) notFound(`package ${id} does not exist`);
    return this.toPackage(row);
  }

  list(): Package[] {
    return (this.store.db.prepare("SELECT * FROM packages ORDER BY id").all() as PackageRow[]).map((r) => this.toPackage(r));
  }

  remove(id: number): void {
    this.get(id);
    const used = this.store.db.prepare("SELECT id FROM plans WHERE status IN ('draft','active','paused') AND EXISTS (SELECT 1 FROM json_each(plans.spec, '$.packages') WHERE value = ?)").get(id) as { id: number } | undefined;
    if (used) conflict(`package ${id} is used by plan ${used.id}; cancel the plan first`);
    this.store.db.prepare("DELETE FROM packages WHERE id = ?").run(id);
  }

  /** The bytes of a stored file, by SHA-256 (undefined when unknown). */
  filePath(sha256: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const known = this.store.db.prepare("SELECT 1 FROM package_files WHERE sha256 = ?").get(sha256);
    if (!known) return undefined;
    const p = path.join(this.store.filesDir, `${sha256}.bin`);
    return fs.existsSync(p) ? p : undefined;
  }

  private toPackage(r: PackageRow): Package {
    const files = this.store.db.prepare("SELECT id, component, filename, format, version, size, md5, crc32, sha256 FROM package_files WHERE package_id = ? ORDER BY id").all(r.id) as PackageFile[];
    return { id: r.id, name: r.name, product: r.product, kind: r.kind, sourceVersion: r.source_version, createdAt: r.created_at, files };
  }
}

interface PackageRow {
  id: number;
  name: string;
  product: string;
  kind: "full" | "delta";
  source_version: string | null;
  created_at: number;
}
