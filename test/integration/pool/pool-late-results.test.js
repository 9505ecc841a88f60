// Results that arrive for a task nobody waits for any more (aborted, timed out, its map/imap
// stopped, the pool destroyed) are released when they arrive, without closing the pool: after
// pool.onIdle() the heap is back where it was. The tasks here ignore ctx.signal and finish after
// their caller gave up, so their results really arrive late; none of them costs a worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, SharedArray, TaskError } from 'shmframe';
import { assertHeapAt, withHeap } from '../../helpers/heap.js';
import { kTasks, withPool } from '../../helpers/pool.js';

/** An i4 counter in the heap, for tasks to signal through (Atomics on shared memory). */
const counter = (heap) => SharedArray.zeros([1], 'i4', { heap });

/** Waits (without blocking the event loop) until counter[0] >= n. */
async function until(c, n) {
  for (;;) {
    const v = Atomics.load(c.data, 0);
    if (v >= n) return;
    const r = Atomics.waitAsync(c.data, 0, v);
    if (r.async) await r.value;
  }
}

function open(gate) {
  Atomics.store(gate.data, 0, 1);
  Atomics.notify(gate.data, 0);
}

const restarts = (pool) => pool.stats().workers.reduce((s, w) => s + w.restarts, 0);

/**
 * Runs `fn(pool, signals)` with gate/started/posted counters, and checks that the heap holds
 * exactly what it held before once the pool is idle, before the pool is closed.
 */
async function lateCase(fn, options = {}) {
  await withHeap(async (heap) => {
    await withPool(
      heap,
      async (pool) => {
        await pool.ready();
        const signals = { gate: counter(heap), started: counter(heap), posted: counter(heap) };
        const before = heap.stats();
        await fn(pool, signals);
        await pool.onIdle();
        assertHeapAt(heap, before);
        assert.equal(restarts(pool), 0, 'no worker was stopped: every result arrived');
        for (const c of Object.values(signals)) c.close();
      },
      { terminateAfter: 60_000, ...options },
    );
  });
}

test('run: a result that arrives after an abort is released (abort while running)', async () => {
  await lateCase(async (pool, { gate, started }) => {
    const c = new AbortController();
    const p = pool.run('gatedArrays', { gate, started, n: 4 }, { signal: c.signal });
    await until(started, 1);
    c.abort(new Error('user stop'));
    await assert.rejects(p, { code: 'SHMFRAME_ERR_ABORTED' });
    open(gate); // the task returns its 4 arrays now, to nobody
  });
});

test('run: a result already posted when the abort comes is released when it arrives', async () => {
  await lateCase(async (pool, { posted }) => {
    for (let i = 0; i < 20; i++) {
      const c = new AbortController();
      const p = pool.run('arraysThenMark', { posted, n: 4 }, { signal: c.signal });
      await Promise.resolve(); // the task goes out (an idle worker takes it)
      Atomics.wait(posted.data, 0, i); // block this thread until the reply is on its way
      c.abort();
      await assert.rejects(p, { code: 'SHMFRAME_ERR_ABORTED' });
      await pool.onIdle(); // the reply arrived for nobody; both workers are idle again
    }
  });
});

test('run: aborts before the task starts, in the pool queue and in a worker, release its arguments', async () => {
  await lateCase(
    async (pool, { gate, started }) => {
      const a = SharedArray.zeros([16], 'f8');
      const busy = pool.run('gatedArrays', { gate, started, n: 1 });
      await until(started, 1);
      // One goes behind the running task in the worker (pipelined), the rest wait in the pool.
      const controllers = Array.from({ length: 4 }, () => new AbortController());
      const runs = controllers.map((c) => pool.run('sumArray', { a }, { signal: c.signal }));
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(pool.stats().running >= 2, 'one task waits in the worker');
      for (const c of controllers) c.abort();
      for (const r of runs) await assert.rejects(r, { code: 'SHMFRAME_ERR_ABORTED' });
      open(gate);
      for (const out of await busy) out.close();
      a.close();
    },
    { workers: 1 },
  );
});

test('run: a result that arrives after the timeout fired is released', async () => {
  await lateCase(async (pool, { gate, started }) => {
    const p = pool.run('gatedArrays', { gate, started, n: 3 }, { timeout: 300 });
    await until(started, 1); // it runs (blocked) when its timeout fires
    await assert.rejects(p, { code: 'SHMFRAME_ERR_TIMEOUT' });
    open(gate);
  });
});

/** Item 0 blocks its worker until the gate opens; the others return at once. */
function gatedItems({ gate, started }, count, n = 2) {
  return Array.from({ length: count }, (_, i) => ({ gate, started, n, wait: i === 0 }));
}

for (const ordered of [true, false]) {
  test(`imap (${ordered ? 'ordered' : 'unordered'}): an abort closes results buffered or not handed out, and releases the one still running when it arrives`, async () => {
    await lateCase(async (pool, signals) => {
      const c = new AbortController();
      let done = 0;
      const got = [];
      const err = await (async () => {
        for await (const out of pool.imap('gatedArrays', gatedItems(signals, 8), {
          ordered,
          window: 8,
          signal: c.signal,
          progress: (n) => {
            done = n;
            if (n === 5) c.abort(new Error('enough')); // from inside the pool's settle
          },
        })) {
          got.push(out);
        }
      })().catch((e) => e);
      assert.equal(err?.code, 'SHMFRAME_ERR_ABORTED', String(err));
      assert.equal(done, 5);
      if (ordered) assert.equal(got.length, 0, 'item 0 never came, so nothing was handed out');
      for (const arrays of got) for (const a of arrays) a.close();
      await until(signals.started, 1);
      open(signals.gate); // item 0 returns its arrays now, to nobody
    });
  });
}

test('map: an abort closes the results gathered so far and releases the late one', async () => {
  await lateCase(async (pool, signals) => {
    const c = new AbortController();
    const p = pool.map('gatedArrays', gatedItems(signals, 6), { signal: c.signal });
    await until(signals.started, 1);
    await new Promise((resolve) => setImmediate(resolve));
    c.abort();
    await assert.rejects(p, { code: 'SHMFRAME_ERR_ABORTED' });
    open(signals.gate);
  });
});

test('imap with chunkSize: a late chunk is released whole', async () => {
  await lateCase(async (pool, signals) => {
    const c = new AbortController();
    const it = pool.imap('gatedArrays', gatedItems(signals, 6, 3), {
      chunkSize: 3,
      signal: c.signal,
    });
    const first = it.next();
    await until(signals.started, 1);
    c.abort();
    await assert.rejects(first, { code: 'SHMFRAME_ERR_ABORTED' });
    open(signals.gate);
  });
});

test('a consumer that stops early (break) leaves no late result behind', async () => {
  await lateCase(async (pool, signals) => {
    for await (const arrays of pool.imapUnordered('gatedArrays', gatedItems(signals, 6), {
      window: 6,
    })) {
      for (const a of arrays) a.close();
      await until(signals.started, 1);
      break; // item 0 is blocked in its worker
    }
    open(signals.gate);
  });
});

test('results posted before destroy() are released when they arrive', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    await pool.ready();
    const posted = counter(heap);
    const before = heap.stats();
    const runs = [0, 1].map(() => pool.run('arraysThenMark', { posted, n: 4 }));
    await Promise.resolve(); // the tasks go out, one to each worker
    // Block this thread until both replies are on their way. (Both tasks are done: destroy()
    // terminates workers that are waiting for work, not ones inside the allocator.)
    for (let v = Atomics.load(posted.data, 0); v < 2; v = Atomics.load(posted.data, 0)) {
      Atomics.wait(posted.data, 0, v);
    }
    const destroyed = pool.destroy();
    for (const r of runs) {
      // A reply processed before destroy() ran is a result like any other.
      const out = await r.catch((e) => e);
      if (Array.isArray(out)) for (const a of out) a.close();
      else assert.equal(out.code, 'SHMFRAME_ERR_CLOSED');
    }
    await destroyed;
    assertHeapAt(heap, before);
    posted.close();
  });
});

test('shared objects on a thrown error are moved to the caller, and released if nobody waits', async () => {
  await lateCase(async (pool, { gate, started }) => {
    // Awaited: the rebuilt error carries them, attached; the caller owns them.
    const err = await pool.run('throwCarrying').catch((e) => e);
    assert.ok(err instanceof TaskError);
    const original = err.cause;
    assert.equal(original.message, 'partial results');
    assert.equal(original.count, 2);
    assert.equal(original.partial.length, 2);
    assert.ok(SharedArray.isSharedArray(original.partial[0]));
    assert.deepEqual([...original.partial[1].data], [2, 2, 2]);
    assert.equal(original.cause.code, 'SHMFRAME_ERR_SHAPE');
    assert.equal(original.cause.details.axis, 1);
    assert.deepEqual([...original.cause.details.rows.data], [7, 7]);
    for (const a of original.partial) a.close();
    original.cause.details.rows.close();
    // Nobody waits any more when the failure arrives: released.
    const c = new AbortController();
    const p = pool.run('throwCarrying', { gate, started }, { signal: c.signal });
    await until(started, 1);
    c.abort();
    await assert.rejects(p, { code: 'SHMFRAME_ERR_ABORTED' });
    open(gate);
  });
});

test('an idle worker takes the task queued behind a blocked one at once, without waiting for it', async () => {
  await lateCase(async (pool, signals) => {
    // Worker A gets item 0 (blocked until the gate opens) and item 1 behind it; worker B runs
    // the rest and, with nothing left, takes item 1 back from A while A is still blocked.
    const results = [];
    const all = (async () => {
      for await (const arrays of pool.imapUnordered('gatedArrays', gatedItems(signals, 4, 1), {
        window: 4,
      })) {
        results.push(arrays[0].data[0] / 100); // the item's index
        for (const a of arrays) a.close();
        if (results.length === 3) open(signals.gate);
      }
    })();
    await all;
    assert.deepEqual(results.slice(0, 3).sort(), [1, 2, 3], 'items 1-3 done while item 0 blocked');
    assert.equal(results[3], 0);
  });
});
