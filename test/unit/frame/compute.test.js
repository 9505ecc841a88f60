// The built-in computations: column reductions, isna, filter and sortBy (their laws against a JS
// model are in test/property/compute.test.js); here, the documented cases and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

// seed 001's frame: strings, a category, a null and a NaN
function seed001(heap, options = {}) {
  return SharedFrame.from(
    {
      w1: ['obstacle', 'obstacles', 'wall', null],
      w2: ['obstacle', 'obstacle', 'door', 'door'],
      d1: [2, 2, 5, 1],
      d2: [3, NaN, null, 4],
      n: [10n, null, -3n, 7n],
    },
    { heap, schema: { w2: 'category', d1: 'i4' }, ...options },
  );
}

test('reductions skip nulls; NaN propagates unless skipNaN (pandas: skipna)', async () => {
  await withHeap((heap) => {
    const f = seed001(heap);
    assert.equal(f.sum('d1'), 10);
    assert.equal(f.mean('d1'), 2.5);
    assert.equal(f.min('d1'), 1);
    assert.equal(f.max('d1'), 5);
    assert.ok(Number.isNaN(f.sum('d2')), 'a NaN value is a value: the sum is NaN');
    assert.ok(Number.isNaN(f.max('d2')));
    assert.equal(f.sum('d2', { skipNaN: true }), 7);
    assert.equal(f.mean('d2', { skipNaN: true }), 3.5);
    assert.equal(f.min('d2', { skipNaN: true }), 3);
    assert.equal(f.count('d2'), 3, 'the null is not counted, the NaN is');
    assert.equal(f.count('d2', { skipNaN: true }), 2, "pandas' count()");
    assert.equal(f.sum('n'), 14n, '64-bit integers sum exactly, as a bigint');
    assert.equal(f.mean('n'), 14 / 3);
    assert.equal(f.min('n'), -3n);
    assert.equal(f.min('w1'), 'obstacle');
    assert.equal(f.max('w1'), 'wall');
    assert.equal(f.max('w2'), 'obstacle', 'category columns compare labels');
    assert.equal(f.count('w1'), 3);
    f.close();
  });
});

test('reductions of empty and all-null columns: sum 0, mean/min/max null, count 0', async () => {
  await withHeap((heap) => {
    const f = SharedFrame.from(
      { x: [null, null], n: [null, null], s: [null, null] },
      { heap, schema: { n: 'i8', s: 'utf8' } },
    );
    assert.equal(f.sum('x'), 0);
    assert.equal(f.sum('n'), 0n);
    assert.equal(f.mean('x'), null);
    assert.equal(f.min('x'), null);
    assert.equal(f.max('s'), null);
    assert.equal(f.count('x'), 0);
    const empty = f.slice(2);
    assert.equal(empty.sum('x'), 0);
    assert.equal(empty.max('n'), null);
    empty.close();
    f.close();
  });
});

test('bool and datetime columns: sum counts true, min/max return booleans and Dates', async () => {
  await withHeap((heap) => {
    const when = [new Date('2024-03-01'), null, new Date('2023-01-02')];
    const f = SharedFrame.from({ ok: [true, false, true], when }, { heap });
    assert.equal(f.sum('ok'), 2);
    assert.equal(f.mean('ok'), 2 / 3);
    assert.equal(f.min('ok'), false);
    assert.equal(f.max('ok'), true);
    assert.deepEqual(f.min('when'), new Date('2023-01-02'));
    assert.deepEqual(f.max('when'), new Date('2024-03-01'));
    assert.throws(() => f.sum('when'), {
      code: 'SHMFRAME_ERR_DTYPE',
      message:
        'sum() needs a number or bool column; "when" is <M8[ms]. min(), max() and count() work on every column.',
    });
    f.close();
  });
});

test('reductions over many rows with scattered nulls (whole bitmap words and partial ones)', async () => {
  await withHeap((heap) => {
    const n = 1000;
    const x = Array.from({ length: n }, (_, i) => (i % 97 === 5 ? null : i));
    const f = SharedFrame.from({ x }, { heap });
    const valid = x.filter((v) => v !== null);
    assert.equal(
      f.sum('x'),
      valid.reduce((s, v) => s + v, 0),
    );
    assert.equal(f.count('x'), valid.length);
    const v = f.slice(13, 987); // starts and ends inside bitmap words
    const inside = x.slice(13, 987).filter((u) => u !== null);
    assert.equal(
      v.sum('x'),
      inside.reduce((s, u) => s + u, 0),
    );
    assert.equal(v.count('x'), inside.length);
    assert.equal(v.min('x'), 13);
    assert.equal(v.max('x'), 986);
    v.close();
    f.close();
  });
});

test('a value written through col() into a null cell stays null for the reductions', async () => {
  await withHeap((heap) => {
    const x = Array.from({ length: 100 }, (_, i) => (i % 10 === 3 ? null : 1));
    const f = SharedFrame.from({ x, n: x }, { heap, schema: { n: 'i4' } });
    assert.equal(f.sum('x'), 90);
    f.col('x')[13] = 1000; // the validity bit still says null
    f.col('n')[23] = 1000;
    for (const name of ['x', 'n']) {
      assert.equal(f.sum(name), 90, name);
      assert.equal(f.sum(name, { skipNaN: true }), 90, name);
      assert.equal(f.mean(name), 1, name);
      assert.equal(f.max(name), 1, name);
      assert.equal(f.max(name, { skipNaN: true }), 1, name);
      assert.equal(f.count(name), 90, name);
    }
    f.close();
  });
});

test('isna: null or NaN; isNull: null only', async () => {
  await withHeap((heap) => {
    const f = seed001(heap);
    assert.equal(f.isna(1, 'd2'), true, 'NaN');
    assert.equal(f.isNull(1, 'd2'), false);
    assert.equal(f.isna(2, 'd2'), true, 'null');
    assert.equal(f.isna(0, 'd2'), false);
    assert.equal(f.isna(-1, 'w1'), true);
    assert.equal(f.isna(0, 'w1'), false);
    assert.throws(() => f.isna(4, 'd2'), { code: 'SHMFRAME_ERR_SHAPE' });
    f.close();
  });
});

test('filter returns a new frame in the same heap: every column kind, nulls, index and dictionary kept', async () => {
  await withHeap((heap) => {
    const f = seed001(heap, { index: 'w1', capacity: 10 });
    const objects = heap.stats().objects;
    const d1 = f.col('d1');
    const g = f.filter((i) => d1[i] !== 5);
    assert.equal(heap.stats().objects, objects + 1, 'one new block');
    assert.equal(g.heap, heap);
    assert.equal(g.length, 3);
    assert.equal(g.capacity, 3);
    assert.deepEqual(g.schema, f.schema);
    assert.equal(g.index, 'w1');
    assert.deepEqual(g.loc('obstacles'), {
      w1: 'obstacles',
      w2: 'obstacle',
      d1: 2,
      d2: NaN,
      n: null,
    });
    assert.equal(g.isNull(2, 'w1'), true);
    assert.deepEqual(g.col('w2').categories, f.col('w2').categories, 'codes keep their labels');
    assert.deepEqual([...g.col('w2').codes], [0, 0, 1]);
    // A copy: writing the new frame leaves the old one as it was.
    g.set(0, 'd1', 99);
    assert.equal(f.get(0, 'd1'), 2);
    // A bool column's col() is a mask.
    const ok = SharedFrame.from({ keep: [true, false, true, false] }, { heap });
    const h = f.filter(ok.col('keep'));
    assert.deepEqual(h.col('w1').toArray(), ['obstacle', 'wall']);
    for (const o of [ok, h, g, f]) o.close();
  });
});

test('filter and sortBy of views: only the shown columns and rows', async () => {
  await withHeap((heap) => {
    const f = seed001(heap, { index: 'w1' });
    const sel = f.select(['d1', 'd2']);
    const v = sel.slice(1);
    const g = v.filter([true, false, true]);
    assert.deepEqual(g.columns, ['d1', 'd2']);
    assert.equal(g.index, undefined, 'the index column was not shown');
    assert.deepEqual(
      [...g.rows()],
      [
        { d1: 2, d2: NaN },
        { d1: 1, d2: 4 },
      ],
    );
    const s = v.sortBy('d1');
    assert.deepEqual([...s.col('d1')], [1, 2, 5]);
    for (const o of [s, g, v, sel, f]) o.close();
  });
});

test('sortBy: stable, descending, nulls and NaN last, several columns, categories by label', async () => {
  await withHeap((heap) => {
    const f = seed001(heap);
    const a = f.sortBy('d2');
    assert.deepEqual(
      [...a.rows()].map((r) => r.d2),
      [3, 4, NaN, null],
      'null and NaN last, in their original order',
    );
    const d = f.sortBy('d2', { descending: true });
    assert.deepEqual(
      [...d.rows()].map((r) => r.d2),
      [4, 3, NaN, null],
      'still last when descending (pandas: na_position="last")',
    );
    const k = f.sortBy(['w2', 'd1']);
    assert.deepEqual(
      [...k.rows()].map((r) => [r.w2, r.d1]),
      [
        ['door', 1],
        ['door', 5],
        ['obstacle', 2],
        ['obstacle', 2],
      ],
    );
    assert.deepEqual(
      [...k.rows()].slice(2).map((r) => r.w1),
      ['obstacle', 'obstacles'],
      'ties keep row order',
    );
    for (const o of [a, d, k, f]) o.close();
  });
});

test('bad arguments are refused with what was expected, and nothing is allocated', async () => {
  await withHeap((heap) => {
    const f = seed001(heap);
    const objects = heap.stats().objects;
    assert.throws(() => f.sum('w1'), {
      code: 'SHMFRAME_ERR_DTYPE',
      message:
        'sum() needs a number or bool column; "w1" is utf8. min(), max() and count() work on every column.',
    });
    assert.throws(() => f.mean('nope'), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /Unknown column "nope"/,
    });
    assert.throws(() => f.sum('d1', { skipNaN: 'yes' }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: 'Expected `skipNaN` to be a boolean, got "yes" (string)',
    });
    assert.throws(() => f.filter([true, false]), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: 'Expected `mask` to have one value per row (4), got 2',
    });
    assert.throws(() => f.filter('d1 > 2'), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message:
        /^Expected `mask` to be an array or TypedArray of 4 booleans .* got "d1 > 2" \(string\)$/,
    });
    assert.throws(() => f.sortBy('nope'), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /Unknown column "nope"/,
    });
    assert.throws(() => f.sortBy([]), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: 'Expected a column name or a non-empty array of them to sort by, got []',
    });
    assert.throws(() => f.sortBy('d1', { descending: 1 }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: 'Expected `descending` to be a boolean, got 1 (number)',
    });
    assert.equal(heap.stats().objects, objects);
    f.close();
    assert.throws(() => f.sum('d1'), { code: 'SHMFRAME_ERR_CLOSED' });
    assert.throws(() => f.filter([]), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('a frame too large for the heap: filter throws HEAP_FULL and leaves the heap as it was', async () => {
  await withHeap(
    (heap) => {
      const x = new Float64Array(300_000);
      const f = SharedFrame.from({ x }, { heap });
      assert.throws(() => f.filter(() => true), { code: 'SHMFRAME_ERR_HEAP_FULL' });
      f.close();
    },
    { size: '4M' },
  );
});
