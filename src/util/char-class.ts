// Character classes ("A-Za-z0-9_.-") checked by hand instead of with a RegExp: a module-level
// RegExp in a preloaded module lives in flash and crashed a Moddable release build inside
// RegExp.prototype.exec (issue 9 §6), and a loop over char codes is cheaper in XS anyway.
// ASCII only: XS counts string length in code points, ASCII is the same on every engine.

export interface CharClass {
  /** The class as written, in brackets, for messages: "[A-Za-z0-9_.-]". */
  readonly source: string;
  /** True when `s` is not empty and every character of it is in the class (like /^[...]+$/). */
  test(s: string): boolean;
}

/**
 * A class from a bracket-expression body: single characters and ranges "a-z"; a "-" that is first
 * or last is literal. Parsed when called (at module load it only builds frozen arrays).
 */
export function charClass(spec: string): CharClass {
  const lows: number[] = [];
  const highs: number[] = [];
  for (let i = 0; i < spec.length; i++) {
    const low = spec.charCodeAt(i);
    if (spec[i + 1] === "-" && i + 2 < spec.length) {
      const high = spec.charCodeAt(i + 2);
      if (high < low) throw new RangeError(`character class ${spec}: range out of order`);
      lows.push(low);
      highs.push(high);
      i += 2;
    } else {
      lows.push(low);
      highs.push(low);
    }
  }
  Object.freeze(lows);
  Object.freeze(highs);
  const has = (c: number): boolean => {
    for (let j = 0; j < lows.length; j++) if (c >= lows[j] && c <= highs[j]) return true;
    return false;
  };
  return Object.freeze({
    source: `[${spec}]`,
    test(s: string): boolean {
      if (s.length === 0) return false;
      for (let i = 0; i < s.length; i++) if (!has(s.charCodeAt(i))) return false;
      return true;
    },
  });
}
