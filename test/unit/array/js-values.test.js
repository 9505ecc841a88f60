// SharedArray behaves like a JavaScript value: iterable over its first axis, JSON-serialisable,
// printed as numpy prints (summarised only above 1000 elements), and attach checks a dtype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DtypeError, SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

test('a 1-D array iterates its elements; spread and for-of see the shared memory', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from(new Float64Array([1.5, 2, 3]), { heap });
    assert.deepEqual([...a], [1.5, 2, 3]);
    a.data[1] = 7;
    let sum = 0;
    for (const x of a) sum += x;
    assert.equal(sum, 11.5);
    const b = SharedArray.from([true, false], { heap });
    assert.deepEqual([...b], [true, false]); // elements as get() reads them
    const strided = SharedArray.from(
      Int32Array.from({ length: 12 }, (_, i) => i),
      {
        heap,
        shape: [4, 3],
      },
    );
    const column = [...strided].map((row) => row.get(1)); // rows of a 2-D array, then an element
    assert.deepEqual(column, [1, 4, 7, 10]);
    for (const o of [a, b, strided]) o.close();
  });
});

test('an N-d array iterates (N-1)-d row views that borrow its reference', async () => {
  await withHeap((heap) => {
    const m = SharedArray.from(
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
      { heap },
    );
    const rows = [...m];
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1].shape, [2, 2]);
    assert.deepEqual(rows[1].toArray(), [
      [5, 6],
      [7, 8],
    ]);
    rows[1].set([0, 0], 50); // a view: writes reach the array
    assert.equal(m.get(1, 0, 0), 50);
    assert.deepEqual(
      [...rows[0]].map((r) => r.toArray()),
      [
        [1, 2],
        [3, 4],
      ],
    );
    const before = heap.stats();
    rows[0].close(); // borrowed: closing does nothing
    assert.equal(rows[0].closed, false);
    assert.equal(rows[0].get(1, 1), 4);
    // A row view's handle carries its own reference, like any handle.
    const h = rows[1].handle;
    assert.equal(rows[1].handle, h); // cached until attached
    const again = SharedArray.attach(h);
    assert.deepEqual(again.toArray(), rows[1].toArray());
    assert.equal(heap.stats().objects, before.objects);
    // Views it makes hold their own reference, like every other view.
    const own = rows[1].rows(0, 1);
    m.close();
    assert.equal(rows[1].closed, true); // the array is closed: its row views are too
    assert.throws(() => rows[1].get(0, 0), { code: 'SHMFRAME_ERR_CLOSED' });
    assert.deepEqual(own.toArray(), [[50, 6]]); // the owned view kept the block alive
    own.close();
    again.close();
  });
});

test('a 0-d array is not iterable; an empty axis yields nothing', async () => {
  await withHeap((heap) => {
    const scalar = SharedArray.full([], 5, 'i4', { heap });
    assert.throws(() => [...scalar], TypeError);
    const empty = SharedArray.zeros([0, 3], 'f8', { heap });
    assert.deepEqual([...empty], []);
    for (const o of [scalar, empty]) o.close();
  });
});

test('toJSON: nested arrays; bigints and datetimes as strings, NaT as null', async () => {
  await withHeap((heap) => {
    const f = SharedArray.from(
      [
        [1, 2.5],
        [NaN, 4],
      ],
      { heap },
    );
    assert.deepEqual(f.toJSON(), [
      [1, 2.5],
      [NaN, 4],
    ]);
    assert.equal(JSON.stringify(f), '[[1,2.5],[null,4]]'); // JSON has no NaN
    const big = SharedArray.from(new BigInt64Array([2n ** 63n - 1n, -5n]), { heap });
    assert.equal(JSON.stringify(big), '["9223372036854775807","-5"]');
    assert.equal(JSON.stringify({ big }), '{"big":["9223372036854775807","-5"]}');
    const when = SharedArray.full([2], new Date('2024-03-01T12:00:00Z'), 'M8[s]', { heap });
    when.set(1, -(2n ** 63n)); // NaT
    assert.deepEqual(when.toJSON(), ['2024-03-01T12:00:00.000Z', null]);
    const text = SharedArray.from(['ab', 'c'], { heap });
    const flags = SharedArray.from([true, false], { heap });
    const scalar = SharedArray.full([], 3, 'u1', { heap });
    assert.equal(JSON.stringify([text, flags, scalar]), '[["ab","c"],[true,false],3]');
    const view = f.rows(1, 2); // a view serialises its own elements
    assert.equal(JSON.stringify(view), '[[null,4]]');
    for (const o of [f, big, when, text, flags, scalar, view]) o.close();
  });
});

test('printing: every element up to 1000 (numpy threshold), summarised above, 75 columns', async () => {
  await withHeap((heap) => {
    const full = SharedArray.from(
      Float64Array.from({ length: 1000 }, (_, i) => i),
      { heap },
    );
    const text = String(full);
    assert.doesNotMatch(text, /\.\.\./);
    assert.match(text, /\b999\]$/);
    for (const line of text.split('\n')) assert.ok(line.length <= 75, line);
    const more = SharedArray.from(
      Float64Array.from({ length: 1001 }, (_, i) => i),
      { heap },
    );
    assert.equal(
      String(more),
      'SharedArray(<f8, [1001]) [   0,    1,    2, ...,  998,  999, 1000]',
    );
    const wide = SharedArray.zeros([40, 30], 'i4', { heap }); // 1200 elements: rows and columns elided
    const lines = inspect(wide).split('\n');
    assert.equal(lines.length, 1 + 7);
    assert.equal(lines[1], '[[0, 0, 0, ..., 0, 0, 0],');
    assert.equal(lines[4], ' ...,');
    const cube = SharedArray.from(
      Int8Array.from({ length: 8 }, (_, i) => i),
      {
        heap,
        shape: [2, 2, 2],
      },
    );
    assert.equal(
      String(cube),
      'SharedArray(|i1, [2,2,2])\n[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]]',
    );
    for (const o of [full, more, wide, cube]) o.close();
  });
});

test('attach: a type argument or a checked dtype; the wrong dtype releases the reference', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([3], 'float64', { heap });
    const b = SharedArray.attach(a.handle, { dtype: 'f8' }); // aliases name the same dtype
    assert.equal(b.dtype, '<f8');
    assert.throws(
      () => SharedArray.attach(a.handle, { dtype: 'i4' }),
      (err) => {
        assert.ok(err instanceof DtypeError);
        assert.match(
          err.message,
          /Expected the attached array to be of dtype <i4 .*got <f8 of shape \[3\]/,
        );
        return true;
      },
    );
    assert.equal(heap.stats().handles, 0); // the handle's reference was adopted, then dropped
    // from() with another dtype converts the values (checked: 0 fits i4).
    const d = SharedArray.from(a, { dtype: 'i4' });
    assert.equal(d.dtype, '<i4');
    assert.deepEqual([...d.data], [0, 0, 0]);
    const c = SharedArray.from(a, { dtype: 'float64' }); // the same dtype copies as it is
    for (const o of [a, b, c, d]) o.close();
  });
});
