// The power-cut sweep on the STM32 boards (node engine, and a sample in XS): a sample of the flash operations of an
// update and of a rollback (the simulated MCUboot's swap and revert included: they are flash
// operations of the same chip) plus every journal operation, in every cut mode, some runs with a
// second cut during the recovery. The full sweep (every operation) is `xs-ota sim torture
// --board NAME`; its figures are in the README.

import test from "ava";
import { torture } from "../host-sim/torture.ts";

for (const board of ["stm32f4-1mb", "stm32l4-dualbank-1mb"]) {
  test(`node: ${board}: sampled cuts and every journal operation, all modes, update and rollback: no failure`, async (t) => {
    const r = await torture({ board, size: 64 * 1024, cutPoints: 16, cutJournal: true });
    t.log(JSON.stringify(r));
    t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
    t.true(r.cutPoints.update > 50 && r.cutPoints.rollback > 50, JSON.stringify(r.cutPoints));
    t.true(r.runs >= 3 * 2 * 16, `${r.runs} runs`);
  });
}

for (const board of ["stm32f4-1mb", "stm32l4-dualbank-1mb"]) {
  test(`xs: ${board}: sampled cuts, all modes, update and rollback: no failure`, async (t) => {
    const r = await torture({ board, engine: "xs", size: 64 * 1024, cutPoints: 10 });
    t.log(JSON.stringify(r));
    t.is(r.failures, 0, r.firstFailure ? `${r.firstFailure.problem}\n${r.firstFailure.command}` : "");
    t.true(r.runs >= 3 * 2 * 10, `${r.runs} runs`);
  });
}
