// Properties of SharedArray: views agree with the nested-array model, dtypes round-trip values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Heap, SharedArray } from 'shmframe';

const heap = Heap.create({ size: '16M' });
const shapes = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 });

function model(shape, start = 0) {
  if (shape.length === 0) return start;
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => model(shape.slice(1), start + i * step));
}

test('rows, reshape and copy agree with slicing the nested model', () => {
  fc.assert(
    fc.property(
      shapes,
      fc.integer({ min: -7, max: 7 }),
      fc.integer({ min: -7, max: 7 }),
      (shape, s, e) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const a = SharedArray.from(
          Float64Array.from({ length: size }, (_, i) => i),
          { heap, shape },
        );
        try {
          const m = model(shape);
          assert.deepEqual(a.toArray(), m);
          assert.equal(a.size, size);
          assert.equal(a.ndim, shape.length);
          const r = a.rows(s, e);
          assert.deepEqual(r.toArray(), m.slice(s, e), `rows(${s}, ${e})`);
          // a view of a view, then a contiguous copy of it
          const rr = r.rows(1);
          const copy = rr.copy();
          assert.deepEqual(copy.toArray(), m.slice(s, e).slice(1));
          assert.ok(copy.isContiguous);
          const flat = a.reshape([size]);
          assert.deepEqual(
            flat.toArray(),
            Array.from({ length: size }, (_, i) => i),
          );
          for (const v of [r, rr, copy, flat]) v.close();
          // strides are consistent with element offsets
          if (size > 0) {
            const idx = shape.map((n) => n - 1);
            const off = idx.reduce((acc, i, k) => acc + i * a.strides[k], 0);
            assert.equal(a.get(...idx), a.data[off]);
          }
        } finally {
          a.close();
        }
      },
    ),
    { numRuns: 200, interruptAfterTimeLimit: 10000 },
  );
  assert.equal(heap.stats().objects, 0);
});

const dtypeCases = [
  ['|b1', fc.boolean()],
  ['|i1', fc.integer({ min: -128, max: 127 })],
  ['<i2', fc.integer({ min: -32768, max: 32767 })],
  ['<i4', fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
  ['<i8', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
  ['|u1', fc.integer({ min: 0, max: 255 })],
  ['<u2', fc.integer({ min: 0, max: 65535 })],
  ['<u4', fc.integer({ min: 0, max: 2 ** 32 - 1 })],
  ['<u8', fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })],
  ['<f4', fc.float({ noDefaultInfinity: false }).map((v) => Math.fround(v))],
  ['<f8', fc.double()],
  ['<M8[ns]', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
  [
    '|S12',
    fc.string({ maxLength: 12 }).filter((s) => Buffer.byteLength(s) <= 12 && !s.endsWith('\0')),
  ],
];

for (const [dtype, values] of dtypeCases) {
  test(`${dtype} values round-trip through set/get, from/toArray and a handle`, () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 20 }), (vals) => {
        const a = SharedArray.zeros([vals.length], dtype, { heap });
        try {
          vals.forEach((v, i) => a.set(i, v));
          const b = SharedArray.attach(a[Symbol.for('shmframe.share')]());
          vals.forEach((v, i) =>
            assert.ok(
              Object.is(b.get(i), v),
              `${dtype}[${i}]: ${String(b.get(i))} vs ${String(v)}`,
            ),
          );
          b.close();
          const c = SharedArray.from(vals, { heap, dtype });
          assert.deepEqual(c.toArray(), vals);
          c.close();
        } finally {
          a.close();
        }
      }),
      { numRuns: 60, interruptAfterTimeLimit: 5000 },
    );
  });
}
