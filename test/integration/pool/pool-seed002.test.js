// Seed 002 at small scale: a frame of random values indexed by row label, shared with the pool;
// imap over row labels with a progress callback; every task returns a new shared array that the
// caller owns; nothing is left in the heap once the results are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { random, transform } from '../../fixtures/pool-tasks.js';

const kTasks = new URL('../../fixtures/pool-tasks.js', import.meta.url);
const kRows = 60;
const kCols = 40;

function makeFrame(heap) {
  const rnd = random(2020);
  const values = SharedArray.empty([kRows, kCols], 'f8', { heap });
  for (let i = 0; i < values.size; i++) values.data[i] = rnd();
  const rows = new Map(Array.from({ length: kRows }, (_, i) => [`Idx-${i}`, i]));
  return { values, rows };
}

/** What the task must return, computed here (the task draws from a seeded generator). */
function expected(frame, label, seed) {
  const out = transform({ ...frame, label, seed });
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
      const tasks = labels.map((label, seed) => ({ ...frame, label, seed }));
      const objects = heap.stats().objects;
      const progress = [];
      let i = 0;
      for await (const out of pool.imap('transform', tasks, {
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
      frame.values.close();
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
        'transform',
        labels.map((label, seed) => ({ ...frame, label, seed })),
      )) {
        got.push(JSON.stringify(out.toArray()));
        out.close();
      }
      assert.deepEqual([...got].sort(), [...want].sort());
      // and map, with results handed over in input order
      const all = await pool.map(
        'transform',
        labels.map((label, seed) => ({ ...frame, label, seed })),
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
      frame.values.close();
    }
  });
});
