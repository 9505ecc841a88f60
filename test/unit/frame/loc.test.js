import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { assertRefused } from '../../helpers/frame.js';

test('loc and indexOf find rows by label; the table follows appends and edits', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      { id: ['a', 'b', 'c'], x: [1, 2, 3] },
      { heap, index: 'id', capacity: 5 },
    );
    assert.equal(f.index, 'id');
    assert.deepEqual(f.loc('b'), { id: 'b', x: 2 });
    assert.equal(f.indexOf('c'), 2);
    assert.equal(f.indexOf('zz'), -1);
    f.append({ id: 'd', x: 4 });
    assert.deepEqual(f.loc('d'), { id: 'd', x: 4 });
    // utf8 labels cannot change; a null label is skipped.
    f.setNull(0, 'id');
    assert.equal(f.indexOf('a'), -1);
    const sl = f.slice(1, 3);
    assert.equal(sl.indexOf('c'), 1);
    assert.equal(sl.indexOf('d'), -1);
    sl.close();
    f.close();
  });
});

test('numeric, bigint, |S and Date labels; edits through set and through TypedArray views', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      { k: new Int32Array([10, 20, 30]), v: ['x', 'y', 'z'] },
      { heap, index: 'k' },
    );
    assert.equal(f.loc(20).v, 'y');
    f.set(1, 'k', 25);
    assert.equal(f.indexOf(20), -1);
    assert.equal(f.loc(25).v, 'y');
    // A write through the TypedArray view bypasses the edit counter: hits are still checked.
    f.col('k')[2] = 35;
    assert.equal(f.indexOf(30), -1);
    assert.equal(f.indexOf(35), 2);
    f.close();
    const g = SharedFrame.from(
      { k: [1n, 2n], d: [new Date(5), new Date(6)], s: ['ab', 'cd'] },
      { heap, index: 'k', schema: { s: 'S2' } },
    );
    assert.equal(g.indexOf(2), 1); // a number finds a bigint label
    assert.equal(g.indexOf(2n), 1);
    g.close();
    const h = SharedFrame.from({ d: [new Date(5), new Date(6)] }, { heap, index: 'd' });
    assert.equal(h.indexOf(new Date(6)), 1);
    h.close();
    const s = SharedFrame.from({ s: ['ab', 'cd'] }, { heap, index: 's', schema: { s: 'S2' } });
    assert.equal(s.indexOf('cd'), 1);
    // An edit through the column object is an edit of the index too (in any thread).
    s.col('s').set(1, 'zz');
    assert.equal(s.indexOf('zz'), 1);
    assert.equal(s.indexOf('cd'), -1);
    s.close();
    const c = SharedFrame.from({ k: ['a', 'b'] }, { heap, index: 'k', schema: { k: 'category' } });
    assert.equal(c.indexOf('b'), 1);
    c.col('k').set(0, 'new');
    assert.equal(c.indexOf('new'), 0);
    c.close();
  });
});

test('duplicate labels are an error at loc naming the label; missing labels and no index are errors', () => {
  const heap = Heap.create({ size: '2M' });
  const g = SharedFrame.from({ id: ['a', 'b', 'a', 'c'], x: [1, 2, 3, 4] }, { heap, index: 'id' });
  assertRefused(
    heap,
    () => g.loc('a'),
    'SHMFRAME_ERR_INVALID_ARG',
    /holds the label "a" \(string\) more than once \(rows 0, 2\)/,
  );
  assert.deepEqual(g.loc('b'), { id: 'b', x: 2 }); // unique labels still work
  assertRefused(
    heap,
    () => g.loc('q'),
    'SHMFRAME_ERR_INVALID_ARG',
    /Label "q" \(string\) is not in the index column "id"/,
  );
  const noIndex = SharedFrame.from({ x: [1] }, { heap });
  assertRefused(heap, () => noIndex.loc(1), 'SHMFRAME_ERR_INVALID_ARG', /no index column/);
  const sel = g.select(['x']);
  assertRefused(heap, () => sel.loc('b'), 'SHMFRAME_ERR_INVALID_ARG', /no index column/);
  for (const x of [noIndex, sel, g]) x.close();
  assert.equal(heap.stats().objects, 0);
});
