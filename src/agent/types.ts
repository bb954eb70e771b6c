// The agent's public shapes: what boot() and update() report, and the progress events.

import type { ErrorCodeValue } from "../errors.ts";

export type Phase = "check" | "download" | "verify" | "stage" | "restart" | "confirm" | "rollback";

export interface Progress {
  phase: Phase;
  /** Bytes of the image durably written (download) or checked (verify). */
  bytes: number;
  total: number;
  /** 0..100, never decreasing within one update. */
  percent: number;
}

/** The outcome of an update attempt, or of the previous one as seen after a reboot. */
export interface UpdateResult {
  ok: boolean;
  /** 0 on success, else -1..-4. */
  errorCode: 0 | ErrorCodeValue;
  reason: string;
  component: string;
  fromVersion: string;
  toVersion: string;
}

export interface BootReport {
  /** Version of the running image (from its esp_app_desc). */
  version: string;
  /** Label of the running slot, e.g. "ota_0". */
  slot: string;
  /** otadata state of the running image after boot() handled it: "valid", "pending-verify", ... */
  imageState: string;
  /** Set when boot() finished an update that was in flight before the restart. */
  lastUpdate?: UpdateResult;
}
