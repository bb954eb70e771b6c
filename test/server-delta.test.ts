// The update server with a full package and a delta package of the same target in one plan: a
// device whose version is the delta's source version gets the patch through its dialect
// (Alibaba isDiff 1, a QuecThing package with delta, a manifest with delta) and downloads only
// the patch; a device on another source version gets the full image.

import test from "ava";
import { createPatch } from "../host-sim/delta/create-patch.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import type { Dialect } from "../host-sim/server/rollout.ts";
import { call, startServer, until, uploadImage } from "./helpers/ota-server.ts";

const FULL = 32 * 1024;

test("a plan with a full and a delta package: the patch to devices on its source version, the full image to the others, on all three dialects", async (t) => {
  const server = await startServer();
  const devices: SimDevice[] = [];
  try {
    const full = await uploadImage(server, "pk1", "2.0.0", FULL);
    t.is(full.status, 201, JSON.stringify(full.json));
    const patch = createPatch(buildTestImage({ version: "1.0.0", size: 16 * 1024 }), buildTestImage({ version: "2.0.0", size: FULL }));
    const res = await fetch(`${server.base}/api/packages?product=pk1&filename=app-1.0.0-2.0.0.patch&kind=delta&sourceVersion=1.0.0&version=2.0.0`, {
      method: "POST", headers: { "content-type": "application/octet-stream" }, body: patch,
    });
    const delta = { status: res.status, json: await res.json() as any };
    t.is(delta.status, 201, JSON.stringify(delta.json));
    const plan = await call(server, "POST", "/api/plans", { product: "pk1", packages: [full.json.id, delta.json.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0", "1.5.0"] });
    t.is(plan.status, 201, JSON.stringify(plan.json));
    t.is((await call(server, "POST", `/api/plans/${plan.json.id}/activate`)).status, 200);
    const dialects: Dialect[] = ["alibaba", "quec", "http"];
    for (const d of dialects) {
      devices.push(new SimDevice({ product: "pk1", name: `on100-${d}`, dialect: d, serverBase: server.base, brokerUrl: server.broker.url, fromVersion: "1.0.0" }));
      devices.push(new SimDevice({ product: "pk1", name: `on150-${d}`, dialect: d, serverBase: server.base, brokerUrl: server.broker.url, fromVersion: "1.5.0" }));
    }
    const runs = devices.map((d) => d.run());
    await until(() => devices.every((d) => d.version === "2.0.0"), 60_000, "every device on 2.0.0");
    for (const d of devices) d.stop();
    await Promise.all(runs);
    for (const d of devices) {
      const r = d.report();
      const onBase = d.o.fromVersion === "1.0.0";
      const expected = onBase ? patch.length : FULL;
      // HTTP devices also receive their manifests (a few hundred bytes a poll).
      const extra = r.bytesReceived - expected;
      if (d.o.dialect === "http") t.true(extra >= 0 && extra < 2048, `${d.o.name}: ${r.bytesReceived} bytes for a ${onBase ? "patch" : "full image"} of ${expected}`);
      else t.is(r.bytesReceived, expected, `${d.o.name}: ${onBase ? "patch" : "full image"} bytes`);
    }
    // Test images of two versions share nothing, so this patch is not smaller than the image;
    // the sizes differ, which is what tells the two downloads apart here.
    t.true(Math.abs(patch.length - FULL) > 2048);
  } finally {
    for (const d of devices) d.stop();
    await server.close();
  }
});

test("plan validation: a full package with delta packages of the same component; two full packages or two deltas from one version are refused", async (t) => {
  const server = await startServer();
  try {
    const full = await uploadImage(server, "pk1", "2.0.0");
    const full2 = await uploadImage(server, "pk1", "2.0.0", 16 * 1024);
    const up = async (source: string) => (await (await fetch(`${server.base}/api/packages?product=pk1&filename=p.bin&kind=delta&sourceVersion=${source}&version=2.0.0`, {
      method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(64).fill(7),
    })).json() as any).id as number;
    const d1 = await up("1.0.0");
    const d1b = await up("1.0.0");
    const plan = (packages: number[], sourceVersions = ["1.0.0", "1.5.0"]) => call(server, "POST", "/api/plans", { product: "pk1", packages, targetVersion: "2.0.0", sourceVersions });
    t.is((await plan([full.json.id, d1])).status, 201);
    const two = await plan([full.json.id, full2.json.id]);
    t.is(two.status, 400);
    t.regex(JSON.stringify(two.json), /comes from two packages/);
    t.is((await plan([full.json.id, d1, d1b])).status, 400);
    // a delta alone still needs sourceVersions to be exactly its source
    t.is((await plan([d1])).status, 400);
    t.is((await plan([d1], ["1.0.0"])).status, 201);
  } finally {
    await server.close();
  }
});
