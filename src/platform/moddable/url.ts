// The URL splitter of the Moddable HTTP port: mcconfig apps have no global URL
// (moddable-sdk.md §9). The parsing is src/util/http-url.ts (by hand, no RegExp: this module is
// preloaded, and a RegExp created at module load crashed a Moddable release build, issue 9 §6),
// the same check parseOffer applies, so the port never sees a URL the offer did not accept.

import { splitHttpUrl, type ParsedUrl } from "../../util/http-url.ts";

export type { ParsedUrl };

/** Splits an http(s) URL; throws an Error naming the URL and what is wrong with it. */
export function parseUrl(url: string): ParsedUrl {
  const parsed = splitHttpUrl(url);
  if (typeof parsed === "string") throw new Error(`not an http(s) URL (${parsed}): ${url}`);
  return parsed;
}
