// Picks the flash module at run time: `embedded:storage/flash` when the build has it, else the
// legacy `flash`. Dynamic imports keep both optional: a static import of a module missing from
// the build would fail to link, while import() of it only rejects.

import type { FlashBackend } from "./flash-backend.ts";
import { loadEcma419Backend } from "./flash-ecma419.ts";
import { loadLegacyBackend } from "./flash-legacy.ts";

export type FlashModuleChoice = "auto" | "embedded:storage/flash" | "flash";

export async function loadFlashBackend(choice: FlashModuleChoice = "auto"): Promise<FlashBackend> {
  if (choice === "embedded:storage/flash") return loadEcma419Backend();
  if (choice === "flash") return loadLegacyBackend();
  let first: unknown;
  try {
    return await loadEcma419Backend();
  } catch (e) {
    first = e;
  }
  try {
    return await loadLegacyBackend();
  } catch (e) {
    throw new Error(
      `xs-ota: no flash module in this build (embedded:storage/flash: ${message(first)}; flash: ${message(e)}). ` +
        `Include $(MODDABLE)/modules/io/flash/manifest.json.`,
    );
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
