import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kTasks = new URL('../../fixtures/pool-tasks.js', import.meta.url);
const kRoot = fileURLToPath(new URL('../../..', import.meta.url));

test('close() finishes queued work, is idempotent, and then every call fails with SHMFRAME_ERR_CLOSED', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const pending = Array.from({ length: 10 }, (_, i) => pool.run('later', { value: i, ms: 2 }));
    const mapped = pool.map('square', [1, 2, 3]);
    const closing = pool.close();
    assert.equal(pool.close(), closing, 'the same promise');
    assert.equal(pool.closed, true);
    assert.deepEqual(await Promise.all(pending), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(await mapped, [1, 4, 9]);
    await closing;
    await assert.rejects(pool.run('add', { a: 1, b: 1 }), { code: 'SHMFRAME_ERR_CLOSED' });
    await assert.rejects(pool.map('square', [1]), { code: 'SHMFRAME_ERR_CLOSED' });
    await assert.rejects(pool.imap('square', [1]).next(), { code: 'SHMFRAME_ERR_CLOSED' });
    assert.equal(await pool.destroy(), undefined, 'destroy after close is harmless');
    assert.ok(pool.stats().workers.every((w) => w.state === 'stopped' && w.threadId === -1));
  });
});

test('close() waits for an imap that was already iterating', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const it = pool.imap('square', [1, 2, 3, 4, 5, 6], { window: 2 });
    const first = await it.next();
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    const rest = [];
    for await (const x of it) rest.push(x);
    assert.deepEqual([first.value, ...rest], [1, 4, 9, 16, 25, 36]);
    await closing;
    assert.ok(closed);
  });
});

test('Symbol.asyncDispose closes the pool (await using)', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 1, heap });
    assert.equal(await pool.run('add', { a: 1, b: 1 }), 2);
    await pool[Symbol.asyncDispose]();
    assert.ok(pool.closed);
    await assert.rejects(pool.run('add', { a: 1, b: 1 }), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('destroy() during close() stops the work and both promises settle', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const stuck = pool.run('forever').catch((e) => e.code);
    const closing = pool.close();
    const destroying = pool.destroy();
    await Promise.all([closing, destroying]);
    assert.equal(await stuck, 'SHMFRAME_ERR_CLOSED');
    assert.equal(pool.close(), closing);
  });
});

test('idleTimeout stops idle workers; work brings them back', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap, idleTimeout: 20 });
    try {
      assert.equal(await pool.run('add', { a: 1, b: 1 }), 2);
      // wait for the state we mean: both workers stopped by their idle timers
      while (!pool.stats().workers.every((w) => w.state === 'stopped')) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(await pool.map('square', [1, 2, 3, 4]), [1, 4, 9, 16]);
      assert.ok(pool.stats().workers.some((w) => w.state !== 'stopped'));
      assert.ok(
        pool.stats().workers.every((w) => w.restarts === 0),
        'an idle stop is not a restart',
      );
    } finally {
      await pool.close();
    }
  });
});

/** Runs a module script in a child process that must exit by itself. */
function runChild(body, flags = []) {
  const source = `
    import { Pool, SharedArray } from 'shmframe';
    const module = ${JSON.stringify(kTasks.href)};
    ${body}
    console.log('done');
  `;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', source], {
    cwd: kRoot,
    encoding: 'utf8',
    timeout: 30000,
  });
  assert.equal(
    r.signal,
    null,
    `the child did not exit by itself (killed by ${r.signal}); stderr: ${r.stderr}`,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
  return r;
}

test('nothing keeps the process alive: after close, after destroy, and for an idle pool never closed', () => {
  runChild(`
    const pool = new Pool({ module, workers: 2, idleTimeout: 60000 });
    await pool.map('square', [1, 2, 3], { timeout: 60000 });
    await pool.run('spin', {}, { timeout: 20 }).catch(() => {});
    await pool.close();
  `);
  runChild(`
    const pool = new Pool({ module, workers: 2 });
    pool.run('forever').catch(() => {});
    await pool.run('add', { a: 1, b: 2 });
    await pool.destroy();
  `);
  runChild(`
    const pool = new Pool({ module, workers: 2 });
    const a = SharedArray.zeros([10]);
    await pool.run('sumArray', { a });
    a.close();
  `);
  runChild(`
    const pool = new Pool({ module, workers: 2 });
  `);
  // Node options the workers cannot take explicitly (V8 flags) next to --input-type
  runChild(
    `
    const pool = new Pool({ module, workers: 1 });
    if (await pool.run('add', { a: 1, b: 2 }) !== 3) process.exit(1);
    await pool.close();
  `,
    ['--expose-gc', '--max-old-space-size=512'],
  );
});

test('progress: true prints nothing when stderr is not a terminal; the callback always fires', async () => {
  const r = runChild(`
    const pool = new Pool({ module, workers: 2 });
    await pool.map('square', [1, 2, 3], { progress: true });
    for await (const _ of pool.imap('square', [1, 2], { progress: 'squares' })) {}
    await pool.close();
  `);
  assert.equal(r.stderr, '');
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    try {
      const calls = [];
      await pool.map('square', [1, 2, 3, 4, 5], {
        chunkSize: 2,
        progress: (d, t) => calls.push([d, t]),
      });
      assert.deepEqual(calls[0], [0, 5]);
      assert.deepEqual(calls.at(-1), [5, 5]);
      assert.equal(calls.length, 4, 'once at the start, then per chunk');
      const gen = [];
      function* g() {
        yield 1;
        yield 2;
      }
      for await (const _ of pool.imap('square', g(), { progress: (d, t) => gen.push([d, t]) }))
        void _;
      assert.deepEqual(gen, [
        [0, undefined],
        [1, undefined],
        [2, undefined],
      ]);
      // a callback that throws fails the map with its error
      await assert.rejects(
        pool.map('square', [1, 2], {
          progress: (d) => {
            if (d === 1) throw new Error('bad callback');
          },
        }),
        { message: 'bad callback' },
      );
    } finally {
      await pool.close();
    }
  });
});

test('ready() resolves once every worker loaded the module, and after idle stops too', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap, idleTimeout: 50 });
    try {
      await pool.ready();
      assert.deepEqual(
        pool.stats().workers.map((w) => w.state),
        ['idle', 'idle'],
      );
      await pool.ready(); // already ready: resolves at once
      while (!pool.stats().workers.every((w) => w.state === 'stopped')) {
        await new Promise((r) => setTimeout(r, 20)); // idleTimeout stops both workers
      }
      await pool.ready(); // restarts them
      assert.ok(pool.stats().workers.every((w) => w.state === 'idle'));
      assert.equal(await pool.run('add', { a: 2, b: 3 }), 5);
    } finally {
      await pool.close();
    }
  });
});

test('ready() waits for a slow worker even when a fast one would stop for being idle meanwhile', async () => {
  // One worker of two takes 300 ms to load its module; idleTimeout is 20 ms. The fast worker
  // must not stop (and leave ready() waiting for ever) before the slow one is ready.
  const slow = new URL('../../fixtures/pool-slow-start.js', import.meta.url);
  await withHeap(async (heap) => {
    const pool = new Pool({ module: slow, workers: 2, heap, idleTimeout: 20 });
    try {
      await pool.ready();
      assert.deepEqual(
        pool.stats().workers.map((w) => w.state),
        ['idle', 'idle'],
      );
      // After ready(), idle workers stop again as usual...
      while (!pool.stats().workers.every((w) => w.state === 'stopped'))
        await new Promise((r) => setTimeout(r, 10));
      // ...and a second ready() restarts both, the slow one included.
      await pool.ready();
      assert.ok(pool.stats().workers.every((w) => w.state === 'idle'));
      assert.equal(await pool.run('add', { a: 2, b: 3 }), 5);
    } finally {
      await pool.close();
    }
  });
});

test('ready() rejects with the load error of a broken module, and with SHMFRAME_ERR_CLOSED on a closed pool', async () => {
  await withHeap(async (heap) => {
    const broken = new Pool({
      module: 'data:text/javascript,throw new Error("cannot load")',
      workers: 1,
      heap,
    });
    await assert.rejects(broken.ready(), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /cannot load/,
    });
    await broken.close();
    const pool = new Pool({ module: kTasks, workers: 1, heap });
    const waiting = pool.ready();
    const closing = pool.destroy();
    await assert.rejects(waiting, { code: 'SHMFRAME_ERR_CLOSED' });
    await closing;
    await assert.rejects(pool.ready(), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('a process that only awaits ready() stays alive until the workers are ready', () => {
  const script = `import { Pool } from 'shmframe';
    const pool = new Pool({ module: ${JSON.stringify(kTasks.href)}, workers: 2 });
    await pool.ready();
    console.log('ready', pool.stats().workers.map((w) => w.state).join(','));
    await pool.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: kRoot,
    encoding: 'utf8',
    env: { ...process.env, SHMFRAME_HEAP_SIZE: '256M' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ready idle,idle$/m);
});
