// A minimal http(s) URL splitter: mcconfig apps have no global URL (moddable-sdk.md §9).
// Parsed by hand, not with a RegExp: this module is preloaded, and a RegExp created at module
// load crashed a Moddable release build inside RegExp.prototype.exec (issue 9 §6).
//
//   scheme "://" host [":" port] [path-and-query] ["#" fragment]
//   scheme: http | https (any case); host: a name without "/:?#@" or an "[IPv6]" literal;
//   port: 1..65535 in decimal digits.

export interface ParsedUrl {
  scheme: "http" | "https";
  host: string;
  port: number;
  /** Path and query, "/" when empty. The fragment is dropped. */
  path: string;
  /** True when the port was given and differs from the scheme's default. */
  explicitPort: boolean;
}

const SEPARATOR = "://";
const MAX_PORT = 65535;

/** A character that ends the host (and the port): the start of the path, query or fragment. */
const endsAuthority = (c: string): boolean => c === "/" || c === "?" || c === "#";

export function parseUrl(url: string): ParsedUrl {
  const bad = (why: string): Error => new Error(`not an http(s) URL (${why}): ${url}`);
  const sep = url.indexOf(SEPARATOR);
  const schemeText = sep < 0 ? "" : url.slice(0, sep).toLowerCase();
  if (schemeText !== "http" && schemeText !== "https") throw bad("scheme");
  const scheme: "http" | "https" = schemeText;
  let i = sep + SEPARATOR.length;

  let host: string;
  if (url[i] === "[") {
    const close = url.indexOf("]", i);
    if (close < 0) throw bad("unclosed [");
    host = url.slice(i, close + 1);
    i = close + 1;
  } else {
    const start = i;
    while (i < url.length && url[i] !== ":" && !endsAuthority(url[i])) {
      if (url[i] === "@" || url[i] === "[" || url[i] === "]" || url.charCodeAt(i) <= 0x20) throw bad("host");
      i++;
    }
    host = url.slice(start, i);
  }
  if (host.length === 0 || host === "[]") throw bad("empty host");

  const defaultPort = scheme === "https" ? 443 : 80;
  let port = defaultPort;
  if (url[i] === ":") {
    i++;
    const start = i;
    port = 0;
    while (i < url.length && url.charCodeAt(i) >= 0x30 && url.charCodeAt(i) <= 0x39) {
      port = port * 10 + (url.charCodeAt(i) - 0x30);
      if (port > MAX_PORT) throw new Error(`bad port in URL: ${url}`);
      i++;
    }
    if (i === start) throw bad("port");
    if (port < 1) throw new Error(`bad port in URL: ${url}`);
  }
  if (i < url.length && !endsAuthority(url[i])) throw bad("after the host");

  const hash = url.indexOf("#", i);
  let path = hash < 0 ? url.slice(i) : url.slice(i, hash);
  if (path === "") path = "/";
  else if (path[0] === "?") path = "/" + path;
  return { scheme, host, port, path, explicitPort: port !== defaultPort };
}
