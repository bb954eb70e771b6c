// `import ECPoint from "ecp"`. Written from shared/reference/moddable-sdk.md §5 and the SDK's
// modules/crypt/arith/ecp.js (no SDK typings exist). Provided by $(MODULES)/crypt/tls_common.json
// (its "*": $(MODULES)/crypt/arith/* entry). Only what xs-ota uses is declared.

declare module "ecp" {
  /** An affine point with BigInt coordinates. The constructor does NOT check that the point is
   * on a curve, nor that the coordinates are below the field prime. */
  export default class ECPoint {
    /** `identity` true makes the point at infinity (z = 0). */
    constructor(x: bigint, y: bigint, identity?: boolean);
    readonly X: bigint;
    readonly Y: bigint;
    isZero(): boolean;
  }
}
