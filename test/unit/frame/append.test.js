import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { assertRefused } from '../../helpers/frame.js';

const kSchema = {
  id: 'i4',
  name: 'utf8',
  city: 'category',
  x: 'f8',
  code: 'S2',
  when: 'M8[ms]',
  ok: 'bool',
};

test('append a row, an array of rows, or columns; returns the first new position', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.create(kSchema, { capacity: 10, heap });
    assert.equal(
      f.append({ id: 1, name: 'a', city: 'P', x: 0.5, code: 'AB', when: new Date(1), ok: true }),
      0,
    );
    assert.equal(
      f.append([
        { id: 2, name: 'bé' },
        { id: 3, city: 'R' },
      ]),
      1,
    );
    assert.equal(
      f.append({
        id: new Int32Array([4, 5]),
        name: ['d', null],
        city: ['P', 'Q'],
        x: new Float64Array([4, 5]),
        when: [5, 6],
      }),
      3,
    );
    assert.equal(f.append([]), 5);
    assert.equal(f.length, 5);
    assert.deepEqual(f.row(0), {
      id: 1,
      name: 'a',
      city: 'P',
      x: 0.5,
      code: 'AB',
      when: new Date(1),
      ok: true,
    });
    assert.deepEqual(f.row(1), {
      id: 2,
      name: 'bé',
      city: null,
      x: null,
      code: null,
      when: null,
      ok: null,
    });
    assert.deepEqual(f.row(4), {
      id: 5,
      name: null,
      city: 'Q',
      x: 5,
      code: null,
      when: new Date(6),
      ok: null,
    });
    assert.deepEqual(f.col('city').categories, ['P', 'R', 'Q']);
    f.close();
  });
});

test('appending past capacity, string bytes or dictionary room is HEAP_FULL and changes nothing', () => {
  const heap = Heap.create({ size: '2M' });
  const f = SharedFrame.create(kSchema, {
    capacity: 3,
    heap,
    stringBytes: 8,
    categories: 2,
    categoryBytes: 64,
  });
  f.append([
    { id: 1, name: 'abc', city: 'P' },
    { id: 2, name: 'de', city: 'Q' },
  ]);
  assertRefused(
    heap,
    () => f.append([{ id: 3 }, { id: 4 }]),
    'SHMFRAME_ERR_HEAP_FULL',
    /Cannot append 2 rows: the frame holds 2 of its 3 rows.*larger `capacity`/,
  );
  assertRefused(
    heap,
    () => f.append({ id: 3, name: 'abcd' }),
    'SHMFRAME_ERR_HEAP_FULL',
    /utf8 column "name" has 3 of its 8 string bytes left.*`stringBytes`/,
  );
  assertRefused(
    heap,
    () => f.append({ id: 3, city: 'R' }),
    'SHMFRAME_ERR_HEAP_FULL',
    /dictionary of category column "city" cannot take 1 new labels.*`categories`/,
  );
  assertRefused(
    heap,
    () => f.set(0, 'city', 'R'),
    'SHMFRAME_ERR_HEAP_FULL',
    /dictionary of category column "city" is full/,
  );
  // The frame still works afterwards.
  f.append({ id: 3, name: 'fgh', city: 'Q' });
  assertRefused(heap, () => f.append({ id: 4 }), 'SHMFRAME_ERR_HEAP_FULL', /holds 3 of its 3 rows/);
  assert.deepEqual([...f.col('name')], ['abc', 'de', 'fgh']);
  f.close();
  assert.equal(heap.stats().objects, 0);
});

test('bad rows are refused before anything is reserved or written', () => {
  const heap = Heap.create({ size: '2M' });
  const f = SharedFrame.create(kSchema, { capacity: 10, heap });
  f.append({ id: 1, name: 'a', city: 'P' });
  const cases = [
    [() => f.append({ id: 2, nope: 1 }), 'SHMFRAME_ERR_INVALID_ARG', /Unknown column "nope"/],
    [() => f.append({ id: 'x' }), 'SHMFRAME_ERR_INVALID_ARG', /an integer for column "id"/],
    [
      () => f.append({ id: 2, city: 'NEW', code: 'TOO LONG' }),
      'SHMFRAME_ERR_INVALID_ARG',
      /wider than its dtype \|S2/,
    ],
    [
      () => f.append({ id: 2, city: 'NEW', name: 5 }),
      'SHMFRAME_ERR_INVALID_ARG',
      /a string \(or null\) for column "name"/,
    ],
    [
      () => f.append([{ id: 2 }, { id: 2.5 }]),
      'SHMFRAME_ERR_INVALID_ARG',
      /value 1 of column "id"/,
    ],
    [() => f.append({ id: [1, 2], x: [1] }), 'SHMFRAME_ERR_SHAPE', /differ in length/],
    [() => f.append({ id: [1, 2], x: 1 }), 'SHMFRAME_ERR_INVALID_ARG', /mix of arrays and values/],
    [() => f.append('row'), 'SHMFRAME_ERR_INVALID_ARG', /a row object/],
    [
      () => f.append({ name: 'x\ud83d' }),
      'SHMFRAME_ERR_INVALID_ARG',
      /lone surrogate.*toWellFormed/,
    ],
    [() => f.append([5]), 'SHMFRAME_ERR_INVALID_ARG', /row 0 to be an object/],
  ];
  for (const [fn, code, message] of cases) assertRefused(heap, fn, code, message);
  assert.equal(f.length, 1);
  assert.deepEqual(f.col('city').categories, ['P']);
  f.close();
});

test('views cannot append; a closed frame cannot append', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.create({ a: 'f8', b: 'f8' }, { capacity: 4, heap });
    const sel = f.select(['a']);
    assert.throws(() => sel.append({ a: 1 }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /through a view/,
    });
    sel.close();
    f.close();
    assert.throws(() => f.append({ a: 1 }), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('from() with capacity leaves room; string bytes and labels are sized from the data', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      { s: ['aaaa', 'bbbb'], c: ['x', 'y'] },
      { heap, capacity: 4, schema: { c: 'category' } },
    );
    f.append([
      { s: 'cccc', c: 'z' },
      { s: 'dddd', c: 'w' },
    ]); // 4 bytes a row, as measured
    assert.equal(f.length, 4);
    f.close();
    const exact = SharedFrame.from({ s: ['ab'] }, { heap, capacity: 2, stringBytes: 2 });
    assert.throws(() => exact.append({ s: 'c' }), { code: 'SHMFRAME_ERR_HEAP_FULL' });
    exact.close();
  });
});
