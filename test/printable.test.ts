// Untrusted text never reaches a reason raw: printable() escapes it, OtaError and errorMessage use it.
import test from "ava";
import { printable } from "../src/util/printable.ts";
import { OtaError, errorMessage } from "../src/errors.ts";
import { decidePlan } from "../src/protocol/quec-plan.ts";

const RAW = /[\u0000-\u001f\u007f-\uffff]/;

test("printable escapes controls, DEL, non-ASCII and lone surrogates, and keeps printable ASCII", (t) => {
  t.is(printable("2.0.0 (ok) \\ ~"), "2.0.0 (ok) \\ ~");
  t.is(printable("a\nb\rc\td\u0000e\u001b[31m\u007f"), "a\\nb\\rc\\td\\x00e\\x1b[31m\\x7f");
  t.is(printable("\u00e9\u202e\ud800x\ud83d\ude00"), "\\xe9\\u202e\\ud800x\\ud83d\\ude00");
  let all = "";
  for (let c = 0; c < 0x10000; c += 7) all += String.fromCharCode(c);
  const out = printable(all);
  t.false(RAW.test(out));
  t.is(printable(out), out, "applying it twice changes nothing");
});

test("printable cuts at max", (t) => {
  t.is(printable("abcdef", 3), "abc...");
  t.is(printable("a\u0001cdef", 3), "a\\x01c...");
  t.is(printable("abc", 3), "abc");
});

test("OtaError reasons and errorMessage are escaped", (t) => {
  const e = new OtaError(-3, "image says version \"2.0.0\u001b[2J\"");
  t.is(e.reason, "image says version \"2.0.0\\x1b[2J\"");
  t.false(RAW.test(e.message));
  t.is(errorMessage(new Error("bad\u0007byte")), "bad\\x07byte");
  t.is(errorMessage("x\u2028y"), "x\\u2028y");
  t.is(errorMessage({ toString: () => { throw new Error("boom"); } }), "unprintable error");
});

test("a plan refusal naming the running image's version escapes it", (t) => {
  const plan = { taskId: "1", component: "app", sourceVersion: "1.0.0", targetVersion: "2.0.0" };
  const readings = { batteryPercent: 90, rssi: -60, freeSpace: 1 << 20 };
  const d = decidePlan(plan, "1.0.0\u001b[2J", readings);
  t.false(d.accept);
  t.is(d.reason, "plan is for version 1.0.0, the device runs 1.0.0\\x1b[2J");
});
