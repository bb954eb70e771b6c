// Suffix array of a byte string by Larsson and Sadakane's qsufsort, as bsdiff 4.3 (Colin
// Percival, BSD-2-Clause) and detools (detools/suffix_array.c "divsufsort"/"sais" alternatives;
// qsufsort is bsdiff's own) build it for patch creation. Returns I with n + 1 entries: the
// suffix start offsets in lexicographic order, I[0] = n (the empty suffix). Memory: two Int32Array
// of n + 1 entries (8 bytes per input byte).

export function suffixArray(data: Uint8Array): Int32Array {
  const n = data.length;
  const I = new Int32Array(n + 1);
  const V = new Int32Array(n + 1);
  const buckets = new Int32Array(256);
  for (let i = 0; i < n; i++) buckets[data[i]]++;
  for (let i = 1; i < 256; i++) buckets[i] += buckets[i - 1];
  for (let i = 255; i > 0; i--) buckets[i] = buckets[i - 1];
  buckets[0] = 0;
  for (let i = 0; i < n; i++) I[++buckets[data[i]]] = i;
  I[0] = n;
  for (let i = 0; i < n; i++) V[i] = buckets[data[i]];
  V[n] = 0;
  for (let i = 1; i < 256; i++) if (buckets[i] === buckets[i - 1] + 1) I[buckets[i]] = -1;
  I[0] = -1;

  for (let h = 1; I[0] !== -(n + 1); h += h) {
    let len = 0;
    let i = 0;
    while (i < n + 1) {
      if (I[i] < 0) {
        len -= I[i];
        i -= I[i];
      } else {
        if (len) I[i - len] = -len;
        len = V[I[i]] + 1 - i;
        split(I, V, i, len, h);
        i += len;
        len = 0;
      }
    }
    if (len) I[i - len] = -len;
  }
  for (let i = 0; i < n + 1; i++) I[V[i]] = i;
  return I;
}

/** bsdiff's split(): a ternary quicksort of I[start, start + len) by V[I[k] + h]. The second
 * recursion is a loop, so the depth stays that of the smaller-key partitions. */
function split(I: Int32Array, V: Int32Array, start: number, len: number, h: number): void {
  for (;;) {
    if (len < 16) {
      for (let k = start; k < start + len; ) {
        let j = 1;
        let x = V[I[k] + h];
        for (let i = 1; k + i < start + len; i++) {
          const v = V[I[k + i] + h];
          if (v < x) {
            x = v;
            j = 0;
          }
          if (v === x) {
            const tmp = I[k + j];
            I[k + j] = I[k + i];
            I[k + i] = tmp;
            j++;
          }
        }
        for (let i = 0; i < j; i++) V[I[k + i]] = k + j - 1;
        if (j === 1) I[k] = -1;
        k += j;
      }
      return;
    }
    const x = V[I[start + (len >> 1)] + h];
    let jj = 0;
    let kk = 0;
    for (let i = start; i < start + len; i++) {
      const v = V[I[i] + h];
      if (v < x) jj++;
      if (v === x) kk++;
    }
    jj += start;
    kk += jj;
    let i = start;
    let j = 0;
    let k = 0;
    while (i < jj) {
      const v = V[I[i] + h];
      if (v < x) {
        i++;
      } else if (v === x) {
        const tmp = I[i];
        I[i] = I[jj + j];
        I[jj + j] = tmp;
        j++;
      } else {
        const tmp = I[i];
        I[i] = I[kk + k];
        I[kk + k] = tmp;
        k++;
      }
    }
    while (jj + j < kk) {
      if (V[I[jj + j] + h] === x) {
        j++;
      } else {
        const tmp = I[jj + j];
        I[jj + j] = I[kk + k];
        I[kk + k] = tmp;
        k++;
      }
    }
    if (jj > start) split(I, V, start, jj - start, h);
    for (let m = 0; m < kk - jj; m++) V[I[jj + m]] = kk - 1;
    if (jj === kk - 1) I[jj] = -1;
    if (start + len <= kk) return;
    len = start + len - kk;
    start = kk;
  }
}
