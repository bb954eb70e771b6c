// Engine "xs" of `xs-ota sim update`: every power-on of the simulated board is one fresh XS
// worker (xsnap) with the runtime bundle (runtime-entry.ts) loaded (from a heap snapshot taken
// once per process after the bundle was evaluated, boot-snapshot.ts) that runs main(args) once,
// with the board served through boardServices(). A restart kills the worker inside the call; the
// next power-on boots a new worker on the same flash.

import { boardServices, type BoardHttp, type ServedBoard } from "./board-services.ts";
import { startXsEngine, type XsEngine, type XsEngineOptions, type XsRunResult } from "./host.ts";
import { xsDeviceBundle, xsRuntimeBundle } from "./runtime-bundle.ts";
import type { XsMqttService } from "./services.ts";
import { parseRuntimeEvent, type RuntimeArgs, type RuntimeEvent } from "./runtime-protocol.ts";

export class XsBoardEngine {
  /** Receives the runtime's events (boot report, progress, interruptions, log lines) as they happen. */
  onEvent: ((e: RuntimeEvent) => void) | undefined;
  private engine!: XsEngine;
  private fresh = true;

  private constructor(private readonly log: (line: string) => void) {}

  /** `options`: the run's clock and limits (a fleet board runs on the real clock until stopped),
   * the script (`bundle`: the runtime's update, or "device": a fleet board's client),
   * and the MQTT connections of the `mqtt` module (none by default). */
  static async start(
    board: ServedBoard,
    http: BoardHttp,
    log: (line: string) => void = () => undefined,
    options: Pick<XsEngineOptions, "clock" | "runTimeoutMs" | "name"> & { mqtt?: XsMqttService; bundle?: "runtime" | "device" } = {},
  ): Promise<XsBoardEngine> {
    const self = new XsBoardEngine(log);
    const { mqtt, bundle, ...engineOptions } = options;
    self.engine = await startXsEngine({
      bundleCode: await (bundle === "device" ? xsDeviceBundle() : xsRuntimeBundle()),
      services: { ...boardServices(board, http), mqtt },
      name: "xs-ota-sim",
      bootFrom: "snapshot",
      onTrace: (text) => self.trace(text),
      ...engineOptions,
    });
    return self;
  }

  /** One power-on after the bootloader: main(args) in a fresh worker. */
  async powerOn(args: RuntimeArgs): Promise<XsRunResult> {
    if (!this.fresh) await this.engine.reboot();
    this.fresh = false;
    return this.engine.run(args);
  }

  /** The power is lost: the events already queued reach XS, then the worker stops ("halted"). */
  haltAfterQueued(reason: string): void {
    this.engine.haltAfterQueued(reason);
  }

  /** The board is turned off: the run ends "halted" once the current delivery returns. */
  powerOff(reason: string): void {
    this.engine.powerOff(reason);
  }

  /** The XS engine (measurements). */
  get xs(): XsEngine {
    return this.engine;
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  private trace(text: string): void {
    const event = parseRuntimeEvent(text);
    if (event) this.onEvent?.(event);
    else this.log(`xs: ${text.replace(/\n$/, "")}`);
  }
}
