// xs-ota on an ESP32 with Moddable: settle the previous update at start-up (confirm or roll back
// a trial boot), then poll `xs-ota server` (its HTTP manifest dialect) and install what it offers,
// reporting version, progress and result so that the server judges the update (ota.ts).
//
// Build: see README.md. mcconfig compiles this file with tsc; "xs-ota" is the library bundle that
// ../../manifest.json provides. Relative imports use ".js" (mcconfig's tsc has no
// allowImportingTsExtensions, and XS strips ".js").

import { createModdablePlatform } from "xs-ota";
import type { ModdablePlatform } from "xs-ota";
import FFI from "mc/ffi";
import config from "mc/config";
import { LAYOUT } from "./layout.js";
import { otaConfig, runOta } from "./ota.js";

const OTA_SUBTYPE_FIRST = 0x10;
const OTA_SUBTYPE_LAST = 0x1f;
const MAX_HEALTH_BYTES = 4096;

/** Label of the running app slot, from ESP-IDF through the FFI helper in ffi/xsota-ffi.c. */
function runningSlot(ffi: FfiInstance): string {
  const subtype = ffi.xsota_running_subtype();
  if (subtype < OTA_SUBTYPE_FIRST || subtype > OTA_SUBTYPE_LAST) {
    throw new Error(`running partition subtype ${subtype} is not an OTA slot`);
  }
  return `ota_${subtype - OTA_SUBTYPE_FIRST}`;
}
type FfiInstance = InstanceType<typeof FFI>;

/** GETs a URL through the platform's HTTP port; resolves on a 200 answer of at most 4 KiB. */
function reachable(platform: ModdablePlatform, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let length = 0;
    let status = 0;
    const exchange = platform.http.request(
      { url },
      {
        response(s) {
          status = s;
        },
        data(chunk) {
          length += chunk.byteLength;
          if (length > MAX_HEALTH_BYTES) {
            exchange.abort();
            reject(new Error(`health answer larger than ${MAX_HEALTH_BYTES} bytes`));
          }
        },
        end() {
          if (status === 200) resolve();
          else reject(new Error(`health: HTTP ${status}`));
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
  if (typeof url !== "string" || url === "") return platform.system.rssi() !== undefined;
  try {
    await reachable(platform, url);
    return true;
  } catch {
    return false;
  }
}

export default async function main(): Promise<void> {
  const ffi = new FFI();
  const platform = await createModdablePlatform({
    layout: LAYOUT,
    ffi,
    runningSlot: () => runningSlot(ffi),
    log: "info",
  });
  await runOta(platform, otaConfig(config), {
    selfTest: () => selfTest(platform),
    print: (line) => trace(`${line}\n`),
  });
}
