// host-sim XS shims: preference. Shares the scope of core.js (see there).
//
// "preference" (modules/files/preference/preference.js, esp32/modPreference.c), static methods:
//   set(domain, key, value)   value: boolean (stored as u8), integer Number in int32 range,
//                             String, or an ArrayBuffer (exactly: a Uint8Array is
//                             "unsupported type"); a non-int32 Number is "float unsupported"
//   get(domain, key)          the stored value, or undefined
//   delete(domain, key)       no error when missing
//   keys(domain)              string[]
// Limits (CONFIG.preference): ESP32 NVS names are at most 15 characters: a longer domain makes
// set throw "nvs_open fail" and get return undefined; a longer key makes set throw
// "nvs set fail"; values above 4000 bytes make set throw "nvs set fail". The ESP8266/Pico/nRF52
// flavour (31 characters, 63 bytes) throws "too long".

const prefConfig = CONFIG.preference;

function prefNameOk(name) {
  return utf8(name).byteLength <= prefConfig.maxName;
}

function prefCheck(domain, key) {
  if (prefConfig.flavor === "esp32") {
    if (!prefNameOk(domain)) throw new Error("nvs_open fail");
    if (!prefNameOk(key)) throw new Error("nvs set fail");
  } else if (!prefNameOk(domain) || !prefNameOk(key)) throw new Error("too long");
}

function prefEncode(value) {
  let tag;
  let bytes;
  if (typeof value === "boolean") {
    tag = PREF.BOOLEAN;
    bytes = new Uint8Array([value ? 1 : 0]);
  } else if (typeof value === "number") {
    if (!Number.isInteger(value) || value > 0x7fffffff || value < -0x80000000) throw new Error("float unsupported");
    tag = PREF.INT32;
    bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setInt32(0, value, true);
  } else if (typeof value === "string") {
    tag = PREF.STRING;
    bytes = utf8(value);
  } else if (value instanceof ArrayBuffer) {
    tag = PREF.BUFFER;
    bytes = new Uint8Array(value);
  } else throw new Error("unsupported type");
  if (bytes.byteLength > prefConfig.maxValue) throw new Error(prefConfig.flavor === "esp32" ? "nvs set fail" : "too long");
  const out = new Uint8Array(1 + bytes.byteLength);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

function prefDecode(buffer) {
  const bytes = new Uint8Array(buffer);
  switch (bytes[0]) {
    case PREF.BOOLEAN:
      return bytes[1] !== 0;
    case PREF.INT32:
      return new DataView(buffer).getInt32(1, true);
    case PREF.STRING:
      return fromUtf8(bytes.subarray(1));
    case PREF.BUFFER:
      return buffer.slice(1);
    default:
      return undefined;
  }
}

class Preference {
  static set(domain, key, value) {
    domain = String(domain);
    key = String(key);
    prefCheck(domain, key);
    const json = utf8(JSON.stringify({ domain, key }));
    const encoded = prefEncode(value);
    const payload = new Uint8Array(json.byteLength + encoded.byteLength);
    payload.set(json, 0);
    payload.set(encoded, json.byteLength);
    call(OP.PREF_SET, json.byteLength, 0, 0, payload);
  }
  static get(domain, key) {
    domain = String(domain);
    key = String(key);
    if (!prefNameOk(domain) || !prefNameOk(key)) return undefined;
    return prefDecode(callJSON(OP.PREF_GET, { domain, key }));
  }
  static delete(domain, key) {
    domain = String(domain);
    key = String(key);
    if (!prefNameOk(domain) || !prefNameOk(key)) return;
    callJSON(OP.PREF_DELETE, { domain, key });
  }
  static keys(domain) {
    domain = String(domain);
    if (!prefNameOk(domain)) return [];
    return callJSON(OP.PREF_KEYS, { domain });
  }
}
nativeMethods(Preference, ["set", "get", "delete", "keys"]);
define("preference", { default: Preference });
