// The remaining resume and fault flags of `sim update` on the STM32 boards (drop and reboot are
// in stm32-update.test.ts): a server that ignores Range, a stall, HTTP errors, a build swapped
// under the same version, each with the outcome the ESP board has for it.

import test from "ava";
import { simUpdate, type SimUpdateOptions } from "../host-sim/sim-update.ts";
import { ENGINES, type Engine } from "./helpers/engines.ts";

const SIZE = 150 * 1024;
const RUNS: [string, Engine][] = ["stm32f4-1mb", "stm32l4-dualbank-1mb"].flatMap((b) => ENGINES.map((e): [string, Engine] => [b, e]));
const CASES: [string, Partial<SimUpdateOptions>][] = [
  ["--ignore-range with a drop: restarts from 0 and ends on 2.0.0", { ignoreRange: true, dropAt: [70_000] }],
  ["--stall-at: times out, resumes and ends on 2.0.0", { stallAt: 50_000, stallMs: 300 }],
  ["--http-error 1:503,2:500: retried, ends on 2.0.0", { httpErrors: new Map([[1, 503], [2, 500]]) }],
];

for (const [board, engine] of RUNS) {
  for (const [what, extra] of CASES) {
    test(`${engine}: ${board}: ${what}`, async (t) => {
      const r = await simUpdate({ board, engine, size: SIZE, ...extra });
      t.true(r.ok, r.reason);
      t.is(r.bootedVersion, "2.0.0");
      t.is(r.imageState, "confirmed");
      t.is(r.slotSha256, r.imageSha256);
      t.deepEqual(r.warnings, []);
      if (extra.ignoreRange) t.true(r.bytesFetchedAgain >= 70_000, `${r.bytesFetchedAgain} fetched again`);
      else t.true(r.interruptions >= 1 || (extra.httpErrors?.size ?? 0) > 0);
    });
  }
  test(`${engine}: ${board}: --change-etag-at swaps the bytes under the same offer: refused with -3, 1.0.0 keeps running`, async (t) => {
    const r = await simUpdate({ board, engine, size: SIZE, changeEtagAt: 60_000 });
    t.is(r.errorCode, -3, r.reason);
    t.is(r.bootedVersion, "1.0.0");
  });
}
