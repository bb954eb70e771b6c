// Versions are SemVer 2.0.0: ordered as the spec says, anything else refused.
import test from "ava";
import { compareVersions, parseVersion, versionProblem } from "../src/agent/version.ts";
import { OtaError } from "../src/errors.ts";

// semver.org section 11, extended with numeric identifiers that order differently as text.
const ASCENDING = [
  "0.9.9", "1.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
  "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.9", "1.2.10", "2.0.0-rc.9", "2.0.0-rc.10",
  "2.0.0-rc1", "2.0.0", "10.0.0",
];

test("SemVer precedence: every pair of the ascending list orders as its positions", (t) => {
  for (let i = 0; i < ASCENDING.length; i++) {
    for (let j = 0; j < ASCENDING.length; j++) {
      t.is(compareVersions(ASCENDING[i], ASCENDING[j]), Math.sign(i - j), `${ASCENDING[i]} vs ${ASCENDING[j]}`);
    }
  }
});

test("build metadata is ignored for ordering", (t) => {
  t.is(compareVersions("1.0.0+build.1", "1.0.0+build.2"), 0);
  t.is(compareVersions("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
  t.is(compareVersions("1.0.1+0", "1.0.0+9"), 1);
  t.deepEqual(parseVersion("1.2.3-rc.4+b.05").build, ["b", "05"]);
});

test("versions that are not SemVer 2.0 are refused with the fault named", (t) => {
  const bad: [string, RegExp][] = [
    ["02.0.0", /major 02 has a leading zero/],
    ["2.0", /2 dotted parts/],
    ["2", /1 dotted part in/],
    ["2.0.0.0", /4 dotted parts/],
    [" 2.0.0", /character " " at 0/],
    ["2.0.0 ", /character " " at 5/],
    ["v2.0.0", /major "v2" is not a number/],
    ["2.0.0-01", /pre-release identifier 01 has a leading zero/],
    ["2.0.0-", /empty pre-release identifier/],
    ["2.0.0-a..b", /empty pre-release identifier/],
    ["2.0.0+", /empty or malformed build identifier/],
    ["2.0.0+a+b", /character|malformed/],
    ["2.0.0\u0000", /character/],
    ["9007199254740993.0.0", /too large/],
    ["", /empty/],
  ];
  for (const [v, reason] of bad) {
    const problem = versionProblem(v);
    t.truthy(problem, JSON.stringify(v));
    t.regex(problem ?? "", reason, JSON.stringify(v));
    const e = t.throws(() => compareVersions(v, "1.0.0"), undefined, JSON.stringify(v));
    t.true(e instanceof OtaError && e.code === -1, JSON.stringify(v));
    t.throws(() => compareVersions("1.0.0", v), undefined, JSON.stringify(v));
  }
  for (const v of ASCENDING) t.is(versionProblem(v), undefined, v);
});
