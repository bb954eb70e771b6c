// parseOffer (issue 9 §2, §4, §6): URLs are checked by hand when the offer is parsed, whatever
// the input does while it is read is -1, a signature is refused until signatures exist, and
// offer.ts creates no RegExp.

import test from "ava";
import * as fs from "node:fs";
import { parseOffer } from "../src/agent/offer.ts";
import { OtaError } from "../src/errors.ts";
import { httpUrlProblem } from "../src/util/http-url.ts";

const good = {
  component: "app",
  version: "2.0.0",
  url: "http://127.0.0.1:8080/app.bin",
  size: 65536,
  md5: "0".repeat(32),
  crc32: "0".repeat(8),
  sha256: "0".repeat(64),
};

function refused(t: import("ava").ExecutionContext, input: unknown, reason: RegExp, local = false) {
  let e: unknown;
  try {
    parseOffer(input, { local });
  } catch (x) {
    e = x;
  }
  t.true(e instanceof OtaError, `an OtaError, got ${String(e)}`);
  t.is((e as OtaError).code, -1);
  t.regex((e as OtaError).reason, reason);
}

const badUrls: [string, RegExp][] = [
  ["http://127.0.0.1:99999/x", /port must be 1\.\.65535/],
  ["http://127.0.0.1:0/x", /port must be 1\.\.65535/],
  ["http://127.0.0.1:/x", /port must be 1\.\.65535/],
  ["http://127.0.0.1:8o/x", /port .* is not a number/],
  ["http://[::1/x", /no closing bracket/],
  ["http://[::1]x/y", /only :port may follow/],
  ["http://[]/x", /IPv6 address is empty/],
  ["http://[::g]/x", /IPv6 address has a bad character/],
  ["http://:80/x", /host is missing/],
  ["http:///x", /host is missing/],
  ["ftp://x/y", /scheme must be http/],
  ["http:/x/y", /scheme must be http/],
  ["javascript:alert(1)", /scheme must be http/],
  ["http://a b/x", /character 0x20/],
  ["http://a/b\tc", /character 0x09/],
  ["http://a/b\u0000", /character 0x00/],
  ["http://a/\u00e9", /character 0xe9/],
  ["http://user:pw@host/x", /credentials/],
  ["http://ho%st/x", /host has a bad character/],
  [`http://${"a".repeat(254)}/x`, /longer than 253/],
];

for (const [url, reason] of badUrls) {
  test(`url ${JSON.stringify(url.slice(0, 40))} is refused with -1`, (t) => {
    refused(t, { ...good, url }, reason);
  });
}

test("good URLs pass: names, IPv4, bracketed IPv6 with a port, https, query, upper-case scheme", (t) => {
  for (const url of ["http://ota.example.com/a.bin", "https://10.0.0.1:8443/a?b=1#c", "http://[::1]:8080/x", "http://[fe80::1%25eth0]/x".replace("%25eth0", ""), "HTTPS://Host-1.example_x/", "http://h:65535", "http://h:1/"]) {
    t.is(httpUrlProblem(url), undefined, url);
    t.is(parseOffer({ ...good, url }).url, url);
  }
});

test("an offer whose getter throws is -1, not a flash error", (t) => {
  const input = { ...good };
  Object.defineProperty(input, "url", { enumerable: true, get() { throw new Error("getter boom"); } });
  refused(t, input, /could not be read: getter boom/);
});

test("a proxy that throws on every trap is -1", (t) => {
  const p = new Proxy({}, { getOwnPropertyDescriptor() { throw new Error("trap boom"); }, get() { throw new Error("trap boom"); } });
  refused(t, p, /trap boom/);
});

test("each field is read once: a getter that changes its answer cannot pass one check and fail the next", (t) => {
  let reads = 0;
  const input = { ...good };
  Object.defineProperty(input, "url", {
    enumerable: true,
    get() {
      reads++;
      return reads === 1 ? good.url : "ftp://evil/x";
    },
  });
  const offer = parseOffer(input);
  t.is(offer.url, good.url);
  t.is(reads, 1);
});

test("inherited fields are not seen: only own data counts", (t) => {
  const input = Object.create({ url: good.url });
  Object.assign(input, { ...good, url: undefined });
  delete input.url;
  refused(t, input, /url must be a string/);
});

test("an offer with a signature is refused with -1 until signatures are supported", (t) => {
  refused(t, { ...good, signature: "MEUCIQ==" }, /signatures are not supported yet/);
  refused(t, { ...good, url: undefined, signature: "x" }, /signatures are not supported yet/, true);
});

test("local offers: local: plus a short name of [A-Za-z0-9._-]", (t) => {
  t.is(parseOffer({ ...good, url: undefined }, { local: true }).url, "local:");
  t.is(parseOffer({ ...good, url: "local:uart-0.bin_x" }, { local: true }).url, "local:uart-0.bin_x");
  for (const url of ["local:a b", "local:a/b", "http://x/y"]) refused(t, { ...good, url }, /local offer's url/, true);
  refused(t, { ...good, url: `local:${"a".repeat(65)}` }, /1\.\.70 characters/, true);
  refused(t, { ...good, url: "local:" }, /scheme must be http/);
});

test("digests: any case of hex is taken and lower-cased; other characters are refused", (t) => {
  t.is(parseOffer({ ...good, md5: "AB".repeat(16) }).md5, "ab".repeat(16));
  refused(t, { ...good, md5: "g".repeat(32) }, /md5 must be 32 hex digits/);
});

test("offer.ts and http-url.ts create no RegExp (issue 9 §6)", (t) => {
  for (const file of ["src/agent/offer.ts", "src/util/http-url.ts"]) {
    const code = fs.readFileSync(file, "utf8").split("\n").filter((l) => !l.trim().startsWith("//") && !l.trim().startsWith("*")).join("\n");
    t.false(/RegExp|\.test\(|\.exec\(|[=(,:]\s*\/[^/*\s][^/\n]*\/[dgimsuy]*/.test(code), `${file} has a RegExp`);
  }
});
