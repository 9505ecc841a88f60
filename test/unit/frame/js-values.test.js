// SharedFrame behaves like a JavaScript value: iterable row by row, JSON-serialisable column by
// column, head/tail are frame views that print, slices print their rows' real positions, and
// attach checks a schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DtypeError, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

function sample(heap, n = 8) {
  return SharedFrame.from(
    {
      x: Float64Array.from({ length: n }, (_, i) => i * 1.5),
      s: Array.from({ length: n }, (_, i) => (i === 2 ? null : `r${i}`)),
      big: BigInt64Array.from({ length: n }, (_, i) => 2n ** 60n + BigInt(i)),
    },
    { heap, capacity: n + 2 },
  );
}

test('a frame iterates its rows as objects, like rows()', async () => {
  await withHeap((heap) => {
    const f = sample(heap, 3);
    assert.deepEqual([...f], [...f.rows()]);
    assert.deepEqual([...f][2], { x: 3, s: null, big: 2n ** 60n + 2n });
    const names = [];
    for (const { s } of f) names.push(s);
    assert.deepEqual(names, ['r0', 'r1', null]);
    const rows = f.slice(1);
    const view = rows.select(['s']);
    assert.deepEqual([...view], [{ s: 'r1' }, { s: null }]);
    // Rows appended while iterating are not seen: iteration covers the rows when it starts.
    const seen = [];
    for (const row of f) {
      if (seen.length === 0) f.append({ x: 99 });
      seen.push(row.x);
    }
    assert.deepEqual(seen, [0, 1.5, 3]);
    assert.equal(f.length, 4);
    for (const o of [view, rows, f]) o.close();
  });
});

test('toJSON: columns as arrays; nulls null, bigints and dates as strings, NaN via JSON null', async () => {
  await withHeap((heap) => {
    const f = SharedFrame.from(
      {
        n: [1, NaN, null],
        i: new Int32Array([1, 2, 3]),
        big: [2n ** 63n - 1n, null, -1n],
        ok: [true, false, null],
        when: [new Date('2024-01-02T03:04:05.000Z'), null, new Date(NaN)],
        name: ['a', null, 'c'],
        city: ['Paris', 'Lyon', null],
        code: ['AB', 'C', null],
      },
      { heap, schema: { city: 'category', code: 'S4' } },
    );
    assert.deepEqual(f.toJSON(), {
      n: [1, NaN, null],
      i: [1, 2, 3],
      big: ['9223372036854775807', null, '-1'],
      ok: [true, false, null],
      when: ['2024-01-02T03:04:05.000Z', null, null],
      name: ['a', null, 'c'],
      city: ['Paris', 'Lyon', null],
      code: ['AB', 'C', null],
    });
    const some = f.select(['n', 'big']);
    assert.equal(
      JSON.stringify(some),
      '{"n":[1,null,null],"big":["9223372036854775807",null,"-1"]}',
    );
    const last = f.tail(1).select(['name']); // tail borrows: only the select holds a reference
    assert.equal(JSON.stringify(last), '{"name":["c"]}');
    for (const o of [some, last, f]) o.close();
  });
});

test('head(n) and tail(n) are frame views that print; they borrow the frame reference', async () => {
  await withHeap((heap) => {
    const f = sample(heap);
    const head = f.head(3);
    assert.ok(SharedFrame.isSharedFrame(head));
    assert.equal(head.length, 3);
    assert.deepEqual(head.row(-1), f.row(2));
    assert.equal(
      String(head),
      [
        '     x  s                     big',
        '   <f8  utf8                  <i8',
        '0  0.0  r0    1152921504606846976',
        '1  1.5  r1    1152921504606846977',
        '2  3.0  null  1152921504606846978',
        '',
        '[SharedFrame view: 3 rows (0-2 of 8) x 3 columns]',
      ].join('\n'),
    );
    const tail = f.tail(2);
    assert.deepEqual(
      inspect(tail)
        .split('\n')
        .map((l) => l.split(' ')[0]),
      ['', '', '6', '7', '', '[SharedFrame'],
    );
    assert.match(String(tail), /\[SharedFrame view: 2 rows \(6-7 of 8\) x 3 columns\]$/);
    assert.equal(f.head().length, 5); // pandas' default
    assert.equal(f.head(100).length, 8);
    assert.equal(f.tail(0).length, 0);
    assert.match(String(f.tail(0)), /\[SharedFrame view: 0 rows x 3 columns\]$/);
    assert.throws(() => f.head(-1), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /non-negative integer, got -1/,
    });
    assert.throws(() => f.tail(1.5), { code: 'SHMFRAME_ERR_INVALID_ARG' });
    assert.throws(() => head.append({ x: 1 }), { message: /Cannot append through a view/ });
    // The views write through to the frame.
    head.set(0, 'x', -1);
    assert.equal(f.get(0, 'x'), -1);
    // Borrowed: close() does nothing; the views are closed with their frame.
    const before = heap.stats().objects;
    head.close();
    assert.equal(head.closed, false);
    assert.equal(head.get(1, 's'), 'r1');
    const h = tail.handle; // a handle carries its own reference
    assert.equal(tail.handle, h); // cached until attached
    const copy = SharedFrame.attach(h);
    assert.deepEqual([...copy], [...tail]);
    f.close();
    assert.equal(head.closed, true);
    assert.throws(() => head.length, { code: 'SHMFRAME_ERR_CLOSED' });
    assert.equal(String(tail), 'SharedFrame (closed)');
    assert.equal(heap.stats().objects, before); // `copy` keeps the block
    assert.deepEqual(copy.row(0).s, 'r6');
    copy.close();
  });
});

test('printed slices keep the row numbers of the frame; views say what they show', async () => {
  await withHeap((heap) => {
    const f = sample(heap, 100);
    const last = f.slice(-3);
    const labels = String(last)
      .split('\n')
      .slice(2, 5)
      .map((l) => l.split(/ +/)[0]);
    assert.deepEqual(labels, ['97', '98', '99']);
    assert.match(String(last), /\[SharedFrame view: 3 rows \(97-99 of 100\) x 3 columns\]$/);
    // A long view is truncated around `...` and keeps its labels.
    const middle = f.slice(10, 80);
    const lines = String(middle).split('\n');
    assert.match(lines[2], /^10 /);
    assert.match(lines[7], /^\.\.\. /);
    assert.match(lines[12], /^79 /);
    // A slice of a slice, and a tail of a slice, count from the frame.
    const inner = middle.slice(5, 7);
    assert.match(String(inner), /^15 .*\n^16 /m);
    assert.match(String(middle.tail(1)), /^79 /m);
    const cols = f.select(['s']);
    assert.match(String(cols), /\[SharedFrame view: 100 rows x 1 of 3 columns\]$/);
    assert.match(String(f), /\[SharedFrame: 100 rows x 3 columns; capacity 102\]$/);
    for (const o of [last, middle, inner, cols, f]) o.close();
  });
});

test('attach with a schema checks the named columns; the wrong one releases the reference', async () => {
  await withHeap((heap) => {
    const f = sample(heap, 2);
    const g = SharedFrame.attach(f.handle, { schema: { x: 'float64', s: 'string' } });
    assert.equal(g.get(1, 'x'), 1.5);
    assert.throws(
      () => SharedFrame.attach(f.handle, { schema: { x: 'f4' } }),
      (err) => {
        assert.ok(err instanceof DtypeError);
        assert.match(
          err.message,
          /Expected the attached frame to have a column "x" of dtype <f4 .*got <f8: its columns are x <f8, s utf8, big <i8/,
        );
        return true;
      },
    );
    assert.throws(() => SharedFrame.attach(f.handle, { schema: { y: 'f8' } }), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /column "y" .* got no such column/,
    });
    const view = f.select(['s']);
    assert.throws(() => SharedFrame.attach(view.handle, { schema: { x: 'f8' } }), {
      code: 'SHMFRAME_ERR_DTYPE',
    });
    assert.equal(heap.stats().handles, 0);
    for (const o of [f, g, view]) o.close();
  });
});
