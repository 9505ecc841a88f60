// Inputs are consumed lazily: at most `window` tasks are in flight, however long the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kTasks = new URL('../../fixtures/pool-tasks.js', import.meta.url);

test('a lazy generator of 1e6 items with a small window keeps at most window tasks in flight', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    try {
      const n = 1e6;
      const window = 3;
      const chunkSize = 500; // keeps the test quick; the bound is window chunks
      let pulled = 0;
      let consumed = 0;
      let peak = 0;
      function* items() {
        for (let i = 0; i < n; i++) {
          pulled++;
          peak = Math.max(peak, pulled - consumed);
          yield i;
        }
      }
      let sum = 0;
      for await (const x of pool.imap('square', items(), { window, chunkSize })) {
        assert.equal(x, consumed * consumed, 'in order');
        consumed++;
        sum += x > 0 ? 1 : 0;
      }
      assert.equal(consumed, n);
      assert.equal(sum, n - 1);
      // `consumed` counts an item once the loop body runs; the item being handed out at that
      // moment was already pulled, hence the + 1.
      assert.ok(
        peak <= window * chunkSize + 1,
        `peak in flight ${peak} items > ${window} chunks of ${chunkSize}`,
      );
      assert.ok(peak > (window - 1) * chunkSize, `the window is used (peak ${peak})`);
    } finally {
      await pool.close();
    }
  });
});

test('an infinite generator with window 2: in flight never exceeds 2, one item per task', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    try {
      let pulled = 0;
      let consumed = 0;
      let peak = 0;
      let closed = false;
      function* naturals() {
        try {
          for (let i = 0; ; i++) {
            pulled++;
            peak = Math.max(peak, pulled - consumed);
            yield i;
          }
        } finally {
          closed = true;
        }
      }
      for await (const x of pool.imapUnordered('square', naturals(), { window: 2 })) {
        assert.equal(Math.sqrt(x) % 1, 0);
        if (++consumed === 2000) break;
      }
      assert.ok(peak === 2 || peak === 3, `peak ${peak}: 2 in flight (+ 1 being handed out)`);
      assert.ok(closed);
      // map pulls a generator only as results come back
      let done = 0;
      let ahead = 0;
      pulled = 0;
      function* finite() {
        for (let i = 0; i < 300; i++) {
          pulled++;
          ahead = Math.max(ahead, pulled - done);
          yield i;
        }
      }
      const results = await pool.map('square', finite(), {
        window: 5,
        progress: (d) => (done = d),
      });
      assert.deepEqual(
        results,
        Array.from({ length: 300 }, (_, i) => i * i),
      );
      assert.ok(ahead <= 5 + 1, `map ran ${ahead} items ahead of its results`);
    } finally {
      await pool.close();
    }
  });
});
