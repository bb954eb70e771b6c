// `import Curve from "curve"`. Written from shared/reference/moddable-sdk.md §5 and the SDK's
// modules/crypt/etc/curve.js (no SDK typings exist). Provided by
// $(MODULES)/crypt/tls_common.json. Only what xs-ota uses is declared.

declare module "curve" {
  import type ECPoint from "ecp";

  /** The curve arithmetic object (modules/crypt/arith/ec.js): y² = x³ + a·x + b over GF(m);
   * its add/mul/mul2 are natives (ec.c) and not declared here. */
  export interface CurveArithmetic {
    readonly a: bigint;
    readonly b: bigint;
    /** The field prime p. */
    readonly m: bigint;
  }

  export default class Curve {
    /** "secp256r1" (P-256) or "secp384r1" (P-384). For another name the constructor returns an
     * object without G, ec and n (it does not throw). */
    constructor(name: "secp256r1" | "secp384r1");
    /** The base point. */
    readonly G: ECPoint;
    readonly ec: CurveArithmetic;
    /** The group order. */
    readonly n: bigint;
    /** Bytes of n: 32 for P-256, 48 for P-384. */
    readonly orderSize: number;
  }
}
