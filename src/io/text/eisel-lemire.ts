/**
 * Eisel-Lemire (as in Go's strconv and fast_float): the double nearest to a 64-bit decimal
 * mantissa times a power of ten, from a 128-bit truncated table of the powers, or NaN when the
 * truncation leaves the rounding undecided. JavaScript has no 64-bit integers that are fast, so
 * the mantissa is two uint32 halves and the 64x64-bit products are done on 16-bit limbs in
 * doubles (exact: every partial sum stays below 2^53).
 */

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
