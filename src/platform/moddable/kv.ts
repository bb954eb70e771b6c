// KeyValuePort on `preference` (moddable-sdk.md §2). Values are stored as ArrayBuffers: the
// native accepts an ArrayBuffer only (a Uint8Array throws "unsupported type"). ESP32 (NVS) limits:
// domain and key at most 15 characters, values at most 4000 bytes. Each set() erases the key
// before writing it, so a power cut can lose the old value: callers keep state in more than one
// key (see DESIGN.md, "Persisted state must survive a cut").

import Preference from "preference";
import type { KeyValuePort } from "../../ports.ts";
import { exactArrayBuffer } from "./flash-backend.ts";

export const DEFAULT_PREFERENCE_DOMAIN = "xsota";
/** NVS key and namespace names: at most 15 characters (NVS_KEY_NAME_MAX_SIZE - 1). */
export const PREFERENCE_NAME_MAX = 15;
/** Largest value the Moddable ESP32 preference module stores. */
export const PREFERENCE_VALUE_MAX = 4000;

function checkName(what: string, name: string): void {
  if (name.length === 0 || name.length > PREFERENCE_NAME_MAX) {
    throw new RangeError(`preference ${what} "${name}" must have 1..${PREFERENCE_NAME_MAX} characters`);
  }
}

export class PreferenceKeyValue implements KeyValuePort {
  readonly domain: string;

  constructor(domain: string = DEFAULT_PREFERENCE_DOMAIN) {
    checkName("domain", domain);
    this.domain = domain;
  }

  get(key: string): Uint8Array | undefined {
    checkName("key", key);
    const value = Preference.get(this.domain, key);
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    // Missing, or a string/number/boolean written by something else: not ours.
    return undefined;
  }

  set(key: string, value: Uint8Array): void {
    checkName("key", key);
    if (value.byteLength > PREFERENCE_VALUE_MAX) {
      throw new RangeError(`preference value for "${key}" is ${value.byteLength} bytes; the limit is ${PREFERENCE_VALUE_MAX}`);
    }
    Preference.set(this.domain, key, exactArrayBuffer(value));
  }

  delete(key: string): void {
    checkName("key", key);
    Preference.delete(this.domain, key);
  }

  /** Keys of the domain (not part of KeyValuePort). */
  keys(): string[] {
    return Preference.keys(this.domain);
  }
}
