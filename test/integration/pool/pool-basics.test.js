import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Pool,
  SharedArray,
  ShapeError,
  ShmframeError,
  TaskError,
  InvalidArgumentError,
} from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { kTasks, withPool } from '../../helpers/pool.js';

test('run: plain values by structured clone, ctx for the task', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      assert.equal(await pool.run('add', { a: 2, b: 3 }), 5);
      const when = new Date(0);
      const value = {
        when,
        m: new Map([[1, [2n]]]),
        s: new Set(['x']),
        t: new Int16Array([1, -1]),
      };
      assert.deepEqual(await pool.run('echo', value), value);
      assert.equal(await pool.run('empty'), undefined);
      const info = await pool.run('info');
      assert.equal(info.index, 0);
      assert.ok(info.workerId === 0 || info.workerId === 1);
      assert.ok(pool.stats().workers.some((w) => w.threadId === info.threadId));
      assert.equal(await pool.run('later', { value: 'async', ms: 1 }), 'async');
      assert.equal(pool.workers, 2);
      assert.equal(pool.heap, heap);
      assert.ok(Pool.isPool(pool));
      assert.match(String(pool), /Pool\(2 workers/);
    });
  });
});

test('shared arguments are the same memory; results are moved to the caller', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const a = SharedArray.zeros([1000], 'f8', { heap });
      const objects = heap.stats().objects;
      // the worker writes the caller's memory, and its own reference is closed after the task
      assert.equal(await pool.run('fill', { a, value: 2.5 }), false);
      assert.equal(a.get(999), 2.5);
      assert.equal(a.closed, false, 'the caller keeps its object');
      assert.equal(await pool.run('sumArray', { a }), 2500);
      assert.equal(heap.stats().objects, objects, 'no reference left in the worker');
      assert.equal(heap.stats().handles, 0);
      // a new array returned by the task belongs to the caller, no copy
      const z = await pool.run('zeros', { n: 8 });
      assert.ok(SharedArray.isSharedArray(z));
      assert.equal(z.heap, heap);
      assert.deepEqual(z.shape, [8]);
      assert.equal(heap.stats().objects, objects + 1);
      z.close();
      // views travel with their window
      const m = SharedArray.from([0, 1, 2, 3, 4, 5], { heap, shape: [3, 2] });
      const rows = m.rows(1, 3);
      const echoed = await pool.run('echo', rows);
      assert.deepEqual(echoed.toArray(), [
        [2, 3],
        [4, 5],
      ]);
      echoed.close();
      rows.close();
      m.close();
      a.close();
    });
  });
});

test('map keeps input order for arrays, Sets, generators and async iterables, with chunks', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const xs = Array.from({ length: 100 }, (_, i) => i);
      const squares = xs.map((x) => x * x);
      assert.deepEqual(await pool.map('square', xs), squares);
      assert.deepEqual(await pool.map('square', xs, { chunkSize: 7 }), squares);
      assert.deepEqual(await pool.map('square', new Set([3, 4])), [9, 16]);
      function* gen() {
        yield* xs;
      }
      assert.deepEqual(await pool.map('square', gen(), { window: 3 }), squares);
      async function* agen() {
        for (const x of xs) yield x;
      }
      assert.deepEqual(await pool.map('square', agen(), { chunkSize: 10 }), squares);
      assert.deepEqual(await pool.map('square', []), []);
      const infos = await pool.map('info', [0, 0, 0, 0], { chunkSize: 3 });
      assert.deepEqual(
        infos.map((r) => r.index),
        [0, 1, 2, 3],
        'ctx.index is the item index',
      );
    });
  });
});

test('imap yields in input order, imapUnordered yields every result', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const items = [30, 1, 20, 2, 10, 3].map((ms, value) => ({ value, ms }));
      const ordered = [];
      for await (const v of pool.imap('later', items)) ordered.push(v);
      assert.deepEqual(ordered, [0, 1, 2, 3, 4, 5]);
      const unordered = [];
      for await (const v of pool.imapUnordered('later', items)) unordered.push(v);
      assert.deepEqual([...unordered].sort(), [0, 1, 2, 3, 4, 5]);
      const viaOption = [];
      for await (const v of pool.imap('later', items, { ordered: false, chunkSize: 2 }))
        viaOption.push(v);
      assert.deepEqual([...viaOption].sort(), [0, 1, 2, 3, 4, 5]);
      const chunked = [];
      for await (const v of pool.imap('square', [1, 2, 3, 4, 5], { chunkSize: 2 })) chunked.push(v);
      assert.deepEqual(chunked, [1, 4, 9, 16, 25]);
    });
  });
});

test('a task that runs for ever does not hold up the tasks posted after it', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      // a long-lived consumer-style task, then many short ones: none waits behind the first
      const stop = new AbortController();
      const consumer = pool.run('cooperative', {}, { signal: stop.signal }).catch((e) => e.code);
      const sums = await Promise.all(
        Array.from({ length: 50 }, (_, i) => pool.run('add', { a: i, b: i })),
      );
      assert.deepEqual(
        sums,
        Array.from({ length: 50 }, (_, i) => 2 * i),
      );
      assert.deepEqual(await pool.map('square', [1, 2, 3], { chunkSize: 2 }), [1, 4, 9]);
      stop.abort();
      assert.equal(await consumer, 'SHMFRAME_ERR_ABORTED');
    });
  });
});

test('a missing export is a clear error listing the function exports', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      // before and after the workers reported their exports
      const early = await pool.run('nope').catch((e) => e);
      const late = await pool.run('notAFunction').catch((e) => e);
      for (const err of [early, late]) {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG');
        assert.match(
          err.message,
          /is not a function exported by .*pool-tasks\.js; its function exports are: .*add, /,
        );
        assert.doesNotMatch(err.message, /exports are: .*notAFunction/);
      }
      await assert.rejects(pool.map('nope', [1]), { code: 'SHMFRAME_ERR_INVALID_ARG' });
      assert.equal(await pool.run('add', { a: 1, b: 1 }), 2);
    });
  });
});

test('bad options and arguments fail with SHMFRAME_ERR_INVALID_ARG, synchronously in constructors', async () => {
  await withHeap(async (heap) => {
    assert.throws(() => new Pool({}), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /options.module/,
    });
    assert.throws(() => new Pool({ module: '/no/such/tasks.js' }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /no such file/,
    });
    assert.throws(() => new Pool({ module: kTasks, workers: 0 }), {
      message: /`workers` to be an integer/,
    });
    assert.throws(() => new Pool({ module: kTasks, idleTimeout: -1 }), { message: /idleTimeout/ });
    assert.throws(() => new Pool({ module: kTasks, heap: {} }), { message: /`heap` to be a Heap/ });
    assert.throws(() => new Pool({ module: 'https://example.com/t.js' }), { message: /file path/ });
    await withPool(heap, async (pool) => {
      await assert.rejects(pool.run(42), { code: 'SHMFRAME_ERR_INVALID_ARG' });
      await assert.rejects(pool.run('add', {}, { timeout: -5 }), { message: /`timeout`/ });
      await assert.rejects(pool.run('add', {}, { signal: {} }), { message: /AbortSignal/ });
      await assert.rejects(pool.map('square', 5), { message: /iterable/ });
      assert.throws(() => pool.imap('square', [1], { window: 0 }), { message: /`window`/ });
      assert.throws(() => pool.imap('square', [1], { progress: 3 }), { message: /`progress`/ });
      assert.throws(() => pool.imap('square', [1], { ordered: 'yes' }), { message: /`ordered`/ });
      // arguments that cannot be cloned fail alone; the pool keeps serving
      const bad = pool.run('echo', { f: () => 1 });
      const good = pool.run('add', { a: 1, b: 2 });
      await assert.rejects(bad, {
        code: 'SHMFRAME_ERR_INVALID_ARG',
        message: /structured-clonable/,
      });
      assert.equal(await good, 3);
      // a result that cannot be sent is a task error
      await assert.rejects(pool.run('returnFunction'), {
        code: 'SHMFRAME_ERR_TASK',
        message: /could not be sent/,
      });
    });
  });
});

test('error class, code, details and stack survive the boundary', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const err = await pool.run('failShape').catch((e) => e);
      assert.ok(err instanceof TaskError);
      assert.ok(ShmframeError.isShmframeError(err));
      assert.equal(err.code, 'SHMFRAME_ERR_TASK');
      assert.equal(err.details.index, 0);
      assert.equal(err.details.task, 'failShape');
      assert.ok(err.cause instanceof ShapeError, 'the original class is rebuilt');
      assert.equal(err.cause.code, 'SHMFRAME_ERR_SHAPE');
      assert.equal(err.cause.details.axis, 1);
      assert.match(
        err.message,
        /Task 'failShape' \(index 0\) threw ShapeError: bad shape in a task/,
      );
      assert.match(err.stack, /pool-tasks\.js/, 'the stack shows where the task threw');
      assert.doesNotMatch(err.stack, /worker-entry|node:internal/, 'and not the worker loop');
      assert.match(err.cause.stack, /failShape/);
      const range = await pool.run('fail', { message: 'out of range' }).catch((e) => e);
      assert.ok(range.cause instanceof RangeError);
      assert.equal(range.cause.message, 'out of range');
      const mapped = await pool
        .map(
          'failAt',
          [0, 1, 2, 3].map((i) => ({ i, at: 2 })),
        )
        .catch((e) => e);
      assert.equal(mapped.code, 'SHMFRAME_ERR_TASK');
      assert.equal(mapped.details.index, 2);
      const chunked = await pool
        .map(
          'failAt',
          [0, 1, 2, 3, 4].map((i) => ({ i, at: 4 })),
          { chunkSize: 3 },
        )
        .catch((e) => e);
      assert.equal(chunked.details.index, 4, 'the index of the item, not of its chunk');
    });
  });
});

test('autoShare moves large plain TypedArrays through the heap; small ones are cloned', async () => {
  await withHeap(async (heap) => {
    await withPool(
      heap,
      async (pool) => {
        const big = new Float64Array(1000).fill(3);
        assert.deepEqual(await pool.run('typed', { data: big }), {
          cls: 'Float64Array',
          shared: true,
          first: 3,
          length: 1000,
        });
        const small = await pool.run('typed', { data: new Int8Array([5]) });
        assert.equal(small.shared, false);
        const results = await pool.map(
          'typed',
          [1, 2, 3].map(() => ({ data: big })),
        );
        assert.ok(results.every((r) => r.shared && r.first === 3));
        assert.equal(heap.stats().objects, 0, 'the heap copies are gone');
      },
      { autoShare: '4K' },
    );
  });
});

test('stats report per-worker tasks and time, and pool throughput', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      await pool.map(
        'square',
        Array.from({ length: 50 }, (_, i) => i),
      );
      await pool.run('fail').catch(() => {});
      const s = pool.stats();
      assert.equal(s.workers.length, 2);
      assert.equal(
        s.workers.reduce((n, w) => n + w.tasks, 0),
        51,
      );
      assert.equal(s.completed, 50);
      assert.equal(s.failed, 1);
      assert.equal(s.queued, 0);
      assert.equal(s.running, 0);
      assert.ok(s.tasksPerSecond > 0);
      for (const w of s.workers) {
        assert.ok(w.busyTime >= 0 && w.idleTime >= 0);
        assert.ok(['idle', 'busy', 'starting'].includes(w.state));
        assert.equal(w.restarts, 0);
      }
    });
  });
});
