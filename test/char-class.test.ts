// charClass (src/util/char-class.ts), the hand-written replacement of /^[...]+$/ in src/: agrees
// with the RegExp it replaces on arbitrary strings.

import test from "ava";
import fc from "fast-check";
import { charClass } from "../src/util/char-class.ts";

const specs = ["A-Za-z0-9_.:-", "A-Za-z0-9._+-", "0-9a-fA-F", "A-Za-z0-9_.:@-", "-a"];

for (const spec of specs) {
  test(`charClass("${spec}") tests like /^[${spec}]+$/`, (t) => {
    const cls = charClass(spec);
    const re = new RegExp(`^[${spec}]+$`);
    t.is(cls.source, `[${spec}]`);
    const alphabet = fc.constantFrom(..."aZ09_.:-+@/ #é\u0000~".split(""));
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet })), (s) => cls.test(s) === re.test(s)));
    t.false(cls.test(""));
  });
}

test("charClass refuses a range out of order", (t) => {
  t.throws(() => charClass("z-a"), { instanceOf: RangeError });
});
