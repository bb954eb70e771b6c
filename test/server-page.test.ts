// The live page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// the operator activates a plan with the page's button, watches the devices reach success live
// (no reload), opens a device's log, and sees a second plan pause when its first wave crosses
// the error threshold. The page's screenshot is written to .test-out/server-page.png.

import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium } from "playwright-core";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { SimDevice } from "../host-sim/server/sim-device.ts";
import { call, startServer, tempDir, uploadImage } from "./helpers/ota-server.ts";

const CHROMIUM = "/usr/bin/chromium";

test("the page shows progress, successes, a device's log and an automatic pause, live", async (t) => {
  if (!fs.existsSync(CHROMIUM)) t.fail(`${CHROMIUM} is missing: npm test's preflight installs Debian's chromium (scripts/system-packages.txt)`);
  const server = await startServer();
  const devices: SimDevice[] = [];
  const context = await chromium.launchPersistentContext(tempDir("xs-ota-chromium-"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const good = (await uploadImage(server, "pk1", "2.0.0", 128 * 1024)).json;
    const plan1 = (await call(server, "POST", "/api/plans", { name: "to 2.0.0", product: "pk1", packages: [good.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"] })).json;
    const run = (product: string, name: string, dialect: "alibaba" | "quec" | "http") => {
      const d = new SimDevice({ product, name, dialect, serverBase: server.base, brokerUrl: server.broker.url, pollMs: 100 });
      devices.push(d);
      return d.run();
    };
    const runs = [run("pk1", "d1", "alibaba"), run("pk1", "d2", "http")];
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.base}/`);
    await page.waitForSelector('tr[data-device="d1"]');
    await page.waitForSelector('tr[data-device="d2"]');
    await page.waitForSelector('#live:text("live")');
    // Record every state and progress the page shows for d1, from now on.
    // (Page code is passed as strings: tsx's transform would add helpers the page lacks.)
    await page.evaluate(`(() => {
      const seen = (window.seen = { states: new Set(), progress: new Set() });
      const note = () => {
        const row = document.querySelector('tr[data-device="d1"]');
        if (!row) return;
        seen.states.add(row.querySelector("[data-state]").textContent);
        seen.progress.add(row.querySelector("[data-progress]").textContent);
      };
      note();
      new MutationObserver(note).observe(document.querySelector("#devices tbody"), { childList: true, subtree: true, characterData: true });
    })()`);
    const row1 = page.locator(`tr[data-plan="${plan1.id}"]`);
    t.is(await row1.locator('[data-count="success"]').textContent(), "0");
    await row1.locator('button[data-act="activate"]').click();
    await page.waitForFunction(`document.querySelector('tr[data-plan="${plan1.id}"] [data-count="success"]')?.textContent === "2"`, undefined, { timeout: 60_000 });
    t.is(await row1.locator("[data-rate]").textContent(), "100%");
    const seen = (await page.evaluate("({ states: [...window.seen.states], progress: [...window.seen.progress] })")) as { states: string[]; progress: string[] };
    t.true(seen.states.includes("idle") && seen.states.includes("success"), JSON.stringify(seen));
    t.true(seen.progress.includes("0") && seen.progress.includes("100"), JSON.stringify(seen));
    t.is(await page.locator('tr[data-device="d1"] [data-version]').textContent(), "2.0.0");
    // A data component's version, as an HTTP device reports it in its poll, shows live too.
    t.is((await fetch(`${server.base}/d/pk1/d2/manifest.json?version=2.0.0&components=assets@1.1.0`)).status, 304);
    await page.waitForFunction(`document.querySelector('tr[data-device="d2"] [data-component="assets"]')?.textContent === "assets 1.1.0"`, undefined, { timeout: 10_000 });
    // One device's log.
    await page.locator('tr[data-device="d1"]').click();
    await page.waitForFunction(`/success/.test(document.querySelector("#log").textContent)`);
    t.regex((await page.locator("#log").textContent())!, /pending[\s\S]*success/);

    // A plan whose image is for another chip: every device fails with -3; the first wave
    // (1 of 2) crosses the 30% threshold and the plan pauses by itself.
    const wrong = buildTestImage({ version: "2.0.0", size: 32 * 1024, chipId: 9 });
    const up = await fetch(`${server.base}/api/packages?product=pk2&filename=s3.bin`, { method: "POST", body: wrong });
    const bad = (await up.json()) as { id: number };
    const plan2 = (await call(server, "POST", "/api/plans", {
      name: "wrong chip", product: "pk2", packages: [bad.id], targetVersion: "2.0.0", sourceVersions: ["1.0.0"], rollout: { wavePercent: 50, errorThresholdPercent: 30 },
    })).json;
    runs.push(run("pk2", "e1", "alibaba"), run("pk2", "e2", "quec"));
    await page.waitForSelector('tr[data-device="e2"]');
    await page.locator(`tr[data-plan="${plan2.id}"] button[data-act="activate"]`).click();
    const row2 = page.locator(`tr[data-plan="${plan2.id}"]`);
    await page.waitForFunction(`document.querySelector('tr[data-plan="${plan2.id}"] td.paused') !== null`, undefined, { timeout: 60_000 });
    t.regex((await row2.locator("[data-reason]").textContent())!, /wave 1: 1 of 1 devices failed \(100%\), above the error threshold of 30%/);
    t.is(await row2.locator('[data-count="failed"]').textContent(), "1");
    t.truthy(await row2.locator('button[data-act="resume"]').count());
    const failedRow = page.locator("#devices td.failed", { hasText: "-3" });
    t.is(await failedRow.count(), 1);
    const out = path.join(process.cwd(), ".test-out");
    fs.mkdirSync(out, { recursive: true });
    await page.screenshot({ path: path.join(out, "server-page.png"), fullPage: true });
    for (const d of devices) d.stop();
    await Promise.all(runs);
  } finally {
    for (const d of devices) d.stop();
    await context.close();
    await server.close();
  }
});
