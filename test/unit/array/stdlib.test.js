// The array -> @stdlib bridge of docs/compute.md: stdlib's strided kernels take (data, strides,
// offset), so they read and write a SharedArray's memory in place, also a frame's values() view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgemm from '@stdlib/blas-base-dgemm';
import dger from '@stdlib/blas-base-dger';
import dmean from '@stdlib/stats-strided-dmean';
import ndarrayCtor from '@stdlib/ndarray-base-ctor';
import { SharedArray, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

test('dgemm writes d1 @ d2.T straight into a SharedArray; a write to the inputs changes the next product', async () => {
  await withHeap((heap) => {
    const d1 = SharedArray.from(new Float64Array([1, 2, 3, 4, 5, 6]), { heap, shape: [2, 3] });
    const d2 = SharedArray.from(new Float64Array([1, 0, 0, 0, 1, 1]), { heap, shape: [2, 3] });
    const c = SharedArray.zeros([2, 2], 'f8', { heap });
    const run = () =>
      dgemm.ndarray(
        'no-transpose',
        'transpose',
        2,
        2,
        3,
        1,
        d1.data,
        d1.strides[0],
        d1.strides[1],
        0,
        d2.data,
        d2.strides[0],
        d2.strides[1],
        0,
        0,
        c.data,
        c.strides[0],
        c.strides[1],
        0,
      );
    run();
    assert.deepEqual(c.toArray(), [
      [1, 5],
      [4, 11],
    ]);
    d1.set([0, 0], 10); // shmframe -> stdlib
    run();
    assert.equal(c.get(0, 0), 10);
    for (const a of [d1, d2, c]) a.close();
  });
});

test('dmean and dger over a frame values() view (column-major, strided): seed 002 transform', async () => {
  await withHeap((heap) => {
    const f = SharedFrame.from({ a: [1, 2, 3], b: [10, 20, 30] }, { heap });
    const v = f.values(); // [3, 2], strides [1, column stride]
    const [s0, s1] = v.strides;
    const means = Float64Array.from({ length: 2 }, (_, j) => dmean.ndarray(3, v.data, s0, j * s1));
    assert.deepEqual([...means], [2, 20]);
    const out = SharedArray.zeros([2, 2], 'f8', { heap });
    // np.outer(df.loc[row 1], means): row 1 of the frame is v.data[1 + j * s1]
    dger.ndarray(
      2,
      2,
      1,
      v.data,
      s1,
      1 * s0,
      means,
      1,
      0,
      out.data,
      out.strides[0],
      out.strides[1],
      0,
    );
    assert.deepEqual(out.toArray(), [
      [4, 40],
      [40, 400],
    ]);
    // stdlib -> shmframe: an ndarray view over the frame's values writes the frame
    const nd = new ndarrayCtor(
      'float64',
      v.data,
      v.shape.slice(),
      v.strides.slice(),
      0,
      'column-major',
    );
    nd.set(2, 1, -5);
    assert.equal(f.get(2, 'b'), -5);
    f.col('a')[0] = 7; // and the frame's write is seen through the view
    assert.equal(nd.get(0, 0), 7);
    for (const o of [out, v, f]) o.close();
  });
});
