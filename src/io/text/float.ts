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

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const i32of32 = new Int32Array(f32.buffer);

// ---------------------------------------------------------------------- the 128-bit powers table

const kMinExp10 = -348;
const kMaxExp10 = 347;
/** Per power q: 128-bit truncated normalized mantissa of 10^q as four uint32 words, high first. */
let kPowers: Uint32Array | undefined;

function powers(): Uint32Array {
  if (kPowers !== undefined) return kPowers;
  const n = kMaxExp10 - kMinExp10 + 1;
  const t = new Uint32Array(n * 4);
  const mask32 = 0xffffffffn;
  for (let q = kMinExp10; q <= kMaxExp10; q++) {
    let m: bigint;
    if (q >= 0) {
      const v = 5n ** BigInt(q);
      const bits = v.toString(2).length;
      m = bits <= 128 ? v << BigInt(128 - bits) : v >> BigInt(bits - 128);
    } else {
      const d = 5n ** BigInt(-q);
      const bits = d.toString(2).length;
      m = (1n << BigInt(127 + bits)) / d;
    }
    const at = (q - kMinExp10) * 4;
    t[at] = Number((m >> 96n) & mask32);
    t[at + 1] = Number((m >> 64n) & mask32);
    t[at + 2] = Number((m >> 32n) & mask32);
    t[at + 3] = Number(m & mask32);
  }
  kPowers = t;
  return t;
}

// 64x64 -> 128-bit multiply on uint32 halves, in doubles (exact: every partial sum < 2^53).
// Results go to a Float64Array, not to module variables: a module variable holding a double
// above 2^31 is a heap number, so every write allocated (a profile showed more time in the GC
// than in the arithmetic).
const R = new Float64Array(6); // [p3, p2, p1, p0, mh, ml]

function mul32(x: number, y: number): void {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const ll = xl * yl;
  // `& 0xffff` on values below 2^34 keeps their low 16 bits (ToInt32 wraps modulo 2^32); `%` on
  // doubles is a call to fmod in V8 and dominated this function.
  const mid = xl * yh + xh * yl + (ll >>> 16);
  R[5] = (((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0;
  R[4] = xh * yh + Math.floor(mid / 65536);
}

function mul64(a1: number, a0: number, b1: number, b0: number): void {
  mul32(a0, b0);
  const w0 = R[5] as number;
  let w1 = R[4] as number;
  mul32(a0, b1);
  w1 += R[5] as number;
  let w2 = R[4] as number;
  mul32(a1, b0);
  w1 += R[5] as number;
  w2 += R[4] as number;
  mul32(a1, b1);
  w2 += R[5] as number;
  let w3 = R[4] as number;
  let c = Math.floor(w1 / 4294967296);
  R[2] = w1 - c * 4294967296;
  w2 += c;
  c = Math.floor(w2 / 4294967296);
  R[1] = w2 - c * 4294967296;
  w3 += c;
  R[0] = w3;
  R[3] = w0;
}

function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/**
 * Eisel-Lemire: the double nearest to man * 10^exp10 (man a uint64 as hi/lo halves), or NaN when
 * the algorithm cannot decide (then the caller falls back). Ported from Go's strconv.
 */
export function eiselLemire(manHi: number, manLo: number, exp10: number, neg: boolean): number {
  if (manHi === 0 && manLo === 0) return neg ? -0 : 0;
  if (exp10 < kMinExp10 || exp10 > kMaxExp10) return NaN;
  const t = powers();
  const at = (exp10 - kMinExp10) * 4;
  // Normalization.
  const clz = clz64(manHi, manLo);
  let m1: number;
  let m0: number;
  if (clz >= 32) {
    m1 = (manLo << (clz - 32)) >>> 0;
    m0 = 0;
  } else if (clz > 0) {
    m1 = ((manHi << clz) | (manLo >>> (32 - clz))) >>> 0;
    m0 = (manLo << clz) >>> 0;
  } else {
    m1 = manHi;
    m0 = manLo;
  }
  let retExp2 = ((217706 * exp10) >> 16) + 64 + 1023 - clz;
  // Multiplication by the high 64 bits of the power.
  mul64(m1, m0, t[at] as number, t[at + 1] as number);
  let xh1 = R[0] as number;
  let xh0 = R[1] as number;
  let xl1 = R[2] as number;
  let xl0 = R[3] as number;
  // Wider approximation: when the low bits are all ones, add the next 64 bits of the power.
  if ((xh0 & 0x1ff) === 0x1ff && addOverflows(xl1, xl0, m1, m0)) {
    mul64(m1, m0, t[at + 2] as number, t[at + 3] as number);
    const yh1 = R[0] as number;
    const yh0 = R[1] as number;
    const yl1 = R[2] as number;
    const yl0 = R[3] as number;
    // merged = (xh, xl + yh)
    let lo0 = xl0 + yh0;
    let c = lo0 >= 4294967296 ? 1 : 0;
    lo0 -= c * 4294967296;
    let lo1 = xl1 + yh1 + c;
    c = lo1 >= 4294967296 ? 1 : 0;
    lo1 -= c * 4294967296;
    let hi0 = xh0 + c;
    c = hi0 >= 4294967296 ? 1 : 0;
    hi0 -= c * 4294967296;
    const hi1 = xh1 + c;
    if (
      (hi0 & 0x1ff) === 0x1ff &&
      lo1 === 0xffffffff &&
      lo0 === 0xffffffff &&
      addOverflows(yl1, yl0, m1, m0)
    ) {
      return NaN;
    }
    xh1 = hi1;
    xh0 = hi0;
    xl1 = lo1;
    xl0 = lo0;
  }
  // Shift to 54 bits: R = xh >> (msb + 9). R has 54 bits, one more than a double holds, so keep
  // top = R >> 1 (53 bits, exact) and R's low bit apart.
  const msb = xh1 >>> 31;
  const s = msb + 9;
  // top = xh >> (s + 1): 22 or 21 bits of xh1 above 31 or 32 bits of xh0 (no Math.pow).
  const top = msb === 1 ? xh1 * 2097152 + (xh0 >>> 11) : xh1 * 4194304 + (xh0 >>> 10);
  const low = (xh0 >>> s) & 1;
  retExp2 -= 1 ^ msb;
  // Half-way ambiguity: R & 3 === 1 with nothing below.
  if (xl1 === 0 && xl0 === 0 && (xh0 & 0x1ff) === 0 && ((xh0 >>> (s + 1)) & 1) === 0 && low === 1)
    return NaN;
  // From 54 to 53 bits (round half up; exact ties were refused above).
  let retMantissa = top + low;
  if (retMantissa >= 2 ** 53) {
    retMantissa /= 2;
    retExp2 += 1;
  }
  if (retExp2 - 1 >= 0x7ff - 1 || retExp2 - 1 < 0) return NaN;
  // retMantissa in [2^52, 2^53): value = retMantissa * 2^(retExp2 - 1075), exact.
  const v = retMantissa * pow2(retExp2 - 1075);
  return neg ? -v : v;
}

function addOverflows(a1: number, a0: number, b1: number, b0: number): boolean {
  const lo = a0 + b0;
  const hi = a1 + b1 + (lo >= 4294967296 ? 1 : 0);
  return hi >= 4294967296;
}

/** 2^e for e in [-1074, 1023], from a table (Math.pow showed up in profiles). */
const kPow2 = Float64Array.from({ length: 1023 + 1074 + 1 }, (_, i) => {
  const e = i - 1074;
  return e < -1000 ? 2 ** (e + 600) * 2 ** -600 : 2 ** e;
});

function pow2(e: number): number {
  return kPow2[e + 1074] as number;
}

// ---------------------------------------------------------------------- scanning

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

// ---------------------------------------------------------------------- float32

const kF32Max = 3.4028234663852886e38;

/**
 * The correctly rounded float32 of a decimal, given `d`, the correctly rounded double of the
 * same decimal in `buf[start, end)`.
 */
export function toF32(d: number, buf: Uint8Array, start: number, end: number): number {
  f64[0] = d;
  // A float32 midpoint has at most 25 significant bits: the low 28 mantissa bits are zero.
  if (((u32[0] as number) & 0x0fffffff) !== 0) return Math.fround(d);
  const r = Math.fround(d);
  if (r === d || d !== d) return r;
  // The float32 neighbour of r on d's side, and the midpoint between them.
  let other: number;
  const ad = Math.abs(d);
  if (Math.abs(r) === Infinity) {
    other = d > 0 ? kF32Max : -kF32Max;
  } else {
    f32[0] = r;
    const bits = i32of32[0] as number;
    // Moving away from zero is bits + 1 for either sign (sign-magnitude); towards zero bits - 1.
    const away = ad > Math.abs(r);
    if (r === 0) {
      f32[0] = d > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
    } else {
      i32of32[0] = away ? bits + 1 : bits - 1;
    }
    other = f32[0] as number;
  }
  const a = Math.abs(other) === Infinity ? Math.sign(other) * 2 ** 128 : other;
  const b = Math.abs(r) === Infinity ? Math.sign(r) * 2 ** 128 : r;
  const mid = (a + b) / 2;
  if (mid !== d) return r;
  const cmp = compareDecimal(buf, start, end, d);
  if (cmp === 0) return r; // an exact tie: fround already chose the even one
  const up = cmp > 0; // the decimal is above the midpoint
  const hiV = Math.max(r, other);
  const loV = Math.min(r, other);
  return up ? hiV : loV;
}

/** Sign of (decimal in buf[start, end)) - d, computed exactly. */
export function compareDecimal(buf: Uint8Array, start: number, end: number, d: number): number {
  let p = start;
  let neg = false;
  if (buf[p] === 45 || buf[p] === 43) {
    neg = buf[p] === 45;
    p++;
  }
  let digits = '';
  let e = 0;
  let afterPoint = false;
  for (; p < end; p++) {
    const c = buf[p] as number;
    if (c === 46) {
      afterPoint = true;
      continue;
    }
    if (c < 48 || c > 57) break;
    digits += String.fromCharCode(c);
    if (afterPoint) e--;
  }
  if (p < end) {
    p++;
    let eneg = false;
    if (buf[p] === 45 || buf[p] === 43) {
      eneg = buf[p] === 45;
      p++;
    }
    let x = 0;
    for (; p < end; p++) x = Math.min(x * 10 + ((buf[p] as number) - 48), 1e6);
    e += eneg ? -x : x;
  }
  // |decimal| = W * 10^e; |d| = M * 2^k.
  const W = BigInt(digits === '' ? '0' : digits);
  f64[0] = Math.abs(d);
  const expBits = ((u32[1] as number) >>> 20) & 0x7ff;
  let M = (BigInt((u32[1] as number) & 0xfffff) << 32n) | BigInt(u32[0] as number);
  let k: number;
  if (expBits === 0) k = -1074;
  else {
    M |= 1n << 52n;
    k = expBits - 1075;
  }
  let lhs = W;
  let rhs = M;
  if (e >= 0) lhs *= 10n ** BigInt(e);
  else rhs *= 10n ** BigInt(-e);
  if (k >= 0) rhs <<= BigInt(k);
  else lhs <<= BigInt(-k);
  const s = lhs > rhs ? 1 : lhs < rhs ? -1 : 0;
  return neg ? -s : s;
}
