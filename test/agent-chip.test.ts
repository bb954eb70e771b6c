// A platform that does not name its chip: the agent takes the chip id from the running image's
// header (the bootloader booted it on this chip) and cannot check the revision.
import test from "ava";
import { Agent } from "../src/agent/agent.ts";
import { buildTestImage, type TestImageOptions } from "../host-sim/image-builder.ts";
import { nodeHttp } from "../host-sim/node-http.ts";
import { nodeRig } from "./helpers/node-rig.ts";

async function updateWithoutChip(t: import("ava").ExecutionContext, image: Partial<TestImageOptions>) {
  const { board, server, clock } = await nodeRig(t, buildTestImage({ version: "2.0.0", size: 64 * 1024, ...image }));
  board.boot();
  const platform = board.platform(nodeHttp, clock);
  delete platform.chip;
  const agent = new Agent({ platform });
  await agent.boot();
  return { result: await agent.update(server.offer()), agent };
}

test("without Platform.chip, an image for another chip id than the running image's is refused with -3", async (t) => {
  const { result, agent } = await updateWithoutChip(t, { chipId: 0x0009 });
  t.is(result.errorCode, -3);
  t.regex(result.reason, /image is for chip id 0x0009 \(ESP32S3\), this board is 0x0000 \(ESP32\)/);
  t.is(agent.journalState().phase, "idle");
});

test("without Platform.chip, the revision is not checked (unknown) and the update stages", async (t) => {
  const { result } = await updateWithoutChip(t, { minChipRevFull: 301 });
  t.true(result.ok, result.reason);
});
