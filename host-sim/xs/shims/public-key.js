// host-sim XS shims: public-key crypto. Shares the scope of core.js (see there).
//
// The Moddable modules the platform's SignaturePort uses (src/platform/moddable/signatures.ts),
// with the SDK's semantics; the arithmetic the device does natively (ec.c, modular.c) is done by
// the host (host-sim/ecdsa-verify.ts moddableEcdsaVerify, BigInt modular exponentiation). Only
// the API surface the port uses is here:
//   "ecp"    default ECPoint: new ECPoint(x, y, identity?), X, Y, isZero(); no curve check
//   "curve"  default Curve: new Curve("secp256r1" | "secp384r1"): G, ec {a, b, m}, n, orderSize;
//            another name gives an object without them (curve.js returns early)
//   "ecdsa"  default ECDSA: new ECDSA(publicPoint, curve), verify(H, sig) over the digest H (an
//            ArrayBuffer, used whole: no truncation), sig = r ‖ s of orderSize bytes each.
//            As in the SDK, r and s are NOT range-checked: s >= n acts as s mod n, and s = 0
//            (which loops forever on the device) makes the host throw. verify(H, sig, true)
//            (DER) is not provided.
//   "rsa"    default RSA: new RSA(e, m), process(c) = c^e mod m (c >= m acts as c mod m), modulusSize
// BigInts cross the bridge as hex strings in JSON.

function bigHex(v) {
  if (typeof v !== "bigint" || v < 0n) throw new TypeError("not a non-negative BigInt");
  return v.toString(16);
}
const bigOfBytes = (bytes) => (bytes.byteLength ? BigInt("0x" + bytes.toHex()) : 0n);
const bitLength = (v) => (v === 0n ? 0 : v.toString(2).length);

class ECPoint {
  constructor(x, y, identity = false) {
    this.x = x;
    this.y = y;
    this.z = identity ? 0n : 1n;
  }
  get X() {
    return this.x;
  }
  get Y() {
    return this.y;
  }
  isZero() {
    return this.z === 0n;
  }
}
Object.freeze(ECPoint.prototype);

const curveNames = new WeakMap();
// curve.js holds the parameters as BigInt literals; here the host serves them (ecdsa-verify.ts).
const curveParams = native((name) => callJSON(OP.EC_CURVE, name));

class Curve {
  constructor(name) {
    const p = curveParams(String(name));
    if (!p) return;
    this.G = new ECPoint(BigInt("0x" + p.gx), BigInt("0x" + p.gy));
    this.ec = Object.freeze({ a: BigInt("0x" + p.a), b: BigInt("0x" + p.b), m: BigInt("0x" + p.m) });
    this.n = BigInt("0x" + p.n);
    curveNames.set(this, p.id);
  }
  get orderSize() {
    return (bitLength(this.n) + 7) >>> 3;
  }
}

const ecdsaState = new WeakMap();

class ECDSA {
  constructor(key, curve) {
    const id = curveNames.get(curve);
    if (id === undefined) throw new TypeError("host-sim: ECDSA needs a Curve from the curve module");
    ecdsaState.set(this, { key, id, orderSize: curve.orderSize });
  }
  verify(H, sig, asn1) {
    if (asn1) throw new Error("host-sim: ECDSA DER signatures (asn1) are not provided");
    const st = ecdsaState.get(this);
    const l = st.orderSize;
    const bytes = bytesOf(sig);
    const r = bigOfBytes(bytes.subarray(0, l));
    const s = bigOfBytes(bytes.subarray(l, 2 * l));
    return callJSON(OP.ECDSA_VERIFY, {
      curve: st.id,
      x: bigHex(st.key.X),
      y: bigHex(st.key.Y),
      e: bigHex(bigOfBytes(bytesOf(H))),
      r: bigHex(r),
      s: bigHex(s),
    });
  }
}
nativeMethods(ECDSA.prototype, ["verify"]);

class RSA {
  constructor(e, m) {
    this.e = e;
    this.m = m;
    this.orderSize = (bitLength(m) + 7) >>> 3;
  }
  process(c) {
    return BigInt("0x" + callJSON(OP.RSA_PROCESS, { e: bigHex(this.e), m: bigHex(this.m), c: bigHex(c) }));
  }
  get modulusSize() {
    return this.orderSize;
  }
}
nativeMethods(RSA.prototype, ["process"]);

define("ecp", { default: ECPoint });
define("curve", { default: Curve });
define("ecdsa", { default: ECDSA });
define("rsa", { default: RSA });
