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
let p3 = 0;
let p2 = 0;
let p1 = 0;
let p0 = 0;
let mh = 0;
let ml = 0;

function mul32(x: number, y: number): void {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const ll = xl * yl;
  const mid = xl * yh + xh * yl + Math.floor(ll / 65536);
  ml = ((mid % 65536) * 65536 + (ll % 65536)) >>> 0;
  mh = xh * yh + Math.floor(mid / 65536);
}

function mul64(a1: number, a0: number, b1: number, b0: number): void {
  mul32(a0, b0);
  const w0 = ml;
  let w1 = mh;
  mul32(a0, b1);
  w1 += ml;
  let w2 = mh;
  mul32(a1, b0);
  w1 += ml;
  w2 += mh;
  mul32(a1, b1);
  w2 += ml;
  let w3 = mh;
  let c = Math.floor(w1 / 4294967296);
  p1 = w1 - c * 4294967296;
  w2 += c;
  c = Math.floor(w2 / 4294967296);
  p2 = w2 - c * 4294967296;
  w3 += c;
  p3 = w3;
  p0 = w0;
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
  let xh1 = p3;
  let xh0 = p2;
  let xl1 = p1;
  let xl0 = p0;
  // Wider approximation: when the low bits are all ones, add the next 64 bits of the power.
  if ((xh0 & 0x1ff) === 0x1ff && addOverflows(xl1, xl0, m1, m0)) {
    mul64(m1, m0, t[at + 2] as number, t[at + 3] as number);
    const yh1 = p3;
    const yh0 = p2;
    const yl1 = p1;
    const yl0 = p0;
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
  const top = xh1 * 2 ** (31 - s) + Math.floor(xh0 / 2 ** (s + 1));
  const low = (xh0 >>> s) & 1;
  retExp2 -= 1 ^ msb;
  // Half-way ambiguity: R & 3 === 1 with nothing below.
  if (xl1 === 0 && xl0 === 0 && (xh0 & 0x1ff) === 0 && top % 2 === 0 && low === 1) return NaN;
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

function pow2(e: number): number {
  // Exact for e in [-1074, 1023]; split so the intermediate never under/overflows.
  if (e < -1000) return 2 ** (e + 600) * 2 ** -600;
  return 2 ** e;
}

// ---------------------------------------------------------------------- scanning

/** Parses the float at `p` (fast path); returns NaN with `floatEnd = -1` when the slow path is needed. */
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
  let nd = 0; // significant digits seen
  let digits = 0; // all mantissa digits
  let d: number;
  while ((d = c - 48) >= 0 && d <= 9) {
    w = w * 10 + d;
    if (w !== 0) nd++;
    digits++;
    c = buf[++p] as number;
  }
  let e = 0;
  if (c === 46) {
    c = buf[++p] as number;
    while ((d = c - 48) >= 0 && d <= 9) {
      w = w * 10 + d;
      if (w !== 0) nd++;
      digits++;
      e--;
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
  if (nd <= 15) {
    if (w === 0) return neg ? -0 : 0;
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
  return slowF64(buf, start, p);
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
  // Mantissa: the first 19 significant digits into hi/lo uint32 halves.
  let hi = 0;
  let lo = 0;
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
    if (nd < 19) {
      const l = lo * 10 + d;
      const carry = Math.floor(l / 4294967296);
      lo = l - carry * 4294967296;
      hi = hi * 10 + carry;
      nd++;
      if (afterPoint) e--;
    } else {
      if (d !== 0) truncated = true;
      if (!afterPoint) e++;
    }
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
