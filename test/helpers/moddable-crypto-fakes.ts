// Fakes of Moddable's `ecp`, `curve`, `ecdsa` and `rsa` modules for tests that bundle
// src/platform/moddable with esbuild (module sources keyed by specifier, like the FAKES of
// test/moddable-example.test.ts). They keep the SDK's semantics (types/moddable/*.d.ts, the SDK's
// modules/crypt sources): no range check of r and s, the whole digest as e, c >= m reduced by
// RSA process; the arithmetic is host-sim's (ecdsa-verify.ts moddableEcdsaVerify, bigint.ts).
// Every call that reaches the SDK's verify / process is logged in globalThis.__cryptoCalls.

import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ecdsaVerifyTs = JSON.stringify(path.join(root, "host-sim/ecdsa-verify.ts"));
const bigintTs = JSON.stringify(path.join(root, "src/crypto/bigint.ts"));

/** What the fakes logged: the SDK calls the code under test made. */
export interface CryptoCall {
  op: "ecdsa" | "rsa";
  values: bigint[];
}

export function cryptoCalls(): CryptoCall[] {
  const g = globalThis as { __cryptoCalls?: CryptoCall[] };
  g.__cryptoCalls ??= [];
  return g.__cryptoCalls;
}

const LOG = `const calls = () => (globalThis.__cryptoCalls ??= []);
const big = (buffer) => { if (!(buffer instanceof ArrayBuffer)) throw new TypeError("BigInt.fromArrayBuffer: not an ArrayBuffer"); const b = new Uint8Array(buffer); let n = 0n; for (const x of b) n = (n << 8n) | BigInt(x); return n; };`;

export const CRYPTO_FAKES: Record<string, string> = {
  ecp: `
    export default class ECPoint {
      constructor(x, y, identity = false) { this.x = x; this.y = y; this.z = identity ? 0n : 1n; }
      get X() { return this.x; }
      get Y() { return this.y; }
      isZero() { return this.z === 0n; }
    }`,
  curve: `
    import { moddableCurve } from ${ecdsaVerifyTs};
    import ECPoint from "ecp";
    export default class Curve {
      constructor(name) {
        const c = moddableCurve(name);
        if (!c) return;
        this.G = new ECPoint(c.gx, c.gy);
        this.ec = { a: c.a, b: c.b, m: c.m };
        this.n = c.n;
        this.id = c.id;
      }
      get orderSize() { return (this.n.toString(2).length + 7) >>> 3; }
    }`,
  ecdsa: `
    import { moddableEcdsaVerify } from ${ecdsaVerifyTs};
    ${LOG}
    export default class ECDSA {
      constructor(key, curve) { this.u = key; this.curve = curve; }
      verify(H, sig, asn1) {
        if (asn1) throw new Error("fake: asn1 not expected");
        const l = this.curve.orderSize;
        const e = big(H);
        const r = big(sig.slice(0, l));
        const s = big(sig.slice(l, 2 * l));
        calls().push({ op: "ecdsa", values: [e, r, s] });
        return moddableEcdsaVerify(this.curve.id, this.u.X, this.u.Y, e, r, s);
      }
    }`,
  rsa: `
    import { modPow } from ${bigintTs};
    ${LOG}
    export default class RSA {
      constructor(e, m) { if (typeof e !== "bigint" || typeof m !== "bigint") throw new TypeError("fake: BigInt expected"); this.e = e; this.m = m; }
      process(c) { calls().push({ op: "rsa", values: [c] }); return modPow(c, this.e, this.m); }
      get modulusSize() { return (this.m.toString(2).length + 7) >>> 3; }
    }`,
};
