// The files a new user reads first: the license package.json names, and the README's links.

import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

test("LICENSE holds the MIT license package.json names, for the xs-ota developers", (t) => {
  t.is(JSON.parse(read("package.json")).license, "MIT");
  const license = read("LICENSE");
  t.regex(license, /^MIT License$/m);
  t.regex(license, /^Copyright \(c\) 2026 xs-ota developers$/m);
  t.regex(license, /THE SOFTWARE IS PROVIDED "AS IS"/);
});

test("every relative link in the README names a file that exists", (t) => {
  const readme = read("README.md");
  const links = [...readme.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
  t.true(links.includes("examples/esp32/README.md"), "the README links the example app's README");
  for (const l of links) t.true(fs.existsSync(path.join(root, l)), l);
});

test("the README's quick start says that npm test installs the system packages, and CI runs the same commands", (t) => {
  const readme = read("README.md");
  t.regex(readme, /scripts\/system-packages\.txt/);
  t.regex(readme, /sudo apt-get update && sudo apt-get install -y mosquitto/);
  const ci = read(".ci/run");
  t.regex(ci, /^npm ci\b/m);
  t.regex(ci, /^npm test$/m);
  t.notRegex(ci, /apt-get/, "the system packages are installed by npm test's preflight, not by CI alone");
});
