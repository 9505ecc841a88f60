// Queues and locks between processes: every wait and wake crosses processes (futexes, and the
// relay for async waits), a lock held by a killed process is taken over, and a command queue
// with taskDone/join works as seed 003's JoinableQueue does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedLock, SharedQueue } from 'shmframe';
import { noNative, spawnNode, withProcessHeap } from '../../helpers/process.js';

test(
  'a SharedQueue between 2 producer and 2 consumer processes: 100k items with SharedArrays, each exactly once',
  { skip: noNative },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const q = SharedQueue.create({ capacity: 256, heap });
        const results = SharedQueue.create({ capacity: 16, heap });
        const perProducer = 50_000;
        const producer = `
      import { SharedArray, SharedQueue } from 'shmframe';
      const [qh, who, n] = process.argv.slice(2);
      const q = SharedQueue.attach(qh);
      const batch = [];
      for (let i = 0; i < Number(n); i++) {
        const id = Number(who) * 1e6 + i;
        if (i % 100 === 0) {
          // Every 100th item carries an array holding its id (moved by handle, not copied).
          const a = SharedArray.full([8], id, 'f8', { heap: q.heap });
          q.put({ id, a });
          a.close();
        } else if (i % 2) {
          q.put(id);
        } else {
          batch.push(id);
          if (batch.length === 64) { q.putMany(batch); batch.length = 0; }
        }
      }
      if (batch.length) q.putMany(batch);
      q.detach();
    `;
        const consumer = `
      import { SharedQueue } from 'shmframe';
      const [qh, rh, mode] = process.argv.slice(2);
      const q = SharedQueue.attach(qh);
      const out = SharedQueue.attach(rh);
      let sum = 0, count = 0, arrays = 0, bad = 0;
      const take = (x) => {
        if (typeof x === 'object') {
          arrays++;
          if (x.a.get(7) !== x.id) bad++;
          x.a.close();
          x = x.id;
        }
        sum += x; count++;
      };
      if (mode === 'async') {
        for await (const x of q) take(x);
      } else {
        for (;;) {
          let x;
          try { x = q.get(); } catch (e) { if (e.code === 'SHMFRAME_ERR_QUEUE_CLOSED') break; throw e; }
          take(x);
        }
      }
      out.put(JSON.stringify({ sum, count, arrays, bad }));
      q.detach(); out.detach();
    `;
        const ps = [0, 1].map((k) => spawnNode(producer, [String(q.handle), k, perProducer]));
        const cs = ['sync', 'async'].map((m) =>
          spawnNode(consumer, [String(q.handle), String(results.handle), m]),
        );
        await Promise.all(ps.map((p) => p.ok()));
        q.close(); // consumers drain what is left, then see QUEUE_CLOSED / the end of iteration
        const got = [
          await results.getAsync({ timeout: 60_000 }),
          await results.getAsync({ timeout: 60_000 }),
        ].map((s) => JSON.parse(s));
        await Promise.all(cs.map((c) => c.ok()));
        let expected = 0;
        for (const k of [0, 1]) for (let i = 0; i < perProducer; i++) expected += k * 1e6 + i;
        assert.equal(got[0].count + got[1].count, 2 * perProducer);
        assert.equal(got[0].sum + got[1].sum, expected);
        assert.equal(got[0].arrays + got[1].arrays, (2 * perProducer) / 100);
        assert.equal(got[0].bad + got[1].bad, 0);
        assert.ok(got[0].count > 0 && got[1].count > 0, 'both consumers took items');
        q.detach();
        results.detach();
      },
      { size: '256M', shared: 'process' },
    );
  },
);

for (const how of ['acquire', 'acquireAsync']) {
  test(
    `a SharedLock held by a child that is SIGKILLed goes to the next ${how}() with previousOwnerDied`,
    { skip: noNative },
    async () => {
      await withProcessHeap(async (heap) => {
        const lock = SharedLock.create({ heap });
        const child = spawnNode(
          `
        import { SharedArray, SharedLock } from 'shmframe';
        const lock = SharedLock.attach(process.argv[2]);
        const held = Array.from({ length: 5 }, () => SharedArray.zeros([1000], 'f8', { heap: lock.heap }));
        lock.acquire();
        process.stdout.write('held\\n');
        setInterval(() => {}, 1000);
        `,
          [String(lock.handle)],
        );
        await child.line(/held/);
        assert.equal(heap.stats().objects, 6);
        assert.equal(lock.locked, true);
        child.child.kill('SIGKILL');
        if (how === 'acquire') lock.acquire({ timeout: 10_000 });
        else await lock.acquireAsync({ timeout: 10_000 });
        assert.equal(lock.previousOwnerDied, true);
        lock.release();
        await child.exited;
        heap.releaseDead();
        assert.equal(heap.stats().objects, 1);
        lock.detach();
      });
    },
  );
}

test(
  'waits cross processes both ways: getAsync, putAsync, join and acquireAsync wake on another process',
  { skip: noNative },
  async () => {
    await withProcessHeap(async (heap) => {
      const q = SharedQueue.create({ capacity: 1, heap });
      const back = SharedQueue.create({ capacity: 1, heap });
      const lock = SharedLock.create({ heap });
      const child = spawnNode(
        `
      import { SharedLock, SharedQueue } from 'shmframe';
      const [qh, bh, lh] = process.argv.slice(2);
      const q = SharedQueue.attach(qh), back = SharedQueue.attach(bh), lock = SharedLock.attach(lh);
      for (let i = 0; i < 200; i++) { back.put(q.get() + 1); q.taskDone(); }
      lock.acquire();            // blocks until the parent releases it
      back.put('locked');
      lock.release();
      q.detach(); back.detach(); lock.detach();
      `,
        [String(q.handle), String(back.handle), String(lock.handle)],
      );
      lock.acquire();
      for (let i = 0; i < 200; i++) {
        await q.putAsync(i, { timeout: 10_000 }); // waits for room while the child is slow
        assert.equal(await back.getAsync({ timeout: 10_000 }), i + 1);
      }
      await q.join({ timeout: 10_000 });
      lock.release();
      assert.equal(await back.getAsync({ timeout: 10_000 }), 'locked');
      await lock.acquireAsync({ timeout: 10_000 });
      lock.release();
      await child.ok();
      for (const o of [q, back, lock]) o.detach();
    });
  },
);

test(
  'seed 003: a command queue with taskDone/join drives a worker process writing a shared array',
  { skip: noNative },
  async () => {
    await withProcessHeap(async (heap) => {
      const arr = SharedArray.zeros([10], 'u1', { heap });
      const q = SharedQueue.create({ capacity: 8, heap });
      const child = spawnNode(
        `
      import { SharedArray, SharedQueue } from 'shmframe';
      const q = SharedQueue.attach(process.argv[2]);
      const arr = SharedArray.attach(process.argv[3]);
      for (;;) {
        const cmd = q.get();
        if (cmd === 'done') { q.taskDone(); break; }
        arr.data.fill(cmd);
        q.taskDone();
      }
      arr.close(); q.detach();
      `,
        [String(q.handle), String(arr.handle)],
      );
      for (const v of [53, 15, 87]) {
        q.put(v);
        await q.join({ timeout: 10_000 });
        assert.deepEqual([...arr.data], Array(10).fill(v));
      }
      q.put('done');
      await child.ok();
      arr.close();
      q.detach();
    });
  },
);
