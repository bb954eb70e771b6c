// BigInt helpers for the portable public-key code (Ed25519, SBv2 RSA key fields). XS implements
// BigInt natively (ES2020), so these run on the device as they do in Node.

/** Unsigned big-endian bytes to a BigInt. */
export function bigFromBE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < b.length; i++) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** Unsigned little-endian bytes to a BigInt. */
export function bigFromLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** `n` (0 <= n < 256^length) as `length` big-endian bytes. Throws RangeError when it does not fit. */
export function bigToBE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = n;
  for (let i = length - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  if (v !== 0n || n < 0n) throw new RangeError(`integer does not fit in ${length} bytes`);
  return out;
}

/** `n` as `length` little-endian bytes. */
export function bigToLE(n: bigint, length: number): Uint8Array {
  return bigToBE(n, length).reverse();
}

/** b^e mod m for e >= 0, m > 1. */
export function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  let x = ((b % m) + m) % m;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % m;
    x = (x * x) % m;
  }
  return r;
}

/** The inverse of a modulo m (gcd(a, m) = 1), by the extended Euclidean algorithm. */
export function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError("not invertible");
  return ((s0 % m) + m) % m;
}
