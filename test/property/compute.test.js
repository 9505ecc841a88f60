// Properties of the built-in computations (sum mean min max count, isna, filter, sortBy) on
// frames of every column kind, with nulls, NaN and slices that start mid-word of the validity
// bitmap, against a plain JS model of the same rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Heap, SharedFrame } from 'shmframe';

const heap = Heap.create({ size: '32M' });

const orNull = (arb) => fc.oneof({ weight: 4, arbitrary: arb }, fc.constant(null));
const num = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  fc.constant(NaN),
  fc.constant(-0),
  fc.constant(Infinity),
);
const label = fc.constantFrom('a', 'b', 'c', 'dd', 'é', '');
// dtype -> value generator; one column of each.
const kinds = {
  f: ['<f8', num],
  g: ['<f4', fc.constantFrom(0.5, -2, 3.25, NaN, 1e3)],
  i: ['<i4', fc.integer({ min: -1000, max: 1000 })],
  n: ['<i8', fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })],
  b: ['|b1', fc.boolean()],
  t: ['<M8[ms]', fc.integer({ min: -1e12, max: 1e12 }).map((ms) => new Date(ms))],
  s: ['utf8', fc.string({ unit: 'grapheme', maxLength: 5 })],
  k: ['category', label],
  x: ['|S3', fc.constantFrom('ab', 'z', '', 'abc', 'b')],
};
const schema = Object.fromEntries(Object.entries(kinds).map(([k, [dtype]]) => [k, dtype]));

// Half the frames have no nulls, so whole 32-row words of valid rows (the fast path) occur.
const frames = fc.tuple(fc.integer({ min: 0, max: 80 }), fc.boolean()).chain(([n, nulls]) =>
  fc.record({
    n: fc.constant(n),
    cols: fc.record(
      Object.fromEntries(
        Object.entries(kinds).map(([k, [, arb]]) => [
          k,
          fc.array(nulls ? orNull(arb) : arb, { minLength: n, maxLength: n }),
        ]),
      ),
    ),
    // a slice [a, b) of the rows (a mid-word start exercises the bitmap edges)
    a: fc.nat({ max: n }),
    b: fc.nat({ max: n }),
    mask: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }),
);

function build(t) {
  return SharedFrame.from(t.cols, { heap, schema });
}

/** The model of one column's rows [a, b): values as get() returns them. */
function modelColumn(t, name, a, b) {
  return t.cols[name].slice(a, b).map((v) => {
    if (v === null) return null;
    if (name === 'g') return Math.fround(v);
    if (name === 't') return new Date(v.getTime());
    return v;
  });
}

const isNaNValue = (v) => typeof v === 'number' && Number.isNaN(v);

function modelReduce(values, name, op, skipNaN) {
  let vs = values.filter((v) => v !== null);
  const floats = name === 'f' || name === 'g';
  if (skipNaN && floats) vs = vs.filter((v) => !isNaNValue(v));
  if (op === 'count') return vs.length;
  const kind = schema[name];
  if (op === 'sum' || op === 'mean') {
    if (['utf8', 'category', '|S3', '<M8[ms]'].includes(kind)) return 'DTYPE';
    if (name === 'n') {
      const s = vs.reduce((x, y) => x + y, 0n);
      return op === 'sum' ? s : vs.length === 0 ? null : Number(s) / vs.length;
    }
    let s = 0;
    for (const v of vs) s += typeof v === 'boolean' ? Number(v) : v;
    return op === 'sum' ? s : vs.length === 0 ? null : s / vs.length;
  }
  if (vs.some(isNaNValue)) return NaN;
  let best = null;
  for (const v of vs) {
    const key = (x) => (x instanceof Date ? x.getTime() : typeof x === 'boolean' ? Number(x) : x);
    if (best === null || (op === 'max' ? key(v) > key(best) : key(v) < key(best))) best = v;
  }
  return best;
}

function modelSort(rows, name, descending) {
  const key = (v) => (v instanceof Date ? v.getTime() : typeof v === 'boolean' ? Number(v) : v);
  const na = (v) => v === null || isNaNValue(v);
  return rows
    .map((r, i) => [r, i])
    .sort(([x, i], [y, j]) => {
      const [u, v] = [x[name], y[name]];
      if (na(u) !== na(v)) return na(u) ? 1 : -1;
      if (!na(u)) {
        const [p, q] = [key(u), key(v)];
        const c = p < q ? -1 : p > q ? 1 : 0;
        if (c !== 0) return descending ? -c : c;
      }
      return i - j;
    })
    .map(([r]) => r);
}

test('sum, mean, min, max and count agree with a JS model (every dtype, nulls, NaN, slices)', () => {
  fc.assert(
    fc.property(frames, fc.boolean(), (t, skipNaN) => {
      const before = heap.stats().objects;
      const [a, b] = t.a <= t.b ? [t.a, t.b] : [t.b, t.a];
      const f = build(t);
      const view = f.slice(a, b);
      try {
        for (const name of Object.keys(kinds))
          for (const op of ['sum', 'mean', 'min', 'max', 'count']) {
            const want = modelReduce(modelColumn(t, name, a, b), name, op, skipNaN);
            if (want === 'DTYPE') {
              assert.throws(() => view[op](name, { skipNaN }), { code: 'SHMFRAME_ERR_DTYPE' });
              continue;
            }
            const got = view[op](name, { skipNaN });
            assert.deepEqual(got, want, `${op}(${name}) skipNaN=${skipNaN} rows [${a}, ${b})`);
          }
      } finally {
        view.close();
        f.close();
      }
      assert.equal(heap.stats().objects, before);
    }),
    { numRuns: 200, interruptAfterTimeLimit: 8000 },
  );
});

test('isna is null or NaN; filter keeps the masked rows; sortBy is a stable sort, nulls last', () => {
  fc.assert(
    fc.property(
      frames,
      fc.constantFrom(...Object.keys(kinds)),
      fc.boolean(),
      (t, name, descending) => {
        const before = heap.stats().objects;
        const f = build(t);
        try {
          const rows = [...f.rows()];
          for (let i = 0; i < t.n; i++)
            for (const c of Object.keys(kinds))
              assert.equal(f.isna(i, c), rows[i][c] === null || isNaNValue(rows[i][c]));
          const kept = f.filter(t.mask);
          const byFn = f.filter((i) => t.mask[i]);
          const sorted = f.sortBy(name, { descending });
          try {
            const want = rows.filter((_, i) => t.mask[i]);
            assert.deepEqual([...kept.rows()], want);
            assert.deepEqual([...byFn.rows()], want);
            assert.deepEqual(kept.schema, f.schema);
            assert.deepEqual([...sorted.rows()], modelSort(rows, name, descending));
          } finally {
            kept.close();
            byFn.close();
            sorted.close();
          }
        } finally {
          f.close();
        }
        assert.equal(heap.stats().objects, before);
      },
    ),
    { numRuns: 150, interruptAfterTimeLimit: 8000 },
  );
});
