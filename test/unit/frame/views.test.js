import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFrame, SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kShare = Symbol.for('shmframe.share');

function frame(heap) {
  return SharedFrame.from(
    {
      a: [0, 1, 2, 3, 4],
      n: new Int32Array([0, 10, 20, 30, 40]),
      b: [5, 6, 7, 8, 9],
      c: [9, 9, 9, 9, 9],
      t: ['p', 'q', 'r', 's', 't'],
    },
    { heap, capacity: 8 },
  );
}

test('select and slice are views: same memory, kept alive by the view', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    const sel = f.select(['t', 'a']);
    assert.deepEqual(sel.columns, ['t', 'a']);
    assert.deepEqual(sel.row(1), { t: 'q', a: 1 });
    assert.throws(() => sel.get(0, 'n'), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /\["t","a"\]/,
    });
    const sl = f.slice(1, -1);
    assert.equal(sl.length, 3);
    assert.deepEqual(sl.col('n'), new Int32Array([10, 20, 30]));
    assert.equal(sl.get(0, 't'), 'q');
    sl.set(0, 'a', 100);
    assert.equal(f.get(1, 'a'), 100);
    const tail = sl.slice(1);
    const sub = tail.select(['t']);
    tail.close();
    assert.deepEqual([...sub.rows()], [{ t: 'r' }, { t: 's' }]);
    // A slice is fixed; the frame and a select view follow appends.
    f.append({ a: 5 });
    assert.equal(sl.length, 3);
    assert.equal(sel.length, 6);
    for (const [a, b, n] of [
      [-100, 100, 6],
      [4, 2, 0],
      [-2, undefined, 2],
    ]) {
      const v = f.slice(a, b);
      assert.equal(v.length, n);
      v.close();
    }
    f.close();
    assert.equal(sl.get(2, 'a'), 3); // the views keep the block alive
    for (const v of [sel, sl, sub]) v.close();
    assert.throws(() => sl.select([]), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('select refuses unknown and repeated names', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    assert.throws(() => f.select(['a', 'zz']), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /Unknown column "zz"/,
    });
    assert.throws(() => f.select(['a', 'a']), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /"a" is selected twice/,
    });
    assert.throws(() => f.select([]), { code: 'SHMFRAME_ERR_INVALID_ARG' });
    assert.throws(() => f.slice(0.5), { code: 'SHMFRAME_ERR_SHAPE' });
    f.close();
  });
});

test('values(): a zero-copy column-major array over same-dtype columns', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    const abc = f.select(['a', 'b', 'c']);
    const all = abc.values();
    abc.close();
    assert.deepEqual(all.shape, [5, 3]);
    assert.equal(all.dtype, '<f8');
    assert.equal(all.data.buffer, heap.buffer);
    assert.deepEqual(all.toArray()[2], [2, 7, 9]);
    all.set([2, 1], -1);
    assert.equal(f.get(2, 'b'), -1);
    // Evenly spaced (a, c), sliced rows, a single column.
    const last = f.slice(3);
    const lastAc = last.select(['a', 'c']);
    const ac = lastAc.values();
    last.close();
    lastAc.close();
    assert.deepEqual(ac.toArray(), [
      [3, 9],
      [4, 9],
    ]);
    const n = f.select(['n']);
    const one = n.values();
    n.close();
    assert.deepEqual(one.toArray(), [[0], [10], [20], [30], [40]]);
    // A view of a view (rows()) is still hosted by the frame block, and its handle attaches.
    const tail = all.rows(3);
    const again = SharedArray.attach(tail.handle);
    assert.deepEqual(again.toArray(), [
      [3, 8, 9],
      [4, 9, 9],
    ]);
    for (const a of [all, ac, one, tail, again]) a.close();
    f.close();
  });
});

test('values() refuses mixed dtypes, reversed or uneven columns, and text', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    const views = [f.select(['a', 'n']), f.select(['b', 'a']), f.select(['t'])];
    assert.throws(() => f.values(), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /one fixed-width dtype.*<f8, <i4/,
    });
    assert.throws(() => views[0].values(), { code: 'SHMFRAME_ERR_DTYPE' });
    assert.throws(() => views[1].values(), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /evenly spaced in schema order/,
    });
    assert.throws(() => views[2].values(), { code: 'SHMFRAME_ERR_DTYPE' });
    for (const v of views) v.close();
    f.close();
  });
});

test('handles: whole frames and views attach; forged views are refused and release their reference', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    const h = f.handle;
    assert.equal(f.handle, h, 'the cached handle is returned until attached');
    const g = SharedFrame.attach(h);
    assert.deepEqual(g.row(4), f.row(4));
    g.close();
    const rows = f.slice(2, 4);
    const sl = rows.select(['t']);
    rows.close();
    const s2 = SharedFrame.attach(sl.handle);
    assert.deepEqual([...s2.rows()], [{ t: 'r' }, { t: 's' }]);
    s2.close();
    sl.close();
    const forged = [
      { start: 0, columns: [99] },
      { start: 0, columns: [0, 0] },
      { start: 3, end: 2 },
      { start: 0, end: 6 }, // past the committed length
      { start: 7 },
      'x',
    ];
    for (const view of forged) {
      assert.throws(
        () => SharedFrame.attach({ ...f[kShare](), view }),
        { code: 'SHMFRAME_ERR_CORRUPT' },
        JSON.stringify(view),
      );
    }
    const mislabelled = { ...f[kShare](), kind: 'array' };
    assert.throws(() => SharedFrame.attach(mislabelled), { code: 'SHMFRAME_ERR_INVALID_ARG' });
    assert.equal(heap.releaseHandle(mislabelled), true); // refused before adoption: still outstanding
    assert.throws(() => SharedFrame.attach(42), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /SharedFrame handle/,
    });
    const wrongKind = SharedArray.zeros([2], 'f8', { heap });
    const arrayHandle = { ...wrongKind[kShare](), kind: 'frame' };
    assert.throws(() => SharedFrame.attach(arrayHandle), { code: 'SHMFRAME_ERR_INVALID_ARG' });
    assert.equal(heap.releaseHandle(arrayHandle), true);
    wrongKind.close();
    f.close();
    assert.throws(() => SharedFrame.attach(h), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('forged values() handles never reach outside the columns of their dtype group', async () => {
  await withHeap(async (heap) => {
    const f = frame(heap);
    const ab = f.select(['a', 'b']);
    const v = ab.values();
    ab.close();
    const good = v[kShare]();
    const host = good.view.host;
    const cases = [
      { ...good.view, offset: 3 * 8 }, // past the group of three f8 columns (capacity 8)
      { ...good.view, strides: [1, 1000] },
      { ...good.view, host: { ...host, spec: { group: 4 } } }, // column 4 is utf8: no group
      { ...good.view, host: { ...host, spec: { group: 99 } } },
      { ...good.view, host: { ...host, spec: { group: 2 } } }, // b is in the group, not its head
      { ...good.view, offset: 10, host: { ...host, spec: { group: 1 } } }, // the i4 group: too narrow
      { ...good.view, host: { ...host, spec: null } },
    ];
    for (const view of cases)
      assert.throws(
        () => SharedArray.attach({ ...v[kShare](), view }),
        { code: 'SHMFRAME_ERR_CORRUPT' },
        JSON.stringify(view),
      );
    // A host kind no class registered is refused before the reference is adopted.
    const stray = { ...v[kShare](), view: { ...good.view, host: { code: 77, spec: {} } } };
    assert.throws(() => SharedArray.attach(stray), { code: 'SHMFRAME_ERR_CORRUPT' });
    assert.equal(heap.releaseHandle(stray), true);
    assert.equal(heap.releaseHandle(good), true);
    v.close();
    f.close();
  });
});
