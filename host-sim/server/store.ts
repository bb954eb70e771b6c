// The update server's state in SQLite (better-sqlite3 12: synchronous, one file, WAL), with
// numbered migrations recorded in PRAGMA user_version. Package file bytes live next to the
// database (files/<sha256>.bin); the database holds everything else: packages and their files,
// plans, devices, each device's state in each plan, and the event log. Every mutation that
// spans rows runs in one transaction, so a crash or a restart in the middle of a plan leaves the
// last committed state, and the server continues from it.

import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";

/** Migration k brings a database from user_version k to k+1. Never edit a released entry:
 * append a new one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE packages (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL,
     product TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('full','delta')),
     source_version TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE package_files (
     id INTEGER PRIMARY KEY,
     package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
     component TEXT NOT NULL,
     filename TEXT NOT NULL,
     format TEXT NOT NULL,
     version TEXT NOT NULL,
     size INTEGER NOT NULL,
     md5 TEXT NOT NULL,
     crc32 TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     UNIQUE (package_id, component)
   );
   CREATE TABLE plans (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL,
     product TEXT NOT NULL,
     spec TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('draft','active','paused','cancelled','done')),
     wave INTEGER NOT NULL DEFAULT 0,
     pause_reason TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE devices (
     product TEXT NOT NULL,
     name TEXT NOT NULL,
     dialect TEXT NOT NULL,
     version TEXT,
     battery REAL,
     signal REAL,
     last_seen INTEGER NOT NULL,
     PRIMARY KEY (product, name)
   );
   CREATE TABLE device_plans (
     plan_id INTEGER NOT NULL REFERENCES plans(id),
     product TEXT NOT NULL,
     device TEXT NOT NULL,
     state TEXT NOT NULL,
     wave INTEGER NOT NULL,
     progress INTEGER NOT NULL DEFAULT 0,
     attempts INTEGER NOT NULL DEFAULT 0,
     from_version TEXT,
     error_code INTEGER,
     reason TEXT,
     started_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     finished_at INTEGER,
     PRIMARY KEY (plan_id, product, device)
   );
   CREATE TABLE events (
     id INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     product TEXT,
     device TEXT,
     plan_id INTEGER,
     kind TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX events_device ON events (product, device, id);
   CREATE INDEX events_plan ON events (plan_id, id);`,
  // The running version of each of a device's components other than its app image (which is
  // devices.version), as the device last reported it: a multi-component plan succeeds when
  // every component reports its target version.
  `CREATE TABLE device_components (
     product TEXT NOT NULL,
     device TEXT NOT NULL,
     component TEXT NOT NULL,
     version TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (product, device, component)
   );`,
];

export type Db = Database.Database;

export interface Store {
  readonly db: Db;
  /** Where package files are kept. */
  readonly filesDir: string;
  close(): void;
}

/** Opens (creating) the store in `dataDir` ("" or ":memory:" keeps it in memory, files in a
 * temporary folder the caller names with filesDir). Applies pending migrations in one
 * transaction each. */
export function openStore(dataDir: string): Store {
  fs.mkdirSync(dataDir, { recursive: true });
  const filesDir = path.join(dataDir, "files");
  fs.mkdirSync(filesDir, { recursive: true });
  const db = new Database(path.join(dataDir, "xs-ota-server.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("synchronous = NORMAL");
  migrate(db);
  return { db, filesDir, close: () => db.close() };
}

export function migrate(db: Db): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`the database is at schema version ${current}, newer than this server (${MIGRATIONS.length}): use a newer xs-ota`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
