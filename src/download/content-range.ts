// HTTP range headers (RFC 9110 section 14): the Range request for a resume and the
// Content-Range of a 206 answer.

export interface ContentRange {
  start: number;
  end: number;
  /** Complete length, or undefined for "*". */
  total: number | undefined;
}

/** "bytes 100-199/1000" -> {start: 100, end: 199, total: 1000}; undefined when malformed. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === "*" ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

export function rangeFrom(offset: number): string {
  return `bytes=${offset}-`;
}

/** A non-negative integer header value, or undefined when absent or malformed. */
export function parseLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}
