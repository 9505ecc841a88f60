import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseF64, toF32, floatEnd, slowF64, eiselLemire } from '../../../dist/io/text/float.js';
import { parseFloatField } from '../../../dist/io/text/fields.js';

const bytes = (s) => Buffer.from(`${s}\n`);
const f8 = (s) => {
  const b = bytes(s);
  const v = parseF64(b, 0);
  assert.equal(floatEnd, s.length, `parse of ${s} stopped at ${floatEnd}`);
  return v;
};
const f4 = (s) => {
  const b = bytes(s);
  return toF32(parseF64(b, 0), b, 0, s.length);
};

test('decimal to double: fast path, Eisel-Lemire and long inputs match Number()', () => {
  const cases = [
    '0',
    '-0',
    '1',
    '-1',
    '0.5',
    '.5',
    '5.',
    '1e5',
    '1E+05',
    '1e-5',
    '123456789012345',
    '9007199254740993',
    '0.1',
    '0.30000000000000004',
    '1.7976931348623157e308',
    '2.2250738585072014e-308',
    '4.9e-324',
    '2.4703282292062327e-324',
    '1e-400',
    '1e400',
    '1.234567890123456789e+00',
    '9.999999999999999999e-01',
    '123456789012345678901234567890',
    '0.000000000000000000000000000000001',
    '7.2057594037927933e16',
    '1448997445238699',
  ];
  for (const s of cases) assert.ok(Object.is(f8(s), Number(s)), `${s}: ${f8(s)} vs ${Number(s)}`);
});

test('exact halfway decimals between doubles round to even', () => {
  // 2^53 + 1 is halfway between 2^53 and 2^53 + 2: ties to even gives 2^53.
  assert.equal(f8('9007199254740993'), 9007199254740992);
  assert.equal(f8('9007199254740995'), 9007199254740996);
  // Just above the halfway point goes up.
  assert.equal(f8('9007199254740993.0000000001'), 9007199254740994);
});

test('Eisel-Lemire refuses what it cannot decide and the fallback is exact', () => {
  // A zero mantissa and out-of-range exponents.
  assert.ok(Object.is(eiselLemire(0, 0, 5, true), -0));
  assert.ok(Number.isNaN(eiselLemire(0, 1, 400, false)));
  const s = '2.2250738585072011e-308'; // subnormal boundary: fallback path
  assert.equal(slowF64(Buffer.from(s), 0, s.length), Number(s));
});

test('float32 is correctly rounded from the decimal, not double-rounded', () => {
  // 1 + 2^-24 is the midpoint between 1 and the next float32; a decimal slightly above it must
  // round up, although its nearest double is the midpoint itself (Math.fround gives 1).
  const above = '1.0000000596046448';
  assert.equal(Math.fround(Number(above)), 1);
  assert.equal(f4(above), 1.0000001192092896);
  // The exact midpoint ties to even (1), a decimal just below rounds down.
  assert.equal(f4('1.000000059604644775390625'), 1);
  assert.equal(f4('1.0000000596046447'), 1);
  // Ordinary values agree with Math.fround.
  for (const s of ['0.5432', '3.14159', '-2.5e-3', '1e38', '1.17549435e-38', '1e-45'])
    assert.equal(f4(s), Math.fround(Number(s)), s);
  // Overflow: below the midpoint to 2^128 stays at the largest float32.
  assert.equal(f4('3.4028235677973366e38'), 3.4028234663852886e38);
  assert.equal(f4('3.4028235677973368e38'), Infinity);
});

test('nan, inf and infinity in any case, with signs; malformed text fails', () => {
  const f = (s) => parseFloatField(Buffer.from(s + '\n'), 0, s.length);
  assert.ok(Number.isNaN(f('nan')));
  assert.ok(Number.isNaN(f('NaN')));
  assert.equal(f('inf'), Infinity);
  assert.equal(f('-Infinity'), -Infinity);
  assert.equal(f('+INF'), Infinity);
  for (const bad of ['', '-', '.', 'e5', '1e', '1.2.3', '1,5', 'abc', '0x10', 'infinit'])
    assert.ok(Number.isNaN(f(bad)), bad);
});
