// Builds MCUboot images in imgtool's layout (mcu-tools/mcuboot scripts/imgtool/image.py
// Image.create / pad_to; shared/reference/boot-formats.md §4.1-§4.3, signatures.md §1): header,
// body, protected TLVs ({0x6908, tot} + SEC_CNT when a security counter is given), unprotected
// TLVs ({0x6907, tot} + SHA256, KEYHASH, ECDSA_SIG (P-256, DER) or ED25519), and with `pad` the
// slot padded with 0xFF up to a trailer holding the magic (and image_ok with `confirm`).
// Ed25519 signs the 32-byte SHA-256 (imgtool keys/ed25519.py sign_digest), deterministically:
// the bytes equal imgtool's. ECDSA signs the hashed region with a random nonce. The formats come
// from src/targets/mcuboot/ (no second copy); node:crypto signs.

import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { IMAGE_HEADER_SIZE, IMAGE_MAGIC } from "../src/targets/mcuboot/image-header.ts";
import { IMAGE_TLV_INFO_MAGIC, IMAGE_TLV_PROT_INFO_MAGIC, TLV, TLV_HEADER_SIZE, TLV_INFO_SIZE } from "../src/targets/mcuboot/tlv.ts";
import { BOOT_FLAG_SET, bootMagic, trailerLayout } from "../src/targets/mcuboot/trailer.ts";
import { concatBytes, writeU16LE, writeU32LE } from "../src/util/bytes.ts";

/** imgtool DEFAULT_MAX_SECTORS: the status area it reserves when it checks that an image fits. */
export const IMGTOOL_DEFAULT_MAX_SECTORS = 128;

export interface McubootBuildOptions {
  /** The body. Without `padHeader` its first `headerSize` bytes are the header room (imgtool
   * needs them present; they are kept as given after the 32-byte header). */
  payload: Uint8Array;
  /** ih_hdr_size (imgtool -H). Default 0x20. */
  headerSize?: number;
  /** imgtool --pad-header: prepend `headerSize` bytes of 0xFF instead of using the payload's. */
  padHeader?: boolean;
  /** "major.minor.revision+build" (imgtool -v). */
  version: string;
  /** PEM private key (Ed25519 or ECDSA P-256) or a KeyObject; none: an unsigned image (SHA256 only). */
  key?: string | KeyObject;
  /** imgtool --security-counter: a protected SEC_CNT TLV. */
  securityCounter?: number;
  /** imgtool -S (slot size). Required with `pad`/`confirm`; checked for fit. */
  slotSize?: number;
  /** imgtool --pad: fill the slot and write the trailer magic. */
  pad?: boolean;
  /** imgtool --confirm (implies pad): image_ok = 0x01 in the trailer. */
  confirm?: boolean;
  /** imgtool --align: flash write alignment (1, 2, 4, 8, 16, 32). Default 1. */
  align?: number;
  /** imgtool --max-align (BOOT_MAX_ALIGN). Default 8. */
  maxAlign?: number;
  /** ih_load_addr. Default 0. */
  loadAddr?: number;
  /** imgtool --max-sectors. Default 128. */
  maxSectors?: number;
}

function parseVersion(v: string): [number, number, number, number] {
  const [main, build = "0"] = v.split("+");
  const parts = main.split(".");
  while (parts.length < 3) parts.push("0");
  const nums = [...parts.slice(0, 3), build].map((x) => Number(x));
  if (parts.length > 3 || nums.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`bad version ${v}: expected major.minor.revision+build`);
  const [ma, mi, rev, bn] = nums;
  if (ma > 0xff || mi > 0xff || rev > 0xffff || bn > 0xffffffff) throw new Error(`version ${v} out of range`);
  return [ma, mi, rev, bn];
}

function tlv(type: number, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(TLV_HEADER_SIZE + value.length);
  writeU16LE(b, 0, type);
  writeU16LE(b, 2, value.length);
  b.set(value, TLV_HEADER_SIZE);
  return b;
}

function area(magic: number, tlvs: Uint8Array[]): Uint8Array {
  const body = concatBytes(...tlvs);
  const info = new Uint8Array(TLV_INFO_SIZE);
  writeU16LE(info, 0, magic);
  writeU16LE(info, 2, TLV_INFO_SIZE + body.length);
  return concatBytes(info, body);
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());

/** An MCUboot image as `imgtool sign` makes it. */
export function buildMcubootImage(o: McubootBuildOptions): Uint8Array {
  const headerSize = o.headerSize ?? IMAGE_HEADER_SIZE;
  if (headerSize < IMAGE_HEADER_SIZE || headerSize > 0xffff) throw new Error(`header size ${headerSize} outside ${IMAGE_HEADER_SIZE}..0xffff`);
  let body: Uint8Array;
  if (o.padHeader) body = concatBytes(new Uint8Array(headerSize).fill(0xff), o.payload);
  else {
    if (o.payload.length < headerSize) throw new Error(`payload of ${o.payload.length} bytes has no room for a 0x${headerSize.toString(16)}-byte header (use padHeader)`);
    for (let i = 0; i < IMAGE_HEADER_SIZE; i++) {
      if (o.payload[i] !== 0) throw new Error("the payload's header room is not zero (imgtool refuses it; use padHeader)");
    }
    body = o.payload.slice();
  }
  const imgSize = body.length - headerSize;

  const prot: Uint8Array[] = [];
  if (o.securityCounter !== undefined) {
    const c = new Uint8Array(4);
    writeU32LE(c, 0, o.securityCounter);
    prot.push(tlv(TLV.SEC_CNT, c));
  }
  const protArea = prot.length ? area(IMAGE_TLV_PROT_INFO_MAGIC, prot) : new Uint8Array(0);

  const [ma, mi, rev, bn] = parseVersion(o.version);
  const h = body.subarray(0, IMAGE_HEADER_SIZE);
  writeU32LE(h, 0, IMAGE_MAGIC);
  writeU32LE(h, 4, o.loadAddr ?? 0);
  writeU16LE(h, 8, headerSize);
  writeU16LE(h, 10, protArea.length);
  writeU32LE(h, 12, imgSize);
  writeU32LE(h, 16, 0);
  h[20] = ma;
  h[21] = mi;
  writeU16LE(h, 22, rev);
  writeU32LE(h, 24, bn);
  writeU32LE(h, 28, 0);

  const hashed = concatBytes(body, protArea);
  const digest = sha256(hashed);
  const tlvs = [tlv(TLV.SHA256, digest)];
  if (o.key !== undefined) {
    const priv = typeof o.key === "string" ? createPrivateKey(o.key) : o.key;
    const spki = new Uint8Array(createPublicKey(priv).export({ type: "spki", format: "der" }));
    tlvs.push(tlv(TLV.KEYHASH, sha256(spki)));
    if (priv.asymmetricKeyType === "ed25519") tlvs.push(tlv(TLV.ED25519, new Uint8Array(sign(null, digest, priv))));
    else if (priv.asymmetricKeyType === "ec" && priv.asymmetricKeyDetails?.namedCurve === "prime256v1") {
      tlvs.push(tlv(TLV.ECDSA_SIG, new Uint8Array(sign("sha256", hashed, { key: priv, dsaEncoding: "der" }))));
    } else throw new Error(`unsupported key ${priv.asymmetricKeyType} ${priv.asymmetricKeyDetails?.namedCurve ?? ""}: Ed25519 or ECDSA P-256`);
  }
  const image = concatBytes(hashed, area(IMAGE_TLV_INFO_MAGIC, tlvs));

  const pad = o.pad || o.confirm;
  if (o.slotSize === undefined) {
    if (pad) throw new Error("--pad/--confirm need the slot size");
    return image;
  }
  const layout = trailerLayout(o.slotSize, {
    maxAlign: o.maxAlign ?? 8,
    writeAlign: o.align ?? 1,
    strategy: "swap-move",
    imageSectors: o.maxSectors ?? IMGTOOL_DEFAULT_MAX_SECTORS,
  });
  if (image.length > layout.statusOff) {
    throw new Error(`image of ${image.length} bytes does not fit the slot of 0x${o.slotSize.toString(16)} (trailer ${layout.trailerSize} bytes)`);
  }
  if (!pad) return image;
  const out = new Uint8Array(o.slotSize).fill(0xff);
  out.set(image);
  out.set(bootMagic(layout.maxAlign), layout.magicOff);
  if (o.confirm) out[layout.imageOkOff] = BOOT_FLAG_SET;
  return out;
}
