// Checks and splits an http(s) URL by hand, the way the platforms' HTTP ports will split it (Node's
// http.request, src/platform/moddable/url.ts): scheme "http://" or "https://" (any case), an
// authority of host[:port] without credentials, then the path. The host is a name of letters,
// digits, "-", "." and "_", or a bracketed IPv6 literal; the port is 1..65535. Only printable
// ASCII is allowed (percent-encode the rest), so no whitespace or control character reaches a
// request line. No RegExp: XS pays for every RegExp object, and a preloaded one crashed a
// Moddable release build (issue 9 §6).

const MAX_HOST = 253; // RFC 1035 §2.3.4: a domain name is at most 253 characters in text form
const MAX_PORT = 65535;

function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f;
}

function isIpv6Char(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x3a || c === 0x2e;
}

function schemeLength(url: string): number {
  const lower = url.slice(0, 8).toLowerCase();
  if (lower.startsWith("http://")) return 7;
  if (lower.startsWith("https://")) return 8;
  return 0;
}

export interface ParsedUrl {
  scheme: "http" | "https";
  /** The host as written; an IPv6 literal keeps its brackets. */
  host: string;
  port: number;
  /** Path and query, "/" when empty. The fragment is dropped. */
  path: string;
  /** True when the port was given and differs from the scheme's default. */
  explicitPort: boolean;
}

/** Splits an http(s) URL, or says what is wrong with it (a string). */
export function splitHttpUrl(url: string): ParsedUrl | string {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return `character 0x${c.toString(16).padStart(2, "0")} at ${i} (only printable ASCII; percent-encode the rest)`;
  }
  const start = schemeLength(url);
  if (start === 0) return "the scheme must be http:// or https://";
  const scheme = start === 8 ? "https" : "http";
  let end = start;
  while (end < url.length && url[end] !== "/" && url[end] !== "?" && url[end] !== "#") end++;
  const authority = url.slice(start, end);
  if (authority.indexOf("@") >= 0) return "credentials in the URL are not supported";
  let host: string;
  let portText: string | undefined;
  if (authority[0] === "[") {
    const close = authority.indexOf("]");
    if (close < 0) return "the IPv6 address has no closing bracket";
    const ip = authority.slice(1, close);
    if (ip.length === 0 || ip.indexOf(":") < 0) return "the IPv6 address is empty or has no colon";
    for (let i = 0; i < ip.length; i++) if (!isIpv6Char(ip.charCodeAt(i))) return `the IPv6 address has a bad character ${JSON.stringify(ip[i])}`;
    host = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest.length > 0) {
      if (rest[0] !== ":") return "only :port may follow the IPv6 address";
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.indexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (host.length === 0) return "the host is missing";
    if (host.length > MAX_HOST) return `the host is longer than ${MAX_HOST} characters`;
    for (let i = 0; i < host.length; i++) if (!isNameChar(host.charCodeAt(i))) return `the host has a bad character ${JSON.stringify(host[i])}`;
    if (colon >= 0) portText = authority.slice(colon + 1);
  }
  const defaultPort = scheme === "https" ? 443 : 80;
  let port = defaultPort;
  if (portText !== undefined) {
    port = 0;
    for (let i = 0; i < portText.length; i++) {
      const d = portText.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return `the port ${JSON.stringify(portText)} is not a number`;
      port = port * 10 + d;
      if (port > MAX_PORT) break;
    }
    if (portText.length === 0 || port < 1 || port > MAX_PORT) return `the port must be 1..${MAX_PORT}, got ${JSON.stringify(portText)}`;
  }
  const hash = url.indexOf("#", end);
  let path = hash < 0 ? url.slice(end) : url.slice(end, hash);
  if (path === "") path = "/";
  else if (path[0] === "?") path = "/" + path;
  return { scheme, host, port, path, explicitPort: portText !== undefined && port !== defaultPort };
}

/** What is wrong with `url` as an http(s) URL, or undefined when it is fine. */
export function httpUrlProblem(url: string): string | undefined {
  const parsed = splitHttpUrl(url);
  return typeof parsed === "string" ? parsed : undefined;
}
