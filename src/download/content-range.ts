// HTTP range headers (RFC 9110 section 14): the Range request for a resume and the
// Content-Range of a 206 answer. Parsed by hand: XS pays for every RegExp.

export interface ContentRange {
  start: number;
  end: number;
  /** Complete length, or undefined for "*". */
  total: number | undefined;
}

/** Longest digit run taken as a number: 2^53 has 16 digits. */
const MAX_DIGITS = 15;

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/** Reads the digits at `at`: [value, index after them], or undefined when there are none. */
function digits(s: string, at: number): [number, number] | undefined {
  let i = at;
  let v = 0;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
    v = v * 10 + (s.charCodeAt(i) - 0x30);
    i++;
  }
  if (i === at || i - at > MAX_DIGITS) return undefined;
  return [v, i];
}

/** "bytes 100-199/1000" -> {start: 100, end: 199, total: 1000}; undefined when malformed. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  let i = 0;
  while (isSpace(value[i])) i++;
  if (value.slice(i, i + 5).toLowerCase() !== "bytes" || !isSpace(value[i + 5])) return undefined;
  i += 5;
  while (isSpace(value[i])) i++;
  const start = digits(value, i);
  if (!start || value[start[1]] !== "-") return undefined;
  const end = digits(value, start[1] + 1);
  if (!end || value[end[1]] !== "/") return undefined;
  i = end[1] + 1;
  let total: number | undefined;
  if (value[i] === "*") i++;
  else {
    const t = digits(value, i);
    if (!t) return undefined;
    total = t[0];
    i = t[1];
  }
  while (isSpace(value[i])) i++;
  if (i !== value.length) return undefined;
  if (end[0] < start[0] || (total !== undefined && end[0] >= total)) return undefined;
  return { start: start[0], end: end[0], total };
}

export function rangeFrom(offset: number): string {
  return `bytes=${offset}-`;
}

/** A non-negative integer header value, or undefined when absent or malformed. */
export function parseLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let i = 0;
  while (isSpace(value[i])) i++;
  const n = digits(value, i);
  if (!n) return undefined;
  i = n[1];
  while (isSpace(value[i])) i++;
  return i === value.length ? n[0] : undefined;
}
