// Untrusted text (from an image, a server, a payload) made safe for logs and protocol reports.
// Portable ECMAScript (runs on XS).

const HEX = "0123456789abcdef";

/**
 * `text` with every character outside printable ASCII (0x20..0x7E) written as an escape: \n,
 * \r, \t, \xNN below 0x100, \uNNNN above (lone surrogates included, so the result is always
 * valid text). Backslashes are left alone, so without `max` applying it twice changes nothing.
 * With `max`, text longer than `max` characters is cut there and ends with "...".
 */
export function printable(text: string, max = Infinity): string {
  let out = "";
  const n = text.length;
  let plain = true;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      plain = false;
      break;
    }
  }
  if (plain) return n > max ? text.slice(0, max) + "..." : text;
  for (let i = 0; i < n && i < max; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) out += text[i];
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x100) out += "\\x" + HEX[c >> 4] + HEX[c & 15];
    else out += "\\u" + HEX[c >> 12] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
  }
  return n > max ? out + "..." : out;
}
