import { test } from 'node:test';
import assert from 'node:assert/strict';
import util from 'node:util';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

test('toString: an aligned table with a dtype row; numbers right, text left; nulls', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.fromRecords(
      [
        { w1: 'obstacle', w2: 'obstacle', d1: 2, d2: 3 },
        { w1: 'obstacles', w2: 'obstacle', d1: 2, d2: null },
      ],
      { heap, schema: { w2: 'category', d1: 'i4' } },
    );
    const expected = [
      '   w1         w2         d1    d2',
      '   utf8       category  <i4   <f8',
      '0  obstacle   obstacle    2   3.0',
      '1  obstacles  obstacle    2  null',
      '',
      '[SharedFrame: 2 rows x 4 columns; capacity 2]',
    ].join('\n');
    assert.equal(f.toString(), expected);
    assert.equal(util.inspect(f), expected);
    // head(n) is a view of the first rows, printed like any frame.
    assert.equal(String(f.head(1)).split('\n').length, 5);
    assert.match(String(f.head(1)), /^\[SharedFrame view: 1 row \(0-0 of 2\) x 4 columns\]$/m);
    f.close();
    assert.equal(String(f), 'SharedFrame (closed)');
  });
});

test('long frames show their first and last rows; wide ones elide middle columns', async () => {
  await withHeap(async (heap) => {
    const n = 100;
    const long = SharedFrame.from(
      { i: Float64Array.from({ length: n }, (_, i) => i * 1.5) },
      { heap },
    );
    const lines = long.toString().split('\n');
    assert.equal(lines.length, 2 + 11 + 2);
    assert.match(lines[2], /^0 +0\.0$/);
    assert.match(lines[7], /^\.\.\. +\.\.\.$/);
    assert.match(lines[12], /^99 +148\.5$/);
    assert.equal(long.toString({ maxRows: 4, minRows: 2 }).split('\n').length, 2 + 3 + 2);
    long.close();
    const wide = SharedFrame.from(
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`column_${i}`, [i, i * 1000.25]])),
      { heap },
    );
    const text = wide.toString();
    for (const line of text.split('\n')) assert.ok(line.length <= 100, line);
    assert.match(text, /column_0 .*\.\.\. .*column_29/);
    assert.doesNotMatch(text, /column_15/);
    // One number of decimals per float column, as pandas prints.
    assert.match(text.split('\n')[2], /1\.00 /);
    assert.ok(wide.toString({ width: 1000 }).includes('column_15'));
    wide.close();
  });
});

test('special values: inf, NaN, NaT-free dates, long and multi-line text, big integers', async () => {
  await withHeap(async (heap) => {
    const f = SharedFrame.from(
      {
        t: ['a\nb', 'x'.repeat(50)],
        f: [Infinity, -0.000012345678],
        g: [1, NaN],
        d: [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), new Date(Date.UTC(2024, 0, 3))],
        big: [2n ** 63n - 1n, -1n],
      },
      { heap },
    );
    const text = f.toString({ width: 200 });
    assert.match(text, /a\\nb/);
    assert.match(text, /x{29}…/);
    assert.match(text, /inf/);
    assert.match(text, /-1\.2346e-5/);
    assert.match(text, /NaN/);
    assert.match(text, /2024-01-02 03:04:05\.006/);
    assert.match(text, /2024-01-03 /);
    assert.match(text, /9223372036854775807/);
    f.close();
  });
});

test('f4 columns show their shortest float32 digits, as numpy does', async () => {
  await withHeap((heap) => {
    const f = SharedFrame.from({ pct: new Float32Array([57.78, 0.1, 1234.5678]) }, { heap });
    const text = f.toString();
    assert.match(text, / 57\.7800\n/);
    assert.match(text, / 0\.1000\n/);
    assert.match(text, / 1234\.5677\n/);
    assert.doesNotMatch(text, /57\.779999/);
    f.close();
  });
});
