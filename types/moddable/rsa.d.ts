// `import RSA from "rsa"`. Written from the SDK's modules/crypt/etc/rsa.js and modular.js (no SDK
// typings exist; shared/reference/moddable-sdk.md §5 lists the specifier). Provided by
// $(MODULES)/crypt/tls_common.json. Only the public operation is declared.

declare module "rsa" {
  export default class RSA {
    /** Public key: exponent `e` and modulus `m`. (With p and q and a large e it is a CRT private
     * key; xs-ota does not use that.) */
    constructor(e: bigint, m: bigint);
    /**
     * c^e mod m (modular.js exp, native xs_mod2_exp). c is NOT range-checked: c ≥ m acts as
     * c mod m. The caller checks c < m (RFC 8017 RSAVP1).
     */
    process(c: bigint): bigint;
    /** Bytes of m. */
    readonly modulusSize: number;
  }
}
