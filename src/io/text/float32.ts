/**
 * float32 from decimal text, correctly rounded. `Math.fround` of the correctly rounded double is
 * wrong when that double lands exactly on a float32 midpoint while the decimal was slightly above
 * or below it (double rounding); such a double has at most 25 significant bits, so it is
 * recognised with one bit test and the decimal is then compared with the midpoint exactly.
 */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const i32of32 = new Int32Array(f32.buffer);

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
