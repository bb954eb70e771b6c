// Delta updates through each cloud dialect (issue 13): the simulated cloud holds the full image
// and a patch; a device running the patch's base version gets the delta package (Alibaba
// isDiff 1, a QuecThing package with delta, a manifest's deltas entry) and downloads the patch
// only; a device on another version gets the full image.

import test from "ava";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { simProtocolUpdate, type Protocol, type SimProtocolReport } from "../host-sim/cloud/sim-protocol.ts";
import type { ProtocolLogEntry } from "../host-sim/cloud/protocol-log.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";

const SIZE = 96 * 1024;
const json = (e: ProtocolLogEntry) => JSON.parse(e.payload) as Record<string, any>;

async function run(protocol: Protocol, baseVersion?: string): Promise<SimProtocolReport> {
  const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
  return simProtocolUpdate({ protocol, size: SIZE, backoffMs: 10, existing: board, delta: { baseVersion } });
}

/** The cloud's message that carried the offer (the first one: later boots may repeat it). */
function offerMessage(r: SimProtocolReport): Record<string, any> {
  const down = r.protocolLog.filter((e) => e.dir === "cloud->device");
  const m = down.map((e) => (e.payload.startsWith("{") ? json(e) : undefined)).find((x) => x && (x.data !== undefined || x.type === "package" || x.sha256 !== undefined));
  if (!m) throw new Error("no offer message in the protocol log");
  return m;
}

for (const protocol of ["mqtt", "plan", "http"] as Protocol[]) {
  test(`${protocol}: a device on the patch's base version downloads the patch only and boots the target`, async (t) => {
    const r = await run(protocol);
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.slotSha256, r.imageSha256);
    t.truthy(r.patchBytes);
    t.is(r.bytesDownloaded, r.patchBytes!, "bytes downloaded = patch size");
    const m = offerMessage(r);
    if (protocol === "mqtt") {
      t.is(m.data.isDiff, 1);
      t.is(m.data.size, r.patchBytes);
      t.is(m.data.extData.size, SIZE);
      t.is(m.data.extData.srcVersion, "1.0.0");
      t.regex(m.data.url, /app-2\.0\.0\.bin$/);
    } else if (protocol === "plan") {
      t.is(m.delta.size, r.patchBytes);
      t.is(m.size, SIZE);
    } else {
      t.deepEqual(m.deltas.map((d: Record<string, unknown>) => [d.baseVersion, d.size]), [["1.0.0", r.patchBytes]]);
      t.regex(m.url, /\.full\.bin$/);
    }
  });

  test(`${protocol}: a device on another version than the patch's base gets the full image`, async (t) => {
    const r = await run(protocol, "1.5.0");
    t.true(r.ok, r.reason);
    t.is(r.bootedVersion, "2.0.0");
    t.is(r.slotSha256, r.imageSha256);
    t.is(r.bytesDownloaded, SIZE, "bytes downloaded = image size");
    const m = offerMessage(r);
    if (protocol === "mqtt") {
      t.is(m.data.isDiff, 0);
      t.is(m.data.size, SIZE);
      t.regex(m.data.url, /\.full\.bin$/);
    } else if (protocol === "plan") {
      t.is(m.delta, undefined);
      t.regex(m.url, /\.full\.bin$/);
    } else {
      t.is(m.deltas[0].baseVersion, "1.5.0");
    }
  });
}
