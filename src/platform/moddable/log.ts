// LogPort on the XS global trace() (moddable-sdk.md §9: mcconfig apps have no console).

import type { LogPort } from "../../ports.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 });

export class TraceLog implements LogPort {
  readonly #min: number;

  constructor(minLevel: LogLevel = "info") {
    this.#min = ORDER[minLevel];
  }

  log(level: LogLevel, message: string): void {
    if (ORDER[level] >= this.#min) trace(`xs-ota ${level}: ${message}\n`);
  }
}
