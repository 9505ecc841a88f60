// Property: decimal text parses to exactly what V8's correctly rounded Number() gives (f8), and
// to the float32 nearest to the decimal (f4), for random and adversarial inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseF64, toF32, floatEnd } from '../../dist/io/text/float.js';

const digits = (min, max) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const decimal = fc
  .tuple(
    fc.constantFrom('', '-', '+'),
    digits(1, 24),
    fc.option(digits(0, 24), { nil: undefined }),
    fc.option(fc.integer({ min: -345, max: 330 }), { nil: undefined }),
  )
  .map(
    ([sign, a, b, e]) =>
      `${sign}${a}${b === undefined ? '' : `.${b}`}${e === undefined ? '' : `e${e}`}`,
  );

test('f8: random decimals match Number()', () => {
  fc.assert(
    fc.property(decimal, (s) => {
      const v = parseF64(Buffer.from(s + '\n'), 0);
      assert.equal(floatEnd, s.length);
      assert.ok(Object.is(v, Number(s)), `${s}: ${v} vs ${Number(s)}`);
    }),
    { numRuns: 20000, interruptAfterTimeLimit: 10000 },
  );
});

test('f8: every double printed at 17 digits and in exponent form round-trips', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      for (const s of [x.toPrecision(17), x.toExponential(18), String(x)]) {
        const v = parseF64(Buffer.from(s + '\n'), 0);
        assert.ok(Object.is(v, Number(s)), `${s}: ${v}`);
      }
    }),
    { numRuns: 20000, interruptAfterTimeLimit: 10000 },
  );
});

/** The float32 nearest to the decimal `s`, by exact rational comparison. */
function nearestF32(s) {
  const r = Math.fround(Number(s));
  if (!Number.isFinite(r) || r === 0) return null; // covered by the examples in unit tests
  const f = new Float32Array(1);
  const i = new Int32Array(f.buffer);
  f[0] = r;
  const b = i[0];
  const cands = [r];
  i[0] = b + 1;
  cands.push(f[0]);
  i[0] = b - 1;
  cands.push(f[0]);
  cands.sort((x, y) => x - y);
  const exact = (str) => {
    let [m, e = '0'] = str.toLowerCase().split('e');
    const neg = m.startsWith('-');
    m = m.replace(/^[-+]/, '');
    const [ip, fp = ''] = m.split('.');
    return { n: (neg ? -1n : 1n) * BigInt(ip + fp || '0'), e: Number(e) - fp.length };
  };
  const cmp = (s1, d) => {
    // sign of s1 - d, both exact: d is a double (finite) written exactly via BigInt.
    const { n, e } = exact(s1);
    const dv = new Float64Array([d]);
    const u = new BigUint64Array(dv.buffer);
    const eb = Number((u[0] >> 52n) & 0x7ffn);
    let M = u[0] & ((1n << 52n) - 1n);
    let K = -1074;
    if (eb !== 0) {
      M |= 1n << 52n;
      K = eb - 1075;
    }
    if (d < 0) M = -M;
    let l = n;
    let rr = M;
    if (e >= 0) l *= 10n ** BigInt(e);
    else rr *= 10n ** BigInt(-e);
    if (K >= 0) rr <<= BigInt(K);
    else l <<= BigInt(-K);
    return l > rr ? 1 : l < rr ? -1 : 0;
  };
  let best = cands[0];
  for (let k = 0; k < 2; k++) {
    const mid = (cands[k] + cands[k + 1]) / 2;
    const c = cmp(s, mid);
    if (c > 0) best = cands[k + 1];
    else if (c === 0) {
      f[0] = cands[k];
      best = (i[0] & 1) === 0 ? cands[k] : cands[k + 1];
    }
  }
  return best;
}

test('f4: random decimals and float32 midpoints round to the nearest float32', () => {
  const midpoint = fc
    .float({
      noNaN: true,
      noDefaultInfinity: true,
      min: Math.fround(-1e30),
      max: Math.fround(1e30),
    })
    .chain((x) => {
      const f = new Float32Array([x]);
      const i = new Int32Array(f.buffer);
      const lo = f[0];
      i[0] += 1;
      const mid = (lo + f[0]) / 2;
      const exact = mid.toPrecision(40).replace(/0+$/, '').replace(/\.$/, '');
      return fc.constantFrom(exact, `${exact}1`, mid.toPrecision(17), mid.toPrecision(9));
    });
  fc.assert(
    fc.property(fc.oneof(decimal, midpoint), (s) => {
      const want = nearestF32(s);
      if (want === null) return;
      const b = Buffer.from(s + '\n');
      const got = toF32(parseF64(b, 0), b, 0, s.length);
      assert.ok(Object.is(got, want), `${s}: ${got} vs ${want}`);
    }),
    { numRuns: 20000, interruptAfterTimeLimit: 10000 },
  );
});
