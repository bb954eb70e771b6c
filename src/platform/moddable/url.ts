// A minimal http(s) URL splitter: mcconfig apps have no global URL (moddable-sdk.md §9).

export interface ParsedUrl {
  scheme: "http" | "https";
  host: string;
  port: number;
  /** Path and query, "/" when empty. The fragment is dropped. */
  path: string;
  /** True when the port was given and differs from the scheme's default. */
  explicitPort: boolean;
}

const URL_PATTERN = /^(https?):\/\/(\[[^\]]*\]|[^/:?#]+)(?::(\d{1,5}))?([^#]*)/i;

export function parseUrl(url: string): ParsedUrl {
  const m = URL_PATTERN.exec(url);
  if (!m) throw new Error(`not an http(s) URL: ${url}`);
  const scheme = m[1].toLowerCase() as "http" | "https";
  const defaultPort = scheme === "https" ? 443 : 80;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`bad port in URL: ${url}`);
  let path = m[4] || "/";
  if (path[0] === "?") path = "/" + path;
  return { scheme, host: m[2], port, path, explicitPort: port !== defaultPort };
}
