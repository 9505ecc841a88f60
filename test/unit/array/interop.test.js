// Zero-copy interop with the ndarray libraries, using exactly the one-liners in docs/array.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ndarray from 'ndarray';
import stdlibNdarray from '@stdlib/ndarray-base-ctor';
import { SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

test('scijs ndarray over a.data, a.shape, a.strides shares memory (also for a strided view)', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from(
      Float64Array.from({ length: 12 }, (_, i) => i),
      { heap, shape: [3, 4] },
    );
    const nd = ndarray(a.data, a.shape.slice(), a.strides.slice());
    assert.equal(nd.get(2, 3), 11);
    nd.set(1, 1, -1);
    assert.equal(a.get(1, 1), -1, 'a write through ndarray is seen by the SharedArray');
    assert.equal(nd.data.buffer, heap.buffer);
    const v = a.rows(1);
    const ndv = ndarray(v.data, v.shape.slice(), v.strides.slice());
    assert.equal(ndv.get(0, 1), -1);
    assert.equal(ndv.get(1, 3), 11);
    v.close();
    a.close();
  });
});

test('@stdlib/ndarray over a.data, a.shape, a.strides shares memory', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from(
      Int32Array.from({ length: 6 }, (_, i) => i * 10),
      { heap, shape: [2, 3] },
    );
    const x = new stdlibNdarray(
      'int32',
      a.data,
      a.shape.slice(),
      a.strides.slice(),
      0,
      'row-major',
    );
    assert.equal(x.get(1, 2), 50);
    x.set(0, 0, 7);
    assert.equal(a.get(0, 0), 7);
    a.close();
  });
});
