// Who an MCUboot image says it is, read cheaply (the header and the protected TLV area, no hash):
// the version of ih_ver and the SEC_CNT TLV (0 without one), as the boot targets need them for
// the running image's anti-rollback floor and for the early head check. Formats: image-header.ts
// and tlv.ts (shared/reference/boot-formats.md §4.1-§4.2).

import { ErrorCode, OtaError } from "../../errors.ts";
import type { ImageIdentity } from "../boot-target.ts";
import { readU32LE } from "../../util/bytes.ts";
import { printable } from "../../util/printable.ts";
import { IMAGE_HEADER_SIZE, parseImageHeader, type ImageHeader } from "./image-header.ts";
import { TLV, readTlvAreas, type ImageRead } from "./tlv.ts";

/** ih_ver without its build number: "major.minor.revision", the form offers name. */
export function shortVersion(h: ImageHeader): string {
  return `${h.version.major}.${h.version.minor}.${h.version.revision}`;
}

/** The image's version and security counter. Throws OtaError(-3) on a bad header or TLV framing. */
export function mcubootIdentity(read: ImageRead, limit: number): ImageIdentity {
  const header = parseImageHeader(read(0, IMAGE_HEADER_SIZE));
  let securityCounter = 0;
  if (header.protectTlvSize > 0) {
    const areas = readTlvAreas(read, limit, header);
    const t = areas.entries.find((e) => e.protected && e.type === TLV.SEC_CNT && e.len === 4);
    if (t) securityCounter = readU32LE(read(t.valueOffset, 4), 0);
  }
  return { version: shortVersion(header), securityCounter };
}

/** The offer's version against the header's: "major.minor.revision" matches any build, and
 * "major.minor.revision+build" matches that build only. Throws OtaError(-3). */
export function checkOfferVersion(header: ImageHeader, offered: string): void {
  const short = shortVersion(header);
  const full = `${short}+${header.version.build}`;
  if (offered !== short && offered !== full) {
    throw new OtaError(ErrorCode.VerifyFailed, `image says version ${full}, the offer ${printable(offered)}`);
  }
}
