// parseUrl (src/platform/moddable/url.ts), the hand-written URL splitter of the Moddable HTTP port:
// agrees with the WHATWG URL parser on the URLs it accepts, and refuses the rest with an error.

import test from "ava";
import { parseUrl } from "../src/platform/moddable/url.ts";

const accepted = [
  "http://updates.local/fw.bin",
  "http://updates.local:8080/fw.bin?x=1&y=2",
  "HTTPS://Example.COM/a/b#frag",
  "https://example.com:443/",
  "http://example.com",
  "http://example.com?q=1",
  "http://127.0.0.1:65535/x",
  "http://[::1]:8080/x",
  "http://[fe80::1]/",
  "http://h:1/#only-fragment",
];

for (const url of accepted) {
  test(`accepts ${url} as URL does`, (t) => {
    const got = parseUrl(url);
    const want = new URL(url);
    t.is(got.scheme as string, want.protocol.slice(0, -1));
    t.is(got.host.toLowerCase(), want.hostname.toLowerCase());
    const defaultPort = got.scheme === "https" ? 443 : 80;
    t.is(got.port, want.port === "" ? defaultPort : Number(want.port));
    t.is(got.explicitPort, want.port !== "");
    t.is(got.path, `${want.pathname}${want.search}`);
  });
}

const refused = [
  "http://127.0.0.1:99999/x",
  "http://h:123456/x",
  "http://h:0/",
  "http://[::1/x",
  "http://h:abc/",
  "http://h:/",
  "http://",
  "http:///path",
  "ftp://h/x",
  "local:abc",
  "http//h/x",
  "http://user@h/x",
  "http://h h/x",
  "http://[::1]x/",
  "",
];

for (const url of refused) {
  test(`refuses ${JSON.stringify(url)}`, (t) => {
    t.throws(() => parseUrl(url), { message: /URL/ });
  });
}
