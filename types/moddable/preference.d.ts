// `import Preference from "preference"`: small persistent values (NVS on ESP32).
// Written from shared/reference/moddable-sdk.md §2. Manifest: $(MODULES)/files/preference/manifest.json
// (ESP32 builds include it automatically; Zephyr errors: use embedded:storage/key-value there).
//
// Runtime rules the types cannot express:
// - domain and key: at most 15 characters on ESP32 (NVS). A long domain makes set() throw
//   "nvs_open fail" and get() return undefined silently; a long key makes set() throw "nvs set fail".
// - numbers are stored as int32: a non-integer, or an integer outside the int32 range, throws
//   "float unsupported". Store offsets above 2^31 and millisecond timestamps as bytes or strings.
// - values are at most 4000 bytes on ESP32.
// - set() erases the key before writing it: a power cut in between loses the old value.

declare module "preference" {
  /** An int32 (documentation only: TypeScript cannot narrow number to int32). */
  export type PreferenceInt32 = number;
  /**
   * ArrayBuffer only: a Uint8Array (or any view) throws "unsupported type" at run time. The
   * ArrayBuffer type already rejects views at compile time (its toStringTag differs).
   */
  export type PreferenceValue = string | boolean | PreferenceInt32 | ArrayBuffer;

  export default class Preference {
    private constructor();
    static set(domain: string, key: string, value: PreferenceValue): void;
    /** undefined when the key (or the domain) does not exist. */
    static get(domain: string, key: string): PreferenceValue | undefined;
    /** No error when the key is missing. */
    static delete(domain: string, key: string): void;
    static keys(domain: string): string[];
  }
}
