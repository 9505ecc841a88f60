import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kAll = {
  b: 'bool',
  i1: 'i1',
  i2: 'int16',
  i4: '<i4',
  i8: 'i8',
  u1: 'u1',
  u2: 'u2',
  u4: 'uint32',
  u8: 'u8',
  f4: 'f4',
  f8: 'float64',
  day: 'M8[D]',
  sec: 'M8[s]',
  ms: 'datetime64[ms]',
  us: 'M8[us]',
  ns: 'M8[ns]',
  s5: 'S5',
  text: 'utf8',
  cat: 'category',
};

test('create: every dtype, schema as object or pairs, capacity and an empty length', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.create(kAll, { capacity: 100, heap });
    assert.equal(f.length, 0);
    assert.equal(f.capacity, 100);
    assert.deepEqual(f.columns, Object.keys(kAll));
    assert.deepEqual(
      f.schema.map(([, d]) => d),
      [
        '|b1',
        '|i1',
        '<i2',
        '<i4',
        '<i8',
        '|u1',
        '<u2',
        '<u4',
        '<u8',
        '<f4',
        '<f8',
        '<M8[D]',
        '<M8[s]',
        '<M8[ms]',
        '<M8[us]',
        '<M8[ns]',
        '|S5',
        'utf8',
        'category',
      ],
    );
    assert.ok(Object.isFrozen(f.schema));
    assert.ok(SharedFrame.isSharedFrame(f));
    assert.ok(!SharedFrame.isSharedFrame({}));
    assert.equal(heap.stats().objects, 1); // one block per frame
    const twin = SharedFrame.create(f.schema, { capacity: 1, heap });
    assert.deepEqual(twin.schema, f.schema);
    twin.close();
    f.close();
    f.close(); // idempotent
    assert.equal(f.closed, true);
    assert.throws(() => f.length, { code: 'SHMFRAME_ERR_CLOSED' });
    assert.equal(String(f), 'SharedFrame (closed)');
  });
});

test('create({ length }): zero-filled rows, utf8 and category null', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.create(kAll, { length: 3, heap });
    assert.equal(f.length, 3);
    assert.equal(f.capacity, 3);
    assert.deepEqual(f.row(2), {
      b: false,
      i1: 0,
      i2: 0,
      i4: 0,
      i8: 0n,
      u1: 0,
      u2: 0,
      u4: 0,
      u8: 0n,
      f4: 0,
      f8: 0,
      day: new Date(0),
      sec: new Date(0),
      ms: new Date(0),
      us: new Date(0),
      ns: new Date(0),
      s5: '',
      text: null,
      cat: null,
    });
    f.set(1, 'f8', 2.5);
    f.set(1, 'cat', 'x');
    assert.equal(f.get(1, 'cat'), 'x');
    f.close();
  });
});

test('create refuses bad schemas and options with a clear error and allocates nothing', async () => {
  await withHeap(async (heap) => {
    const cases = [
      [
        () => SharedFrame.create({ a: 'f9' }, { capacity: 1, heap }),
        'SHMFRAME_ERR_DTYPE',
        /Column "a": Unsupported dtype "f9".*utf8/,
      ],
      [
        () => SharedFrame.create({ a: 'O' }, { capacity: 1, heap }),
        'SHMFRAME_ERR_DTYPE',
        /pointers/,
      ],
      [
        () =>
          SharedFrame.create(
            [
              ['a', 'f8'],
              ['a', 'i4'],
            ],
            { capacity: 1, heap },
          ),
        'SHMFRAME_ERR_INVALID_ARG',
        /Duplicate column name "a"/,
      ],
      [
        () => SharedFrame.create([['a']], { capacity: 1, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /\[name, dtype\] pair/,
      ],
      [
        () => SharedFrame.create([[1, 'f8']], { capacity: 1, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /column names .* strings/,
      ],
      [
        () => SharedFrame.create('f8', { capacity: 1, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /\{ name: dtype \}/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /Expected `capacity`/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: -3, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /got -3 \(number\)/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 1.5, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /capacity/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 2 ** 31, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /2147483647/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 2, length: 3, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /at most `capacity`/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 2, index: 'b', heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /`index` to name one of the columns \["a"\], got "b"/,
      ],
      [
        () => SharedFrame.create({ a: 'utf8' }, { capacity: 2, stringBytes: { b: 9 }, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /unknown column "b"/,
      ],
      [
        () => SharedFrame.create({ a: 'utf8' }, { capacity: 2, stringBytes: -1, heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /stringBytes/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, 7),
        'SHMFRAME_ERR_INVALID_ARG',
        /options of SharedFrame.create/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 1, heap: {} }),
        'SHMFRAME_ERR_INVALID_ARG',
        /`heap` to be a Heap/,
      ],
      [
        () => SharedFrame.create({ a: 'f8' }, { capacity: 2 ** 30, heap }),
        'SHMFRAME_ERR_HEAP_FULL',
        /Cannot allocate/,
      ],
    ];
    for (const [fn, code, message] of cases)
      assert.throws(fn, (e) => e.code === code && message.test(e.message), String(fn));
    assert.equal(heap.stats().objects, 0);
  });
});

test('from: dtypes inferred from TypedArrays and JS values; nulls; capacity for appends', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      {
        f: [1.5, null, undefined],
        big: [1n, null, -(2n ** 63n)],
        b: [true, false, null],
        s: ['x', null, 'ẑ'],
        d: [new Date(5), null, new Date(-5)],
        none: [null, null, null],
        i4: new Int32Array([1, 2, 3]),
        u8: new BigUint64Array([1n, 2n, 2n ** 64n - 1n]),
        f4: new Float32Array([0.5, 1, 2]),
        c: new Uint8ClampedArray([1, 2, 255]),
      },
      { heap, capacity: 10 },
    );
    assert.deepEqual(f.schema, [
      ['f', '<f8'],
      ['big', '<i8'],
      ['b', '|b1'],
      ['s', 'utf8'],
      ['d', '<M8[ms]'],
      ['none', '<f8'],
      ['i4', '<i4'],
      ['u8', '<u8'],
      ['f4', '<f4'],
      ['c', '|u1'],
    ]);
    assert.equal(f.length, 3);
    assert.equal(f.capacity, 10);
    assert.deepEqual(f.row(2), {
      f: null,
      big: -(2n ** 63n),
      b: null,
      s: 'ẑ',
      d: new Date(-5),
      none: null,
      i4: 3,
      u8: 2n ** 64n - 1n,
      f4: 2,
      c: 255,
    });
    assert.ok(Number.isNaN(f.col('f')[1]), 'null floats are NaN in memory');
    f.close();
    const empty = SharedFrame.from({}, { heap });
    assert.equal(empty.length, 0);
    assert.deepEqual(empty.columns, []);
    empty.close();
  });
});

test('from: schema converts, orders (when complete) and validates', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      { a: [1, 2], b: ['x', 'y'] },
      {
        heap,
        schema: [
          ['b', 'category'],
          ['a', 'i2'],
        ],
      },
    );
    assert.deepEqual(f.schema, [
      ['b', 'category'],
      ['a', '<i2'],
    ]);
    f.close();
    const g = SharedFrame.from({ a: [1, 2], t: [1000, 2000] }, { heap, schema: { t: 'M8[s]' } });
    assert.deepEqual(g.row(1), { a: 2, t: new Date(2000 * 1000) });
    g.close();
  });
});

test('from refuses bad input with its code and leaves the heap as it was', async () => {
  await withHeap(async (heap) => {
    const cases = [
      [
        () => SharedFrame.from({ a: [1, 2], b: [1] }, { heap }),
        'SHMFRAME_ERR_SHAPE',
        /"a" has 2 values, "b" has 1/,
      ],
      [
        () => SharedFrame.from({ a: [1, 'x'] }, { heap }),
        'SHMFRAME_ERR_DTYPE',
        /Column "a" mixes numbers .* and strings .*row 1/,
      ],
      [
        () => SharedFrame.from({ a: [{}] }, { heap }),
        'SHMFRAME_ERR_DTYPE',
        /Cannot infer a dtype for column "a"/,
      ],
      [
        () => SharedFrame.from({ a: [1] }, { heap, schema: { b: 'f8' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /names the column "b", which is not in `columns`/,
      ],
      [
        () => SharedFrame.from({ a: [300] }, { heap, schema: { a: 'u1' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /300 is out of range \[0, 255\] for row 0 of column "a"/,
      ],
      [
        () => SharedFrame.from({ a: [1.5] }, { heap, schema: { a: 'i4' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /integer for row 0 of column "a"/,
      ],
      [
        () => SharedFrame.from({ a: ['x'] }, { heap, schema: { a: 'f8' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /a number for row 0/,
      ],
      [
        () => SharedFrame.from({ a: ['toolong'] }, { heap, schema: { a: 'S3' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /wider than its dtype \|S3.*never truncated/,
      ],
      [
        () => SharedFrame.from({ a: [1] }, { heap, schema: { a: 'utf8' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /a string \(or null\) for row 0 of column "a"/,
      ],
      [
        () => SharedFrame.from({ a: [1] }, { heap, schema: { a: 'category' } }),
        'SHMFRAME_ERR_INVALID_ARG',
        /string label/,
      ],
      [
        () => SharedFrame.from({ a: 5 }, { heap }),
        'SHMFRAME_ERR_INVALID_ARG',
        /column "a" to be an array/,
      ],
      [() => SharedFrame.from([1, 2], { heap }), 'SHMFRAME_ERR_INVALID_ARG', /fromRecords/],
      [
        () => SharedFrame.from({ a: [1, 2] }, { heap, capacity: 1 }),
        'SHMFRAME_ERR_INVALID_ARG',
        /at least the 2 rows/,
      ],
      [
        () => SharedFrame.from({ a: [1] }, { heap, index: 'z' }),
        'SHMFRAME_ERR_INVALID_ARG',
        /`index`/,
      ],
    ];
    for (const [fn, code, message] of cases)
      assert.throws(fn, (e) => e.code === code && message.test(e.message), String(fn));
  });
});

test('fromRecords: keys in order of first appearance, missing keys null, schema-only columns', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.fromRecords([{ b: 1, a: 'x' }, { a: 'y', c: true }, {}], {
      heap,
      schema: { z: 'i4', a: 'category' },
    });
    assert.deepEqual(f.schema, [
      ['b', '<f8'],
      ['a', 'category'],
      ['c', '|b1'],
      ['z', '<i4'],
    ]);
    assert.deepEqual(
      [...f.rows()],
      [
        { b: 1, a: 'x', c: null, z: null },
        { b: null, a: 'y', c: true, z: null },
        { b: null, a: null, c: null, z: null },
      ],
    );
    f.close();
    assert.throws(() => SharedFrame.fromRecords([1], { heap }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /row 0 to be an object/,
    });
    assert.throws(() => SharedFrame.fromRecords({ a: 1 }, { heap }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
    });
  });
});

test('the default heap is used when none is given', () => {
  const heap = Heap.default();
  const before = heap.stats().objects;
  const f = SharedFrame.from({ a: [1] });
  assert.equal(f.heap, heap);
  f.close();
  assert.equal(heap.stats().objects, before);
});
