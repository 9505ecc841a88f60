/**
 * Decimal text to binary floating point, exactly rounded (round-to-nearest-even, like strtod),
 * straight from bytes: no JS string is made for any input of up to 19 significant digits.
 *
 * - Fast path (Clinger): a mantissa of at most 15 digits is exact in a double, and so is 10^e
 *   for |e| <= 22, so one IEEE multiply or divide gives the correctly rounded result.
 * - Eisel-Lemire (as in Go's strconv and fast_float): up to 19 digits in a 64-bit mantissa times
 *   a 128-bit truncated power of ten, with the rare ambiguous cases detected and refused. The
 *   64x64-bit products are done on 16-bit limbs in doubles.
 * - More than 19 digits: the result for the truncated mantissa w and for w + 1 are both computed;
 *   when they agree, that is the answer (fast_float's trick).
 * - Anything still undecided (Eisel-Lemire refused, the two truncations disagree, subnormal or
 *   overflowing results): V8's own correctly rounded `Number()` on the field's text. This is rare
 *   (inputs near a rounding boundary or outside the normal range) and is the only place a string
 *   is made.
 *
 * float32: `Math.fround` of the correctly rounded double is NOT always the correctly rounded
 * float32 of the decimal (double rounding): it fails when the double lands exactly on a float32
 * midpoint while the decimal was slightly above or below it. Such a double has at most 25
 * significant bits, so it is recognised with one bit test; in that case (probability about 2^-29
 * for arbitrary input, or inputs that are exact midpoints) the decimal is compared with the
 * midpoint exactly, in BigInt arithmetic, and the float32 is chosen accordingly.
 */

import { eiselLemire } from './eisel-lemire.js';

export { eiselLemire } from './eisel-lemire.js';
export { toF32, compareDecimal } from './float32.js';

/** Where the last parse stopped (the byte after the number). */
export let floatEnd = 0;

const kPow10: Float64Array = (() => {
  const p = new Float64Array(23);
  let v = 1;
  for (let i = 0; i < 23; i++) {
    p[i] = v;
    v *= 10;
  }
  return p;
})();

/**
 * The double of a decimal whose digits were accumulated while scanning: `w` holds the first 15
 * significant digits (exact), `w2` the next `k2` (at most 4), `nd` counts significant digits,
 * `trunc` says a nonzero digit beyond the 19th was dropped, and the value is
 * (w * 10^k2 + w2) * 10^e. `buf[start, end)` is the text, for the rare fallback.
 */
export function f64FromParts(
  w: number,
  w2: number,
  k2: number,
  nd: number,
  e: number,
  trunc: boolean,
  neg: boolean,
  buf: Uint8Array,
  start: number,
  end: number,
): number {
  if (nd === 0) return neg ? -0 : 0;
  if (nd <= 15) {
    if (e >= 0) {
      if (e <= 22) {
        const v = w * (kPow10[e] as number);
        return neg ? -v : v;
      }
      // w * 10^(e-22) stays an exact integer below 2^53: still one rounding.
      if (e <= 22 + 15 - nd) {
        const v = w * (kPow10[e - 22] as number) * 1e22;
        return neg ? -v : v;
      }
    } else if (e >= -22) {
      const v = w / (kPow10[-e] as number);
      return neg ? -v : v;
    }
  }
  // Obvious overflow / underflow, without building anything.
  if (nd + e > 310) return neg ? -Infinity : Infinity;
  if (nd + e < -330) return neg ? -0 : 0;
  let hi = Math.floor(w / 4294967296);
  let lo = w - hi * 4294967296;
  if (k2 > 0) {
    const scale = kPow10[k2] as number;
    const l = lo * scale + w2;
    const carry = Math.floor(l / 4294967296);
    lo = l - carry * 4294967296;
    hi = hi * scale + carry;
  }
  const v = eiselLemire(hi, lo, e, neg);
  if (!Number.isNaN(v)) {
    if (!trunc) return v;
    // w + 1 (no overflow: 19 digits < 2^64 - 1).
    let lo1 = lo + 1;
    let hi1 = hi;
    if (lo1 === 4294967296) {
      lo1 = 0;
      hi1++;
    }
    if (eiselLemire(hi1, lo1, e, neg) === v) return v;
  }
  return Number(latin1(buf, start, end));
}

/** Parses the float at `p`; returns NaN with `floatEnd = -1` when it is not a decimal number. */
export function parseF64(buf: Uint8Array, p: number): number {
  const start = p;
  let c = buf[p] as number;
  let neg = false;
  if (c === 45) {
    neg = true;
    c = buf[++p] as number;
  } else if (c === 43) {
    c = buf[++p] as number;
  }
  let w = 0;
  let w2 = 0;
  let k2 = 0;
  let nd = 0; // significant digits seen
  let digits = 0; // all mantissa digits
  let e = 0;
  let trunc = false;
  let d: number;
  while ((d = c - 48) >= 0 && d <= 9) {
    if (nd < 15) {
      w = w * 10 + d;
      if (w !== 0) nd++;
    } else if (nd < 19) {
      w2 = w2 * 10 + d;
      k2++;
      nd++;
    } else {
      if (d !== 0) trunc = true;
      e++;
    }
    digits++;
    c = buf[++p] as number;
  }
  if (c === 46) {
    c = buf[++p] as number;
    while ((d = c - 48) >= 0 && d <= 9) {
      if (nd < 15) {
        w = w * 10 + d;
        if (w !== 0) nd++;
        e--;
      } else if (nd < 19) {
        w2 = w2 * 10 + d;
        k2++;
        nd++;
        e--;
      } else if (d !== 0) trunc = true;
      digits++;
      c = buf[++p] as number;
    }
  }
  if (digits === 0) {
    floatEnd = -1;
    return NaN;
  }
  if (c === 101 || c === 69) {
    c = buf[++p] as number;
    let eneg = false;
    if (c === 45) {
      eneg = true;
      c = buf[++p] as number;
    } else if (c === 43) {
      c = buf[++p] as number;
    }
    let x = 0;
    let ed = 0;
    while ((d = c - 48) >= 0 && d <= 9) {
      if (x < 100000) x = x * 10 + d;
      ed++;
      c = buf[++p] as number;
    }
    if (ed === 0) {
      floatEnd = -1;
      return NaN;
    }
    e += eneg ? -x : x;
  }
  floatEnd = p;
  return f64FromParts(w, w2, k2, nd, e, trunc, neg, buf, start, p);
}

/**
 * The correctly rounded double of the decimal in `buf[start, end)` (already known to be
 * well-formed: sign, digits, optional point and exponent).
 */
export function slowF64(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  let neg = false;
  let c = buf[p] as number;
  if (c === 45 || c === 43) {
    neg = c === 45;
    p++;
  }
  // Mantissa: the first 19 significant digits, as w (the first 15, exact in a double) and w2
  // (the next 4 at most), combined into uint32 halves once. Per-digit 64-bit arithmetic on
  // halves cost about as much as Eisel-Lemire itself.
  let w = 0;
  let w2 = 0;
  let k2 = 0;
  let nd = 0;
  let e = 0;
  let truncated = false;
  let afterPoint = false;
  for (; p < end; p++) {
    c = buf[p] as number;
    if (c === 46) {
      afterPoint = true;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) break;
    if (nd === 0 && d === 0) {
      if (afterPoint) e--;
      continue;
    }
    if (nd < 15) {
      w = w * 10 + d;
      nd++;
      if (afterPoint) e--;
    } else if (nd < 19) {
      w2 = w2 * 10 + d;
      k2++;
      nd++;
      if (afterPoint) e--;
    } else {
      if (d !== 0) truncated = true;
      if (!afterPoint) e++;
    }
  }
  let hi = Math.floor(w / 4294967296);
  let lo = w - hi * 4294967296;
  if (k2 > 0) {
    const scale = kPow10[k2] as number;
    const l = lo * scale + w2;
    const carry = Math.floor(l / 4294967296);
    lo = l - carry * 4294967296;
    hi = hi * scale + carry;
  }
  if (p < end && ((buf[p] as number) | 0x20) === 101) {
    p++;
    let eneg = false;
    c = buf[p] as number;
    if (c === 45 || c === 43) {
      eneg = c === 45;
      p++;
    }
    let x = 0;
    for (; p < end; p++) {
      const d = (buf[p] as number) - 48;
      if (d < 0 || d > 9) break;
      if (x < 100000) x = x * 10 + d;
    }
    e += eneg ? -x : x;
  }
  if (nd === 0) return neg ? -0 : 0;
  // Obvious overflow / underflow, without building anything.
  if (nd + e > 310) return neg ? -Infinity : Infinity;
  if (nd + e < -330) return neg ? -0 : 0;
  const v = eiselLemire(hi, lo, e, neg);
  if (!Number.isNaN(v)) {
    if (!truncated) return v;
    // w + 1 (no overflow: 19 digits < 2^64 - 1).
    let lo1 = lo + 1;
    let hi1 = hi;
    if (lo1 === 4294967296) {
      lo1 = 0;
      hi1++;
    }
    const v1 = eiselLemire(hi1, lo1, e, neg);
    if (v1 === v) return v;
  }
  return Number(latin1(buf, start, end));
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i] as number);
  return s;
}

/**
 * nan, inf, infinity (any case, optional sign) in `buf[start, end)`; undefined when the text is
 * not one of them.
 */
export function parseSpecialFloat(buf: Uint8Array, start: number, end: number): number | undefined {
  let p = start;
  let neg = false;
  const c = buf[p];
  if (c === 45 || c === 43) {
    neg = c === 45;
    p++;
  }
  const n = end - p;
  if (n !== 3 && n !== 8) return undefined;
  let word = '';
  for (let i = p; i < end; i++) word += String.fromCharCode((buf[i] as number) | 0x20);
  if (word === 'nan') return NaN;
  if (word === 'inf' || word === 'infinity') return neg ? -Infinity : Infinity;
  return undefined;
}
