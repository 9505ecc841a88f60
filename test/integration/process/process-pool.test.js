// Pool with isolation: 'process': the same Pool API with workers in real child processes attached
// to a process heap. Shared objects travel by handle both ways; a worker killed with SIGKILL
// mid-task fails its task with SHMFRAME_ERR_WORKER_CRASHED, is replaced, and what it held in the
// heap is released; late results are released when they arrive. Every test ends with the heap
// back where it was, no worker process alive and nothing left in /dev/shm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Heap, Pool, SharedArray, SharedFrame, SharedLock, SharedQueue } from 'shmframe';
import { noNative, withProcessHeap } from '../../helpers/process.js';
import { transform } from '../../fixtures/pool-tasks.js';

const kTasks = new URL('../../fixtures/process-pool-tasks.js', import.meta.url);
const opts = { skip: noNative, timeout: 120_000 };

/** True while a process with this pid exists. */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A 2-process pool on `heap`; closed when fn settles; afterwards no worker process is left. */
async function withProcessPool(heap, fn, options = {}) {
  const pool = new Pool({ module: kTasks, workers: 2, heap, isolation: 'process', ...options });
  const pids = new Set();
  const note = () => {
    for (const w of pool.stats().workers) if (w.pid > 0) pids.add(w.pid);
  };
  try {
    await pool.ready();
    note();
    await fn(pool, note);
  } finally {
    note();
    await pool.close();
  }
  for (const pid of pids) assert.equal(alive(pid), false, `worker process ${pid} is gone`);
}

const restarts = (pool) => pool.stats().workers.reduce((s, w) => s + w.restarts, 0);

/** Polls (without blocking the event loop) until `a.data[0]` is nonzero; returns it. */
async function until(a, ms = 20_000) {
  const end = Date.now() + ms;
  while (Atomics.load(a.data, 0) === 0) {
    if (Date.now() > end) throw new Error('timed out waiting for the worker');
    await sleep(5);
  }
  return Atomics.load(a.data, 0);
}

test(
  'run, map and imap run in child processes; shared objects go both ways by handle',
  opts,
  async () => {
    await withProcessHeap(async (heap) => {
      await withProcessPool(heap, async (pool) => {
        assert.equal(pool.heap, heap);
        const w = await pool.run('where');
        assert.notEqual(w.pid, process.pid, 'the task ran in another process');
        assert.equal(w.ctxPid, w.pid);
        assert.equal(w.threadId, 0);
        assert.ok(pool.stats().workers.some((s) => s.pid === w.pid));

        // An argument array is the caller's memory: the worker writes into it, no copy.
        const a = SharedArray.zeros([1000], 'f8', { heap });
        assert.equal(await pool.run('fill', { a, value: 2.5 }), false);
        assert.deepEqual([...new Set(a.data)], [2.5]);
        assert.equal(await pool.run('sumArray', { a }), 2500);

        // A result array is made in the worker and moved to the caller.
        const z = await pool.run('zeros', { n: 64 });
        assert.equal(z.heap, heap);
        assert.deepEqual(z.shape, [64]);
        z.close();

        // A frame, in the worker's hands, doubled in place.
        const frame = SharedFrame.from({ x: Float64Array.from([1, 2, 3]) }, { heap });
        assert.equal(await pool.run('doubleColumn', { frame }), 6);
        assert.deepEqual([...frame.col('x')], [2, 4, 6]);
        const made = await pool.run('makeFrame', { n: 5 });
        assert.deepEqual([...made.col('x')], [0, 1, 2, 3, 4]);
        made.close();

        // map / imap with values, the same array shared by every task, and results in order.
        assert.deepEqual(
          await pool.map('square', [1, 2, 3, 4, 5, 6, 7], { chunkSize: 2 }),
          [1, 4, 9, 16, 25, 36, 49],
        );
        const sums = [];
        for await (const s of pool.imap('sumArray', [{ a }, { a }, { a }])) sums.push(s);
        assert.deepEqual(sums, [2500, 2500, 2500]);
        const arrays = await pool.map('zeros', [{ n: 1 }, { n: 2 }, { n: 3 }]);
        assert.deepEqual(
          arrays.map((x) => x.size),
          [1, 2, 3],
        );
        for (const x of arrays) x.close();

        // Seed 002's transform: the frame's rows, a new array per label.
        const values = SharedArray.zeros([4, 3], 'f8', { heap });
        values.data.set(Float64Array.from({ length: 4 * 3 }, (_, i) => i));
        const rows = new Map([['r2', 2]]);
        const out = await pool.run('transform', { values, rows, label: 'r2', seed: 7 });
        const here = transform({ values, rows, label: 'r2', seed: 7 }); // the same, in this process
        assert.deepEqual(out.shape, [4, 3]);
        assert.deepEqual([...out.data], [...here.data]);
        out.close();
        here.close();

        for (const o of [a, frame, values]) o.close();
      });
    });
  },
);

test(
  'a queue and a lock shared with worker processes: producers block across processes, no increment is lost',
  opts,
  async () => {
    await withProcessHeap(async (heap) => {
      await withProcessPool(heap, async (pool) => {
        const queue = SharedQueue.create({ capacity: 4, heap });
        const producing = pool.map('produce', [
          { queue, camera: 1, frames: 20, timeout: 10_000 },
          { queue, camera: 2, frames: 20, timeout: 10_000 },
        ]);
        const got = [];
        while (got.length < 40) {
          const [camera, i, d] = await queue.getAsync({ timeout: 20_000 });
          assert.equal(d.data[0], camera * 1000 + i);
          got.push(`${camera}:${i}`);
          d.close();
        }
        assert.deepEqual(await producing, [0, 0], 'nothing was skipped: the puts waited for room');
        assert.equal(new Set(got).size, 40);
        queue.close();
        queue.detach();

        const lock = SharedLock.create({ heap });
        const counter = SharedArray.zeros([1], 'i4', { heap });
        const done = await pool.map('increment', [
          { lock, counter, times: 2000 },
          { lock, counter, times: 2000 },
        ]);
        assert.deepEqual(done, [2000, 2000]);
        assert.equal(counter.data[0], 4000);
        lock.close();
        counter.close();
      });
    });
  },
);

test(
  'a worker process killed with SIGKILL mid-task: WORKER_CRASHED, replaced, its references released',
  opts,
  async () => {
    await withProcessHeap(async (heap) => {
      await withProcessPool(heap, async (pool, note) => {
        const before = heap.stats();
        for (let round = 0; round < 3; round++) {
          const a = SharedArray.zeros([500], 'f8', { heap });
          const ready = SharedArray.zeros([1], 'i4', { heap });
          const task = pool.run('holdThenSpin', { a, ready, n: 8 });
          const pid = await until(ready);
          assert.ok(heap.stats().objects >= before.objects + 2 + 8, 'the worker holds its arrays');
          process.kill(pid, 'SIGKILL');
          const err = await task.then(
            () => assert.fail('the task cannot succeed'),
            (e) => e,
          );
          assert.equal(err.code, 'SHMFRAME_ERR_WORKER_CRASHED');
          assert.match(err.message, /killed by SIGKILL/);
          assert.equal(err.details.signal, 'SIGKILL');
          a.close();
          ready.close();
          await pool.ready(); // replaced
          note();
        }
        assert.equal(restarts(pool), 3);
        assert.equal(await pool.run('square', 9), 81, 'the replacement works');
        const after = heap.stats();
        assert.equal(
          after.objects,
          before.objects,
          'everything the killed workers held was released',
        );
        assert.equal(after.used, before.used);
        assert.equal(after.handles, before.handles);
      });
    });
  },
);

test(
  'crashes of every kind (self-kill, process.exit, an uncaught exception, out of memory) and a timeout: each worker replaced, the pool goes on',
  opts,
  async () => {
    await withProcessHeap(async (heap) => {
      await withProcessPool(
        heap,
        async (pool, note) => {
          await assert.rejects(pool.run('selfKill'), (e) => {
            assert.equal(e.code, 'SHMFRAME_ERR_WORKER_CRASHED');
            assert.match(e.message, /SIGKILL/);
            return true;
          });
          note();
          await assert.rejects(pool.run('exit', { code: 7 }), (e) => {
            assert.equal(e.code, 'SHMFRAME_ERR_WORKER_CRASHED');
            assert.equal(e.details.exitCode, 7);
            return true;
          });
          note();
          await assert.rejects(pool.run('crashLater'), (e) => {
            assert.equal(e.code, 'SHMFRAME_ERR_WORKER_CRASHED');
            assert.match(e.message, /uncaught RangeError: thrown from a timer/);
            return true;
          });
          note();
          await assert.rejects(pool.run('hog'), { code: 'SHMFRAME_ERR_WORKER_CRASHED' });
          note();
          // A synchronous task past its timeout: its worker process is killed and replaced.
          await assert.rejects(pool.run('spin', null, { timeout: 100 }), {
            code: 'SHMFRAME_ERR_TIMEOUT',
          });
          await pool.ready();
          note();
          assert.equal(restarts(pool), 5);
          // A task that throws is not a crash: its worker stays.
          const r = restarts(pool);
          await assert.rejects(pool.run('fail', { message: 'nope' }), (e) => {
            assert.equal(e.code, 'SHMFRAME_ERR_TASK');
            assert.equal(e.cause.message, 'nope');
            return true;
          });
          assert.equal(restarts(pool), r);
          assert.deepEqual(await pool.map('square', [2, 3]), [4, 9]);
        },
        { resourceLimits: { maxOldGenerationSizeMb: 48 } },
      );
    });
  },
);

test(
  'abort: late results from worker processes are released when they arrive, without closing the pool',
  opts,
  async () => {
    await withProcessHeap(async (heap) => {
      await withProcessPool(
        heap,
        async (pool) => {
          // 20 aborted tasks: those already running when aborted (at least one per worker) send
          // their results (two arrays each) after their callers gave up; the rest never start.
          const made = SharedArray.zeros([1], 'i4', { heap });
          const before = heap.stats();
          const calls = [];
          for (let i = 0; i < 20; i++) {
            const c = new AbortController();
            calls.push(pool.run('lateArray', { ms: 30, made }, { signal: c.signal }));
            setTimeout(() => c.abort(), 5);
          }
          for (const p of calls) await assert.rejects(p, { code: 'SHMFRAME_ERR_ABORTED' });
          await pool.onIdle();
          assert.ok(Atomics.load(made.data, 0) >= 1, 'some results were made after the abort');
          const after = heap.stats();
          assert.equal(after.objects, before.objects, 'late results were released on arrival');
          assert.equal(after.handles, before.handles);
          assert.equal(restarts(pool), 0, 'no worker was stopped: the results did arrive');
          made.close();
        },
        { terminateAfter: 10_000 },
      );
    });
  },
);

test(
  'bad input: a thread heap, a thread-heap object in the arguments, an unknown isolation, a module that fails',
  opts,
  async () => {
    assert.throws(
      () => new Pool({ module: kTasks, isolation: 'process', heap: Heap.create({ size: '1M' }) }),
      (e) => e.code === 'SHMFRAME_ERR_INVALID_ARG' && /OS shared memory/.test(e.message),
    );
    assert.throws(() => new Pool({ module: kTasks, isolation: 'fork' }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
    });
    const threadHeap = Heap.create({ size: '4M' });
    const local = SharedArray.zeros([10], 'f8', { heap: threadHeap });
    const localBefore = threadHeap.stats();
    await withProcessHeap(async (heap) => {
      await withProcessPool(heap, async (pool) => {
        await assert.rejects(pool.run('sumArray', { a: local }), (e) => {
          assert.equal(e.code, 'SHMFRAME_ERR_INVALID_ARG');
          assert.match(e.message, /thread heap/);
          return true;
        });
        assert.equal(await pool.run('square', 3), 9, 'the pool goes on');
      });
      const broken = new Pool({
        module: 'data:text/javascript,throw new Error("cannot load")',
        workers: 1,
        heap,
        isolation: 'process',
      });
      await assert.rejects(broken.ready(), (e) => {
        assert.equal(e.code, 'SHMFRAME_ERR_INVALID_ARG');
        assert.match(e.message, /cannot load/);
        return true;
      });
      await broken.close();
    });
    assert.equal(
      threadHeap.stats().handles,
      localBefore.handles,
      'the refused handle was released',
    );
    local.close();
  },
);

test(
  'without a heap, a process pool uses a process heap of its own, shared by such pools',
  opts,
  async () => {
    const p1 = new Pool({ module: kTasks, workers: 1, isolation: 'process' });
    const p2 = new Pool({ module: kTasks, workers: 1, isolation: 'process' });
    try {
      assert.equal(p1.heap.shared, 'process');
      assert.equal(p1.heap, p2.heap);
      const before = p1.heap.stats();
      const z = await p1.run('zeros', { n: 10 });
      assert.equal(await p2.run('sumArray', { a: z }), 0);
      z.close();
      const after = p1.heap.stats();
      assert.equal(after.objects, before.objects);
    } finally {
      await p1.close();
      await p2.close();
    }
  },
);
