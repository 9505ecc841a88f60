// Every way a task can fail: each gives its code, the pool keeps serving, and the heap returns to
// where it was (what the dead or cancelled task held is released).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Pool,
  SharedArray,
  WorkerCrashedError,
  ShmframeTimeoutError,
  AbortedError,
} from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { kTasks, withPool } from '../../helpers/pool.js';

/** The pool still answers, on every worker slot. */
async function assertServing(pool) {
  const results = await pool.map(
    'add',
    Array.from({ length: 20 }, (_, i) => ({ a: i, b: 1 })),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
}

test('a throwing task: SHMFRAME_ERR_TASK; map stops dispatching and closes results it got', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      await assert.rejects(pool.run('fail'), { code: 'SHMFRAME_ERR_TASK' });
      let pulled = 0;
      function* items() {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield { i, at: 5 };
        }
      }
      const err = await pool.map('zerosOrFail', items(), { window: 4 }).catch((e) => e);
      assert.equal(err.code, 'SHMFRAME_ERR_TASK');
      assert.equal(err.details.index, 5);
      // map frees a window slot per result, and items after the failing one may finish on the
      // other worker first: the bound is loose, but pulling stops at the failure.
      const atFailure = pulled;
      assert.ok(pulled < 100, `stopped early (pulled ${pulled} of 1000)`);
      await assertServing(pool);
      assert.equal(pulled, atFailure, 'nothing pulled after the failure');
      // the same through imap: results handed out before the failure belong to the caller
      const got = [];
      await assert.rejects(
        async () => {
          for await (const a of pool.imap(
            'zerosOrFail',
            [0, 1, 2, 3, 4].map((i) => ({ i, at: 3 })),
          ))
            got.push(a);
        },
        { code: 'SHMFRAME_ERR_TASK' },
      );
      assert.ok(got.length <= 3);
      for (const a of got) a.close();
      await assertServing(pool);
    });
  });
});

test('process.exit in a task: SHMFRAME_ERR_WORKER_CRASHED, replaced, its references released', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const a = SharedArray.zeros([10], 'f8', { heap });
      const before = pool.stats().workers.map((w) => w.threadId);
      const err = await pool.run('allocThenExit', { a }).catch((e) => e);
      assert.ok(err instanceof WorkerCrashedError, String(err));
      assert.equal(err.code, 'SHMFRAME_ERR_WORKER_CRASHED');
      assert.equal(err.details.exitCode, 7);
      assert.match(err.message, /exited with code 7/);
      await assertServing(pool);
      const s = pool.stats();
      assert.equal(
        s.workers.reduce((n, w) => n + w.restarts, 0),
        1,
      );
      assert.notDeepEqual(
        s.workers.map((w) => w.threadId),
        before,
      );
      // other tasks in flight at the crash are not lost
      const many = Array.from({ length: 30 }, (_, i) => pool.run('add', { a: i, b: 0 }));
      const crash = pool.run('exit', { code: 1 }).catch((e) => e);
      assert.deepEqual(
        await Promise.all(many),
        Array.from({ length: 30 }, (_, i) => i),
      );
      assert.equal((await crash).code, 'SHMFRAME_ERR_WORKER_CRASHED');
      a.close();
    });
  });
});

test('unbounded allocation under resourceLimits: SHMFRAME_ERR_WORKER_CRASHED (out of memory)', async () => {
  await withHeap(async (heap) => {
    await withPool(
      heap,
      async (pool) => {
        const a = SharedArray.zeros([10], 'f8', { heap });
        const err = await pool.run('allocThenHog', { a }).catch((e) => e);
        assert.equal(err.code, 'SHMFRAME_ERR_WORKER_CRASHED');
        assert.match(err.message, /ran out of memory/);
        assert.equal(err.cause?.code, 'ERR_WORKER_OUT_OF_MEMORY');
        await assertServing(pool);
        a.close();
      },
      { resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } },
    );
  });
});

test('a task that never ends: SHMFRAME_ERR_TIMEOUT, its worker replaced; a cooperative one keeps it', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const a = SharedArray.zeros([10], 'f8', { heap });
      const err = await pool.run('allocThenSpin', { a }, { timeout: 50 }).catch((e) => e);
      assert.ok(err instanceof ShmframeTimeoutError, String(err));
      assert.equal(err.code, 'SHMFRAME_ERR_TIMEOUT');
      assert.equal(err.details.timeout, 50);
      await assertServing(pool);
      // the spinning worker was terminated after terminateAfter and replaced
      const restarts = () => pool.stats().workers.reduce((n, w) => n + w.restarts, 0);
      while (restarts() < 1) await pool.run('later', { value: 0, ms: 10 });
      assert.equal(restarts(), 1);
      // a task that stops on ctx.signal settles in time: no restart
      await assert.rejects(pool.run('cooperative', {}, { timeout: 20 }), {
        code: 'SHMFRAME_ERR_TIMEOUT',
      });
      await assert.rejects(pool.run('forever', {}, { timeout: 20 }), {
        code: 'SHMFRAME_ERR_TIMEOUT',
      });
      await assertServing(pool);
      while (pool.stats().running > 0) await pool.run('later', { value: 0, ms: 10 });
      assert.equal(restarts(), 2, 'only the task that ignored its signal cost a worker');
      a.close();
    });
  });
});

test('abort mid-imap: SHMFRAME_ERR_ABORTED, tasks in flight stopped, results released', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const controller = new AbortController();
      let pulled = 0;
      let closedInput = false;
      function* items() {
        try {
          for (let i = 0; ; i++) {
            pulled++;
            yield { i, at: -1, ms: 5 };
          }
        } finally {
          closedInput = true;
        }
      }
      const got = [];
      const err = await (async () => {
        for await (const a of pool.imap('zerosOrFail', items(), {
          signal: controller.signal,
          window: 4,
        })) {
          got.push(a);
          if (got.length === 3) controller.abort(new Error('user stop'));
        }
      })().catch((e) => e);
      assert.ok(err instanceof AbortedError, String(err));
      assert.equal(err.code, 'SHMFRAME_ERR_ABORTED');
      assert.equal(err.cause.message, 'user stop');
      assert.ok(closedInput, 'the input generator was closed');
      assert.ok(pulled <= 3 + 4 + 1, `pulled ${pulled}`);
      for (const a of got) a.close();
      // run with a signal: aborted before, and while running (a spinning task costs its worker)
      const pre = AbortSignal.abort();
      await assert.rejects(pool.run('add', { a: 1, b: 1 }, { signal: pre }), {
        code: 'SHMFRAME_ERR_ABORTED',
      });
      const c2 = new AbortController();
      const spinning = pool.run('spin', {}, { signal: c2.signal });
      const ready = pool.run('add', { a: 1, b: 1 }); // waits for the other worker or the replacement
      setImmediate(() => c2.abort());
      await assert.rejects(spinning, { code: 'SHMFRAME_ERR_ABORTED' });
      assert.equal(await ready, 2);
      await assertServing(pool);
    });
  });
});

test('an aborted task that has not started never runs, queued in the pool or in a worker', async () => {
  await withHeap(async (heap) => {
    await withPool(
      heap,
      async (pool) => {
        await pool.run('add', { a: 1, b: 1 }); // the worker is up
        const counter = SharedArray.zeros([1], 'i4', { heap });
        const c = new AbortController();
        const busy = pool.run('later', { value: 'done', ms: 50 });
        const inWorker = pool.run('bump', { counter }, { signal: c.signal }); // posted with it
        const inQueue = pool.run('bump', { counter }, { signal: c.signal });
        await new Promise((resolve) => setImmediate(resolve)); // let the batch go out
        assert.ok(pool.stats().running >= 1);
        c.abort();
        await assert.rejects(inWorker, { code: 'SHMFRAME_ERR_ABORTED' });
        await assert.rejects(inQueue, { code: 'SHMFRAME_ERR_ABORTED' });
        assert.equal(await busy, 'done');
        assert.equal(await pool.run('bump', { counter }), 1, 'neither aborted task ran');
        assert.equal(pool.stats().workers[0].restarts, 0, 'skipping costs no worker');
        counter.close();
      },
      { workers: 1 },
    );
  });
});

test("an item pulled after an abort stays its owner's", async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      const a = SharedArray.zeros([4], 'f8', { heap });
      const c = new AbortController();
      let release;
      const gate = new Promise((resolve) => (release = resolve));
      async function* items() {
        yield { a };
        await gate; // the stream waits here for its next item while we abort
        yield { a };
      }
      const it = pool.imap('sumArray', items(), { signal: c.signal, window: 1 });
      assert.deepEqual(await it.next(), { value: 0, done: false });
      const next = it.next();
      c.abort();
      await assert.rejects(next, { code: 'SHMFRAME_ERR_ABORTED' });
      release();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(a.closed, false, 'the caller still owns its array');
      a.close();
    });
  });
});

test('breaking out of imap cancels what is in flight and closes the input', async () => {
  await withHeap(async (heap) => {
    await withPool(heap, async (pool) => {
      let closedInput = false;
      async function* items() {
        try {
          for (let i = 0; ; i++) yield { i, at: -1 };
        } finally {
          closedInput = true;
        }
      }
      let n = 0;
      for await (const a of pool.imapUnordered('zerosOrFail', items(), { window: 6 })) {
        a.close();
        if (++n === 10) break;
      }
      assert.ok(closedInput);
      await assertServing(pool);
    });
  });
});

test('destroy rejects everything pending with SHMFRAME_ERR_CLOSED and releases it all', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const a = SharedArray.zeros([10], 'f8', { heap });
    const pending = [
      pool.run('allocThenSpin', { a }),
      pool.run('forever', { a }),
      pool.run('add', { a: 1, b: 2 }),
      pool.run('add', { a: 1, b: 2 }),
      pool.map('later', [{ value: 1, ms: 1000 }]),
    ].map((p) =>
      p.then(
        () => 'resolved',
        (e) => e.code,
      ),
    );
    const it = pool.imap('forever', [{ a }, { a }]);
    const iterated = it.next().then(
      () => 'resolved',
      (e) => e.code,
    );
    const destroyed = pool.destroy();
    assert.equal(pool.destroy(), destroyed, 'idempotent: the same promise');
    await destroyed;
    const codes = await Promise.all(pending);
    assert.ok(
      codes.slice(0, 2).every((c) => c === 'SHMFRAME_ERR_CLOSED'),
      codes.join(),
    );
    assert.ok(
      codes.every((c) => c === 'SHMFRAME_ERR_CLOSED' || c === 'resolved'),
      codes.join(),
    );
    assert.equal(await iterated, 'SHMFRAME_ERR_CLOSED');
    await assert.rejects(pool.run('add', { a: 1, b: 2 }), { code: 'SHMFRAME_ERR_CLOSED' });
    a.close();
  });
});

test('a task module that fails to load rejects tasks with its error instead of looping', async () => {
  await withHeap(async (heap) => {
    const broken = 'data:text/javascript,throw new SyntaxError("broken module")';
    const pool = new Pool({ module: broken, workers: 2, heap });
    try {
      const err = await pool.run('x').catch((e) => e);
      assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG');
      assert.match(err.message, /Could not load the task module .* SyntaxError: broken module/);
      await assert.rejects(pool.map('x', [1, 2]), { message: /broken module/ });
    } finally {
      await pool.close();
    }
  });
});
