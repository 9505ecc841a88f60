// Properties of SharedFrame: arbitrary records round-trip through from / fromRecords / append /
// Arrow, with every value (nulls, NaN, -0, full-range bigints, any Unicode text) intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Heap, SharedFrame } from 'shmframe';

const heap = Heap.create({ size: '32M' });

// One column: a kind and values of that kind, with nulls (null or undefined) anywhere.
const kinds = {
  number: fc.oneof(fc.double(), fc.constant(-0), fc.constant(NaN)),
  bigint: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  boolean: fc.boolean(),
  string: fc.string({ unit: 'grapheme', maxLength: 12 }),
  date: fc.date({ noInvalidDate: true }),
};
const columnOf = (n) =>
  fc
    .constantFrom(...Object.keys(kinds))
    .chain((kind) =>
      fc.array(
        fc.oneof({ weight: 4, arbitrary: kinds[kind] }, fc.constant(null), fc.constant(undefined)),
        { minLength: n, maxLength: n },
      ),
    );
const tables = fc.integer({ min: 0, max: 30 }).chain((n) =>
  fc
    .dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), columnOf(n), {
      maxKeys: 6,
    })
    .map((cols) => ({ n, cols })),
);

function records({ n, cols }) {
  const names = Object.keys(cols);
  if (names.length === 0) return []; // a frame without columns has no rows
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((k) => [k, cols[k][i] ?? null])),
  );
}

test('from(columns) -> rows() returns every record exactly (undefined read as null)', () => {
  fc.assert(
    fc.property(tables, (t) => {
      const before = heap.stats().objects;
      const f = SharedFrame.from(t.cols, { heap });
      try {
        assert.equal(f.length, records(t).length);
        assert.deepEqual([...f.rows()], records(t));
      } finally {
        f.close();
      }
      assert.equal(heap.stats().objects, before);
    }),
    { numRuns: 300, interruptAfterTimeLimit: 8000 },
  );
});

test('fromRecords, chunked appends and the Arrow round trip agree with from', () => {
  fc.assert(
    fc.property(tables, fc.integer({ min: 1, max: 7 }), (t, chunk) => {
      const rows = records(t);
      const f = SharedFrame.from(t.cols, { heap });
      const g = SharedFrame.fromRecords(rows, { heap, schema: f.schema });
      const h = SharedFrame.create(f.schema, {
        capacity: t.n,
        heap,
        stringBytes: 64 * t.n,
        categories: 16,
      });
      const a = SharedFrame.fromArrow(f.toArrow(), { heap });
      try {
        for (let i = 0; i < rows.length; i += chunk) h.append(rows.slice(i, i + chunk));
        const want = [...f.rows()];
        assert.deepEqual([...g.rows()], want);
        assert.deepEqual([...h.rows()], want);
        assert.deepEqual([...a.rows()], want);
        assert.deepEqual(a.schema, f.schema);
      } finally {
        for (const x of [f, g, h, a]) x.close();
      }
    }),
    { numRuns: 150, interruptAfterTimeLimit: 8000 },
  );
});
