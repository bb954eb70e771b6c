// A local upgrade on a simulated board: the image arrives in chunks (as over UART or BLE), goes
// through LocalUpgrade (QuecPython fota local mode) into the inactive slot, is verified and
// staged, and the board reboots into it on trial and confirms it.

import { Agent } from "../../src/agent/agent.ts";
import type { BootReport } from "../../src/agent/types.ts";
import { LocalUpgrade, type LocalImage } from "../../src/protocol/local-upgrade.ts";
import { profile } from "../boards/profiles.ts";
import { SimBoard } from "../board.ts";
import { buildTestImage } from "../image-builder.ts";
import { NodeClock } from "../node-clock.ts";
import { nodeHttp } from "../node-http.ts";
import { digestsOf } from "../server.ts";

export interface SimLocalOptions {
  size?: number;
  chunk?: number;
  /** Flip this byte of what is sent (the descriptor keeps the good digests). */
  corruptByte?: number;
  /** Stop sending after this many bytes and cancel. */
  cancelAt?: number;
  /** Rewrites the descriptor the sender gives. */
  image?: (good: LocalImage) => LocalImage;
}

export interface SimLocalReport {
  /** Return codes of write (the last one), flush and verify, as QuecPython's fota gives them. */
  write: number;
  flush: number;
  verify: number;
  error?: { code: number; reason: string };
  /** agent.boot() after the reboot. */
  after: BootReport;
  board: SimBoard;
}

export async function simLocalUpgrade(o: SimLocalOptions = {}): Promise<SimLocalReport> {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const image = buildTestImage({ version: "2.0.0", size: o.size ?? 128 * 1024, build: 1 });
  const d = digestsOf(image);
  const good: LocalImage = { version: "2.0.0", md5: d.md5, crc32: d.crc32, sha256: d.sha256, name: "uart0" };
  const sent = image.slice();
  if (o.corruptByte !== undefined) sent[o.corruptByte] ^= 0xff;
  const clock = new NodeClock(1);
  try {
    board.boot();
    const agent = new Agent({ platform: board.platform(nodeHttp, clock) });
    await agent.boot();
    const f = new LocalUpgrade(agent, o.image ? o.image(good) : good);
    const step = o.chunk ?? 1000; // odd-sized chunks, as a serial link delivers them
    let write = 0;
    const end = o.cancelAt ?? sent.length;
    for (let at = 0; at < end && write === 0; at += step) write = f.write(sent.subarray(at, Math.min(end, at + step)), sent.length);
    let flush = -1;
    let verify = -1;
    if (o.cancelAt !== undefined) f.cancel();
    else if (write === 0) {
      flush = f.flush();
      if (flush === 0) verify = f.verify();
    }
    if (board.restartRequested) board.powerCycle();
    board.boot();
    const after = await new Agent({ platform: board.platform(nodeHttp, clock) }).boot();
    const report: SimLocalReport = { write, flush, verify, after, board };
    if (f.error) report.error = { code: f.error.code, reason: f.error.reason };
    return report;
  } finally {
    clock.stopAll();
  }
}
