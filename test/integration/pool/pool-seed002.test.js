// Seed 002 at small scale: a SharedFrame of random values indexed by row label, shared with the
// pool; imap over row labels with a progress callback; every task returns a new shared array that
// the caller owns; nothing is left in the heap once the results are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, SharedArray, SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { random, transform } from '../../fixtures/pool-tasks.js';

const kTasks = new URL('../../fixtures/pool-tasks.js', import.meta.url);
const kRows = 60;
const kCols = 40;

function makeFrame(heap) {
  const rnd = random(2020);
  const columns = { label: Array.from({ length: kRows }, (_, i) => `Idx-${i}`) };
  for (let j = 0; j < kCols; j++) {
    columns[`Col-${j}`] = Float64Array.from({ length: kRows }, () => rnd());
  }
  return SharedFrame.from(columns, { index: 'label', heap });
}

/** What the task must return, computed here from plain copies (the task's draws are seeded). */
function expected(frame, label, seed) {
  const values = new Float64Array(kRows * kCols);
  for (let j = 0; j < kCols; j++) {
    const col = frame.col(`Col-${j}`);
    for (let i = 0; i < kRows; i++) values[i * kCols + j] = col[i];
  }
  const plain = { shape: [kRows, kCols], data: values };
  const rows = new Map(Array.from({ length: kRows }, (_, i) => [`Idx-${i}`, i]));
  const out = transform({ values: plain, rows, label, seed });
  const copy = out.toArray();
  out.close();
  return copy;
}

test('seed 002: imap over row labels returns correct shared results in input order', async () => {
  await withHeap(async (heap) => {
    const frame = makeFrame(heap);
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    try {
      const rnd = random(7);
      const labels = Array.from({ length: 25 }, () => `Idx-${Math.floor(rnd() * kRows)}`);
      const tasks = labels.map((label, seed) => ({ frame, label, seed }));
      const objects = heap.stats().objects;
      const progress = [];
      let i = 0;
      for await (const out of pool.imap('transformFrame', tasks, {
        progress: (done, total) => progress.push([done, total]),
      })) {
        assert.ok(SharedArray.isSharedArray(out));
        assert.deepEqual(out.shape, [kRows, kCols]);
        assert.deepEqual(
          out.toArray(),
          expected(frame, labels[i], i),
          `result ${i} (${labels[i]})`,
        );
        out.close();
        i++;
      }
      assert.equal(i, labels.length);
      assert.deepEqual(progress[0], [0, 25]);
      assert.deepEqual(progress.at(-1), [25, 25]);
      assert.equal(heap.stats().objects, objects, 'no heap growth once the results are closed');
    } finally {
      await pool.close();
      frame.close();
    }
  });
});

test('seed 002: imapUnordered returns every result exactly once', async () => {
  await withHeap(async (heap) => {
    const frame = makeFrame(heap);
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    try {
      const labels = Array.from({ length: 16 }, (_, k) => `Idx-${(k * 7) % kRows}`);
      const want = labels.map((label, seed) => JSON.stringify(expected(frame, label, seed)));
      const got = [];
      for await (const out of pool.imapUnordered(
        'transformFrame',
        labels.map((label, seed) => ({ frame, label, seed })),
      )) {
        got.push(JSON.stringify(out.toArray()));
        out.close();
      }
      assert.deepEqual([...got].sort(), [...want].sort());
      // and map, with results handed over in input order
      const all = await pool.map(
        'transformFrame',
        labels.map((label, seed) => ({ frame, label, seed })),
        {
          chunkSize: 3,
        },
      );
      assert.deepEqual(
        all.map((a) => JSON.stringify(a.toArray())),
        want,
      );
      for (const a of all) a.close();
    } finally {
      await pool.close();
      frame.close();
    }
  });
});
