import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedFrame, Utf8Column, CategoryColumn, BytesColumn } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { assertRefused } from '../../helpers/frame.js';

function sample(heap) {
  return SharedFrame.from(
    {
      f: [1.5, 2.5, 3.5],
      i: new Int32Array([1, 2, 3]),
      big: [1n, 2n, 3n],
      b: [true, false, true],
      d: [new Date(0), new Date(1000), new Date(2000)],
      day: [new Date(0), new Date(86400000), null],
      s: ['ab', 'cd', ''],
      t: ['x', 'yy', 'zzz'],
      c: ['lo', 'hi', 'lo'],
    },
    { heap, schema: { s: 'S3', c: 'category', day: 'M8[D]' } },
  );
}

test('get/set every column kind in place; col() gives TypedArray views or column objects', async () => {
  await withHeap(async (heap) => {
    const f = sample(heap);
    f.set(0, 'f', -1);
    f.set(1, 'i', 2147483647);
    f.set(2, 'big', -5);
    f.set(0, 'b', false);
    f.set(1, 'd', new Date(123));
    f.set(1, 'day', new Date(3 * 86400000 + 5));
    f.set(2, 's', 'xyz');
    f.set(-1, 'c', 'mid');
    assert.deepEqual(f.row(0), {
      f: -1,
      i: 1,
      big: 1n,
      b: false,
      d: new Date(0),
      day: new Date(0),
      s: 'ab',
      t: 'x',
      c: 'lo',
    });
    assert.deepEqual(f.row(1).d, new Date(123));
    assert.deepEqual(f.row(1).day, new Date(3 * 86400000)); // floored to days, as numpy does
    assert.deepEqual(f.row(2), {
      f: 3.5,
      i: 3,
      big: -5n,
      b: true,
      d: new Date(2000),
      day: null,
      s: 'xyz',
      t: 'zzz',
      c: 'mid',
    });
    // TypedArray views of the shared memory.
    assert.ok(f.col('f') instanceof Float64Array);
    assert.equal(f.col('f').buffer, heap.buffer);
    assert.ok(f.col('big') instanceof BigInt64Array);
    assert.ok(f.col('b') instanceof Uint8Array);
    assert.deepEqual(f.col('d'), new BigInt64Array([0n, 123n, 2000n]));
    f.col('i')[0] = 42;
    assert.equal(f.get(0, 'i'), 42);
    // Column objects.
    const t = f.col('t');
    assert.ok(t instanceof Utf8Column);
    assert.deepEqual([...t], ['x', 'yy', 'zzz']);
    assert.equal(t.get(-1), 'zzz');
    assert.equal(t.length, 3);
    const c = f.col('c');
    assert.ok(c instanceof CategoryColumn);
    assert.deepEqual(c.categories, ['lo', 'hi', 'mid']);
    assert.deepEqual(c.codes, new Int32Array([0, 1, 2]));
    assert.equal(c.codes.buffer, heap.buffer);
    c.set(0, 'hi');
    c.set(1, null);
    assert.deepEqual(c.toArray(), ['hi', null, 'mid']);
    assert.equal(c.codes[1], -1);
    const s = f.col('s');
    assert.ok(s instanceof BytesColumn);
    assert.equal(s.itemsize, 3);
    s.set(0, new Uint8Array([65, 0, 66]));
    assert.deepEqual(Array.from(s.data.subarray(0, 3)), [65, 0, 66]);
    assert.equal(s.get(1), 'cd');
    assert.match(String(t), /Utf8Column\("t", utf8, 3 rows\)/);
    f.close();
  });
});

test('nulls: setNull on every kind (utf8 too), NaN/NaT/-1 stored, isNull, set(null)', async () => {
  await withHeap(async (heap) => {
    const f = sample(heap);
    for (const name of f.columns) {
      f.setNull(0, name);
      assert.equal(f.isNull(0, name), true, name);
      assert.equal(f.get(0, name), null, name);
      assert.equal(f.isNull(1, name), false, name);
    }
    assert.ok(Number.isNaN(f.col('f')[0]));
    assert.equal(f.col('d')[0], -(2n ** 63n));
    assert.equal(f.col('c').codes[0], -1);
    f.set(0, 'f', 7);
    assert.equal(f.isNull(0, 'f'), false);
    f.set(1, 'i', null);
    assert.equal(f.isNull(1, 'i'), true);
    f.set(1, 'd', new Date(NaN)); // an invalid Date is NaT, i.e. null
    assert.equal(f.isNull(1, 'd'), true);
    f.set(2, 'f', NaN); // a NaN value is not null
    assert.equal(f.isNull(2, 'f'), false);
    f.close();
  });
});

test('bad cell access is refused with its code and the heap unchanged', async () => {
  const heap = Heap.create({ size: '2M' });
  const f = sample(heap);
  const cases = [
    [() => f.set(3, 'f', 1), 'SHMFRAME_ERR_SHAPE', /Row 3 is out of range for a frame of 3 rows/],
    [() => f.set(-4, 'f', 1), 'SHMFRAME_ERR_SHAPE', /out of range/],
    [() => f.set(0.5, 'f', 1), 'SHMFRAME_ERR_SHAPE', /integer/],
    [() => f.get(9, 'f'), 'SHMFRAME_ERR_SHAPE', /out of range/],
    [() => f.set(0, 'nope', 1), 'SHMFRAME_ERR_INVALID_ARG', /Unknown column "nope".*\["f","i"/],
    [() => f.get(0, 3), 'SHMFRAME_ERR_INVALID_ARG', /Unknown column 3/],
    [
      () => f.set(0, 'f', 'x'),
      'SHMFRAME_ERR_INVALID_ARG',
      /Expected a number for row 0 of column "f"/,
    ],
    [() => f.set(0, 'i', 2 ** 31), 'SHMFRAME_ERR_INVALID_ARG', /out of range/],
    [() => f.set(0, 'i', 1.5), 'SHMFRAME_ERR_INVALID_ARG', /integer/],
    [() => f.set(0, 'big', 2n ** 63n), 'SHMFRAME_ERR_INVALID_ARG', /out of range/],
    [() => f.set(0, 'b', 'yes'), 'SHMFRAME_ERR_INVALID_ARG', /boolean/],
    [() => f.set(0, 'd', 'today'), 'SHMFRAME_ERR_INVALID_ARG', /Date/],
    [
      () => f.set(0, 's', 'abcd'),
      'SHMFRAME_ERR_INVALID_ARG',
      /4 bytes long, wider than its dtype \|S3.*never truncated/,
    ],
    [() => f.set(0, 's', 'éé'), 'SHMFRAME_ERR_INVALID_ARG', /wider/],
    [
      () => f.set(0, 't', 'new'),
      'SHMFRAME_ERR_INVALID_ARG',
      /immutable once written.*'\|S<n>'.*'category'/,
    ],
    [() => f.col('t').set(0, 'new'), 'SHMFRAME_ERR_INVALID_ARG', /immutable/],
    [() => f.set(0, 'c', 5), 'SHMFRAME_ERR_INVALID_ARG', /string label/],
    [() => f.set(0, 'c', 'a\ud800'), 'SHMFRAME_ERR_INVALID_ARG', /lone surrogate/],
    [() => f.set(0, 's', '\udc00'), 'SHMFRAME_ERR_INVALID_ARG', /lone surrogate/],
    [() => f.col('c').set(7, 'x'), 'SHMFRAME_ERR_SHAPE', /out of range/],
    [() => f.col('s').set(0, 7), 'SHMFRAME_ERR_INVALID_ARG', /string or Uint8Array/],
    [() => f.setNull(5, 'f'), 'SHMFRAME_ERR_SHAPE', /out of range/],
    [() => f.isNull(0, 'zz'), 'SHMFRAME_ERR_INVALID_ARG', /Unknown column/],
    [() => f.row(3), 'SHMFRAME_ERR_SHAPE', /out of range/],
    [() => f.col('zz'), 'SHMFRAME_ERR_INVALID_ARG', /Unknown column "zz"/],
  ];
  for (const [fn, code, message] of cases) assertRefused(heap, fn, code, message);
  f.close();
  assert.equal(heap.stats().objects, 0);
});

test('a category code written out of its dictionary is reported, never read past it', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from({ c: ['a', 'b'] }, { heap, schema: { c: 'category' } });
    f.col('c').codes[1] = 7;
    assert.throws(() => f.get(1, 'c'), {
      code: 'SHMFRAME_ERR_CORRUPT',
      message: /code 7, outside its dictionary of 2 labels/,
    });
    f.col('c').codes[1] = 0;
    assert.equal(f.get(1, 'c'), 'a');
    f.close();
  });
});

test('row(), rows() and negative positions', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from({ a: [1, 2, 3], b: ['x', 'y', 'z'] }, { heap });
    assert.deepEqual(f.row(-1), { a: 3, b: 'z' });
    assert.deepEqual(
      [...f.rows()].map((r) => r.b),
      ['x', 'y', 'z'],
    );
    assert.equal(f.get(-3, 'a'), 1);
    f.close();
  });
});

test('a column view keeps working while its frame is open and fails cleanly once closed', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from({ t: ['a'] }, { heap });
    const t = f.col('t');
    f.close();
    assert.throws(() => t.get(0), { code: 'SHMFRAME_ERR_CLOSED' });
    assert.throws(() => f.get(0, 't'), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});
