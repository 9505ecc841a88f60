// The frame -> arquero bridge of docs/compute.md: aq.fromArrow(f.toArrow()) reads the frame's
// shared memory without copying numeric columns: a write on either side is seen on the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as aq from 'arquero';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

function frame(heap) {
  return SharedFrame.from(
    {
      x: [1.5, null, 3, 4],
      n: new Int32Array([10, 20, 30, 40]),
      chr: ['chr1', 'chr2', 'chr1', null],
    },
    { heap, schema: { chr: 'category' } },
  );
}

test('arquero over toArrow(): a frame write is seen by the arquero table, and the reverse', async () => {
  await withHeap((heap) => {
    const f = frame(heap);
    const t = aq.fromArrow(f.toArrow());
    assert.equal(t.numRows(), 4);
    assert.equal(t.get('x', 1), null, 'nulls arrive as nulls');
    // frame -> arquero
    f.col('x')[0] = 42;
    f.set(2, 'n', -7);
    assert.equal(t.get('x', 0), 42);
    assert.equal(t.get('n', 2), -7);
    // arquero -> frame: the column arquero holds is a view of the heap
    const xs = t.column('x').toArray();
    const ns = t.column('n').toArray();
    assert.equal(xs.buffer, heap.buffer, 'f8 column not copied');
    assert.equal(ns.buffer, heap.buffer, 'i4 column not copied');
    xs[3] = -1;
    ns[0] = 99;
    assert.equal(f.get(3, 'x'), -1);
    assert.equal(f.get(0, 'n'), 99);
    f.close();
  });
});

test('arquero group-by over a category column agrees with the built-in reductions', async () => {
  await withHeap((heap) => {
    const f = frame(heap);
    const t = aq
      .fromArrow(f.toArrow())
      .groupby('chr')
      .rollup({ rows: aq.op.count(), n: aq.op.sum('n'), x: aq.op.mean('x') })
      .orderby('chr');
    assert.deepEqual(t.objects(), [
      { chr: null, rows: 1, n: 40, x: 4 }, // arquero orders nulls first
      { chr: 'chr1', rows: 2, n: 40, x: 2.25 },
      { chr: 'chr2', rows: 1, n: 20, x: undefined }, // arquero's mean of no values
    ]);
    const chr1 = f.filter((i) => f.get(i, 'chr') === 'chr1');
    assert.equal(chr1.sum('n'), 40);
    assert.equal(chr1.mean('x'), 2.25);
    chr1.close();
    f.close();
  });
});
