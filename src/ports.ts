// The small interfaces the runtime needs from a platform. src/ reaches flash, storage, network,
// time, digests and the reset line only through these; host-sim and src/platform/moddable
// implement them. Everything here is plain ECMAScript: no Node types, no Buffer.

/** One erase sector of a partition: [offset, offset + size) relative to the partition start. */
export interface Sector {
  offset: number;
  size: number;
}

/** Geometry of a flash partition as the NOR part sees it. */
export interface FlashGeometry {
  /** Partition size in bytes. */
  size: number;
  /** Erase sectors covering [0, size) in ascending order, without gaps (non-uniform maps allowed). */
  sectors: readonly Sector[];
  /** Every write must start at a multiple of this and have a length that is a multiple of it. */
  writeAlign: number;
  /** Value of an erased byte: 0xFF on NOR, 0x00 on some parts. */
  erasedValue: number;
  /** A programmed write unit cannot be programmed again before an erase, not even with the same
   * bytes (ECC double-words of STM32L4/G4/H7 flash). Absent: plain NOR, where programming bytes
   * again with the same value is allowed. */
  writeOnce?: boolean;
}

/** A flash partition. Offsets are relative to the partition start. Operations are synchronous,
 * like Moddable's flash modules; a failure throws. */
export interface FlashPartition {
  readonly label: string;
  readonly geometry: FlashGeometry;
  read(offset: number, length: number): Uint8Array;
  /** Programs bytes; the range must be aligned and (on NOR) erased where bits go 0 -> 1. */
  write(offset: number, data: Uint8Array): void;
  /** Erases whole sectors covering [offset, offset + length); offset and length on sector bounds. */
  erase(offset: number, length: number): void;
}

/** Partition types and subtypes as the ESP-IDF partition table names them. */
export interface PartitionInfo {
  label: string;
  type: number;
  subtype: number;
  /** Absolute flash address. */
  address: number;
  size: number;
}

export interface PartitionPort {
  /** Every partition the platform knows, in table order. */
  list(): PartitionInfo[];
  /** Opens a partition by label. Throws if it does not exist. */
  open(label: string): FlashPartition;
  /** Label of the app partition the running image was booted from (e.g. "ota_0"). */
  running(): string;
}

/** A small key-value store (Moddable `preference`, NVS). Values are bytes. */
export interface KeyValuePort {
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
  delete(key: string): void;
}

export type HttpHeaders = Record<string, string>;

export interface HttpRequest {
  url: string;
  method?: "GET" | "HEAD" | "POST";
  /** Header names are lower-case. */
  headers?: HttpHeaders;
  body?: Uint8Array;
}

/** Callbacks of one streaming exchange, called in this order: response once, data zero or more
 * times, then exactly one of end or error. Nothing is called after abort(). */
export interface HttpHandlers {
  /** Status line and headers (names lower-case). */
  response(status: number, headers: HttpHeaders): void;
  /** A body chunk. The chunk may be reused by the platform after the call returns. */
  data(chunk: Uint8Array): void;
  /** The body ended as the server framed it. */
  end(): void;
  /** The exchange failed (connection lost, DNS, TLS...). */
  error(reason: string): void;
}

export interface HttpExchange {
  abort(): void;
}

export interface HttpPort {
  request(request: HttpRequest, handlers: HttpHandlers): HttpExchange;
}

export interface TimerHandle {
  readonly id: unknown;
}

export interface ClockPort {
  /** Milliseconds, monotonic within one boot. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Uniform in [0, 1). Platforms may seed it for reproducible runs. */
  random(): number;
}

export type DigestAlgorithm = "md5" | "sha256" | "crc32";

/** A streaming digest. CRC32 results are 4 bytes, big-endian (the usual hex order). */
export interface Digest {
  update(data: Uint8Array): void;
  /** Returns the digest and resets the object for reuse. */
  finish(): Uint8Array;
}

export interface DigestPort {
  create(algorithm: DigestAlgorithm): Digest;
  /** Algorithms this platform computes in JavaScript, having no native implementation (Moddable:
   * crc32). The runtime does not stream an image through such a digest when a native SHA-256
   * covers the same bytes (see ImageDigests). Default: none. */
  readonly scripted?: readonly DigestAlgorithm[];
}

export interface SystemPort {
  /** Resets the chip. On devices it does not return. */
  restart(): void;
  /** Battery charge in percent, or undefined when the board has no gauge. */
  batteryPercent(): number | undefined;
  /** Received signal strength in dBm, or undefined when not connected. */
  rssi(): number | undefined;
}

export interface LogPort {
  log(level: "debug" | "info" | "warn" | "error", message: string): void;
}

/** The chip the firmware runs on, as the ESP-IDF image header names chips (esp_chip_id_t) and
 * revisions (efuse_hal_chip_revision(): major * 100 + minor). */
export interface ChipInfo {
  /** Human name, e.g. "esp32" (logs only). */
  name?: string;
  /** esp_chip_id_t: ESP32 0x0000, ESP32-S3 0x0009... (src/targets/esp-idf/esp-chip.ts). */
  id: number;
  /** Chip revision, major * 100 + minor (v3.1 is 301). Undefined: unknown, not checked. */
  revisionFull?: number;
  /** Secure Boot V2 public key digests burnt in eFuse (KEY_DIGEST0..2), 64 hex digits each, as
   * `espsecure digest-sbv2-public-key` prints them. Set: the ESP-IDF target installs only images
   * with a signature block that verifies with one of these keys (src/targets/esp-idf/). */
  secureBootKeyDigests?: readonly string[];
}

/** Everything a platform gives the runtime. */
export interface Platform {
  /** The chip this board is. Images built for another chip, or whose revision range excludes
   * this revision, are refused. Unset: the chip id of the running image is taken (the bootloader
   * booted it, so it names this chip) and the revision is not checked. */
  chip?: ChipInfo;
  partitions: PartitionPort;
  kv: KeyValuePort;
  http: HttpPort;
  clock: ClockPort;
  digests: DigestPort;
  system: SystemPort;
  log?: LogPort;
  /** Signature primitives for signed images (optional until a boot target needs them). */
  signatures?: SignaturePort;
}

/** An MQTT client connection (Moddable `mqtt`, or a host client). Payloads are bytes. */
export interface MqttPort {
  publish(topic: string, payload: Uint8Array): void;
  subscribe(topic: string): void;
  /** Called for every message on a subscribed topic. */
  onMessage(handler: (topic: string, payload: Uint8Array) => void): void;
}

/** Curves of SignaturePort.ecdsaVerify: NIST P-256 (secp256r1) and P-384 (secp384r1). */
export type EcdsaCurve = "p256" | "p384";

/** Digests a SignaturePort may compute natively (Moddable `Digest("SHA384" | "SHA512")`). */
export type WideDigestAlgorithm = "sha384" | "sha512";

/**
 * The public-key primitives a platform provides natively: Moddable's `ecdsa` (with `ecp`/`curve`,
 * native big-number arithmetic) and `rsa` modules (shared/reference/moddable-sdk.md §5,
 * signatures.md §3). Padding and encodings are not here: EMSA-PSS, DER and SubjectPublicKeyInfo
 * parsing and Ed25519 are portable TypeScript in src/crypto/. All integers are big-endian bytes.
 */
export interface SignaturePort {
  /**
   * ECDSA verification over a digest that is already computed (the `e` of FIPS 186-5 §6.4.2 is
   * taken from the digest's leftmost bits). `publicKey` is the uncompressed SEC1 point
   * 0x04 ‖ X ‖ Y (65 bytes for P-256, 97 for P-384); `r` and `s` are unsigned big-endian integers
   * of the curve's size. Returns false for a wrong signature, an r or s outside [1, n-1], or a
   * point that is not on the curve; never throws for bad input values.
   */
  ecdsaVerify(curve: EcdsaCurve, publicKey: Uint8Array, digest: Uint8Array, r: Uint8Array, s: Uint8Array): boolean;
  /**
   * The raw RSA public operation m = s^e mod n (RFC 8017 §5.2.2 RSAVP1): `modulus` n and
   * `signature` s as big-endian bytes, `exponent` e a small odd number (65537). Returns m as
   * big-endian bytes of exactly the modulus length. Throws RangeError when s >= n.
   */
  rsaPublic(modulus: Uint8Array, exponent: number, signature: Uint8Array): Uint8Array;
  /** A native SHA-384/SHA-512, or undefined (src/crypto/sha512.ts is the portable fallback). */
  createDigest?(algorithm: WideDigestAlgorithm): Digest | undefined;
}
