// SharedArray.from's dtype in second position, and views checked on attach (issue 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

test("from(source, 'i4', { heap }) honours both the dtype and the heap, like zeros()", async () => {
  await withHeap(async (heap) => {
    const other = Heap.default();
    const otherBefore = other.stats().objects;
    const cases = [
      [() => SharedArray.from([1, 2, 3], 'i4', { heap }), '<i4', [1, 2, 3]],
      [() => SharedArray.from(new Float64Array([1.5, 2]), 'f4', { heap }), '<f4', [1.5, 2]],
      [
        () => SharedArray.from([1, 2, 3, 4], 'u1', { heap, shape: [2, 2] }),
        '|u1',
        [
          [1, 2],
          [3, 4],
        ],
      ],
      [() => SharedArray.from([1, 2], { dtype: 'i2', heap }), '<i2', [1, 2]],
      [() => SharedArray.from([1, 2], 'i8', { heap, dtype: 'i8' }), '<i8', [1n, 2n]],
    ];
    for (const [make, dtype, values] of cases) {
      const a = make();
      assert.equal(a.dtype, dtype);
      assert.equal(a.heap, heap, 'allocated in the heap asked for');
      assert.deepEqual(a.toArray(), values);
      a.close();
    }
    // A copy of a SharedArray, converted.
    const src = SharedArray.from([1, 2, 3], 'f8', { heap });
    const b = SharedArray.from(src, 'i4', { heap });
    assert.deepEqual([b.dtype, b.toArray()], ['<i4', [1, 2, 3]]);
    b.close();
    src.close();
    assert.equal(other.stats().objects, otherBefore, 'nothing went to the default heap');
  });
});

test('from() refuses what it cannot honour, clearly, and allocates nothing', async () => {
  await withHeap(async (heap) => {
    const bad = [
      [
        () => SharedArray.from([1], 'i4', 'x'),
        /options of SharedArray\.from\(source, dtype, options\)/,
      ],
      [
        () => SharedArray.from([1], 5),
        /second argument of SharedArray\.from\(\) to be a dtype like 'i4' or options/,
      ],
      [
        () => SharedArray.from([1], { heap }, { heap }),
        /a third argument \(the options\) goes with a dtype/,
      ],
      [() => SharedArray.from([1], 'i4', { heap, dtype: 'f8' }), /two dtypes/],
    ];
    for (const [call, message] of bad)
      assert.throws(call, (err) => {
        assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG');
        assert.match(err.message, message);
        return true;
      });
    assert.throws(() => SharedArray.from([1], 'q9', { heap }), { code: 'SHMFRAME_ERR_DTYPE' });
  });
});

test('attach refuses a forged view (stride 0, 2^33 elements, more elements than the block) with SHMFRAME_ERR_CORRUPT and keeps no reference', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.from([1, 2, 3, 4, 5, 6], 'f8', { heap, shape: [2, 3] });
    const forged = [
      { offset: 0, shape: [2 ** 33], strides: [0] },
      { offset: 0, shape: [3, 2], strides: [0, 1] },
      { offset: 0, shape: [7], strides: [1] },
      { offset: 0, shape: [4, 4], strides: [1, 1] },
      { offset: 5, shape: [2], strides: [1] },
      { offset: 0, shape: [2 ** 32, 2 ** 32], strides: [0, 0] },
      { offset: -1, shape: [1], strides: [1] },
    ];
    for (const view of forged) {
      const h = { ...a.handle, view };
      assert.throws(
        () => SharedArray.attach(h),
        (err) => {
          assert.equal(err.code, 'SHMFRAME_ERR_CORRUPT', `${JSON.stringify(view)}: ${err.message}`);
          assert.match(err.message, /view/);
          return true;
        },
        JSON.stringify(view),
      );
    }
    assert.equal(heap.stats().handles, 0, 'the refused handles released their references');
    // Views the library makes still attach: rows, a strided column, an empty one, a 1-row one.
    const first = a.rows(0, 1);
    const views = [a.rows(1, 2), a.reshape([3, 2]), a.rows(0, 0), first.reshape([3]), first];
    for (const v of views) {
      const b = SharedArray.attach(v.handle);
      assert.deepEqual(b.toArray(), v.toArray());
      assert.deepEqual(b.shape, v.shape);
      b.close();
      v.close();
    }
    a.close();
  });
});
