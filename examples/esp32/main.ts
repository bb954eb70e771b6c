// xs-ota on an ESP32 with Moddable: settle the previous update at start-up (confirm or roll back
// a trial boot), then poll an HTTP offer URL and install what it offers.
//
// Build: see README.md. mcconfig compiles this file with tsc; "xs-ota" is the library bundle that
// ../../manifest.json provides. Relative imports use ".js" (mcconfig's tsc has no
// allowImportingTsExtensions, and XS strips ".js").

import { Agent, createModdablePlatform } from "xs-ota";
import type { ModdablePlatform, Progress } from "xs-ota";
import FFI from "mc/ffi";
import config from "mc/config";
import { LAYOUT } from "./layout.js";

const OTA_SUBTYPE_FIRST = 0x10;
const OTA_SUBTYPE_LAST = 0x1f;
const MAX_OFFER_BYTES = 4096;
const DEFAULT_POLL_SECONDS = 3600;

/** Label of the running app slot, from ESP-IDF through the FFI helper in ffi/xsota-ffi.c. */
function runningSlot(ffi: FfiInstance): string {
  const subtype = ffi.xsota_running_subtype();
  if (subtype < OTA_SUBTYPE_FIRST || subtype > OTA_SUBTYPE_LAST) {
    throw new Error(`running partition subtype ${subtype} is not an OTA slot`);
  }
  return `ota_${subtype - OTA_SUBTYPE_FIRST}`;
}
type FfiInstance = InstanceType<typeof FFI>;

/** GET a small JSON document through the platform's HTTP port. */
function fetchJson(platform: ModdablePlatform, url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = new Uint8Array(MAX_OFFER_BYTES);
    let length = 0;
    let status = 0;
    const exchange = platform.http.request(
      { url, headers: { accept: "application/json" } },
      {
        response(s) {
          status = s;
        },
        data(chunk) {
          if (length + chunk.byteLength > body.byteLength) {
            exchange.abort();
            reject(new Error(`offer larger than ${MAX_OFFER_BYTES} bytes`));
            return;
          }
          body.set(chunk, length);
          length += chunk.byteLength;
        },
        end() {
          if (status !== 200) return reject(new Error(`offer: HTTP ${status}`));
          try {
            resolve(JSON.parse(String.fromArrayBuffer(body.slice(0, length).buffer)));
          } catch (e) {
            reject(e);
          }
        },
        error(reason) {
          reject(new Error(reason));
        },
      },
    );
  });
}

/** The trial-boot check: the new image must reach the network. Replace with the app's own. */
async function selfTest(platform: ModdablePlatform): Promise<boolean> {
  const url = config.healthUrl;
  if (typeof url !== "string") return platform.system.rssi() !== undefined;
  try {
    await fetchJson(platform, url);
    return true;
  } catch {
    return false;
  }
}

function progress(p: Progress): void {
  trace(`xs-ota: ${p.phase} ${p.percent}% (${p.bytes}/${p.total})\n`);
}

export default async function main(): Promise<void> {
  const ffi = new FFI();
  const platform = await createModdablePlatform({
    layout: LAYOUT,
    ffi,
    runningSlot: () => runningSlot(ffi),
    log: "info",
  });
  const agent = new Agent({ platform, selfTest: () => selfTest(platform), onProgress: progress });

  const report = await agent.boot();
  trace(`xs-ota: running ${report.version} from ${report.slot} (${report.imageState})\n`);
  if (report.lastUpdate) {
    const u = report.lastUpdate;
    trace(`xs-ota: last update ${u.fromVersion} -> ${u.toVersion}: ${u.ok ? "ok" : `error ${u.errorCode} ${u.reason}`}\n`);
  }

  const offerUrl = config.offerUrl;
  if (typeof offerUrl !== "string") return;
  const pollSeconds = typeof config.pollSeconds === "number" ? config.pollSeconds : DEFAULT_POLL_SECONDS;
  const poll = async (): Promise<void> => {
    try {
      const offer = await fetchJson(platform, offerUrl);
      const version = (offer as { version?: unknown }).version;
      if (typeof version === "string" && version !== report.version) {
        // Downloads, verifies, stages and restarts on success; returns the failure otherwise.
        const result = await agent.update(offer);
        if (!result.ok) trace(`xs-ota: update failed: ${result.errorCode} ${result.reason}\n`);
      }
    } catch (e) {
      trace(`xs-ota: poll failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    platform.clock.setTimeout(() => void poll(), pollSeconds * 1000);
  };
  await poll();
}
