// `import ECDSA from "ecdsa"`. Written from shared/reference/moddable-sdk.md §5 and the SDK's
// modules/crypt/etc/ecdsa.js (no SDK typings exist). Provided by
// $(MODULES)/crypt/tls_common.json. Only verification is declared (xs-ota never signs).

declare module "ecdsa" {
  import type Curve from "curve";
  import type ECPoint from "ecp";

  export default class ECDSA {
    /** `key` is the public point for verification. */
    constructor(key: ECPoint, curve: Curve, priv?: boolean);
    /**
     * Verifies `sig` over the digest `H` (an ArrayBuffer: it is read with BigInt.fromArrayBuffer).
     * `sig` is r ‖ s, each `curve.orderSize` big-endian bytes, or DER when `asn1` is true.
     *
     * Pitfalls (ecdsa.js `_verify`, modular.c): r and s are NOT range-checked (s ≥ n acts as
     * s mod n, so (r, s + n) verifies; s = 0 makes the native modular inverse loop forever); e is
     * the whole of H (no truncation to the order's bit length); the result compares R.x with r
     * without reducing R.x mod n. The caller must check 1 ≤ r, s ≤ n − 1 and truncate H.
     */
    verify(H: ArrayBuffer, sig: ArrayBuffer, asn1?: boolean): boolean;
  }
}
