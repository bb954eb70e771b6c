// A simulated esp32 board with 1.0.0 and a local server offering `image` as 2.0.0, on the node
// engine, torn down with the test: the setup tests share when they drive an Agent by hand.

import type { ExecutionContext } from "ava";
import { SimBoard } from "../../host-sim/board.ts";
import { profile } from "../../host-sim/boards/profiles.ts";
import { buildTestImage } from "../../host-sim/image-builder.ts";
import { NodeClock } from "../../host-sim/node-clock.ts";
import { UpdateServer } from "../../host-sim/server.ts";

export interface Rig {
  board: SimBoard;
  server: UpdateServer;
  clock: NodeClock;
}

/** `board`: an existing board to use instead of a new one with 1.0.0 (64 KiB). */
export async function nodeRig(t: ExecutionContext, image: Uint8Array, board?: SimBoard): Promise<Rig> {
  board ??= SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  const server = new UpdateServer({ version: "2.0.0", build: { id: 1, bytes: image } });
  await server.listen();
  const clock = new NodeClock(1);
  t.teardown(async () => {
    clock.stopAll();
    await server.close();
    board.flash.close();
  });
  return { board, server, clock };
}
