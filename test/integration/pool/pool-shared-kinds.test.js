// Frames, queues and locks cross the pool by handle like arrays: the pool knows no class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, SharedArray, SharedFrame, SharedLock, SharedQueue } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kTasks = new URL('../../fixtures/pool-tasks.js', import.meta.url);

test('seed 002 producer-consumer: pool tasks put shared frames in a bounded queue', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const queue = SharedQueue.create({ capacity: 4, heap });
    try {
      const cameras = [0, 1, 2];
      const producing = pool.map(
        'produce',
        cameras.map((camera) => ({ queue, camera, frames: 12 })),
      );
      const seen = new Map();
      const consuming = (async () => {
        for await (const [camera, frame, descriptors] of queue) {
          assert.equal(descriptors.get(0, 0), camera * 1000 + frame);
          seen.set(`${camera}/${frame}`, true);
          descriptors.close();
        }
      })();
      const skipped = await producing;
      queue.close(); // every producer is done: let the consumer finish
      await consuming;
      assert.deepEqual(skipped, [0, 0, 0], 'the consumer keeps up: no frame lost');
      assert.equal(seen.size, 36);
      assert.equal(queue.closed, true);
    } finally {
      queue.detach();
      await pool.close();
    }
  });
});

test('a SharedLock passed to tasks serialises their updates of a shared counter', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const lock = SharedLock.create({ heap });
    const counter = SharedArray.zeros([1], 'i4', { heap });
    try {
      const done = await pool.map(
        'increment',
        [1, 2, 3, 4].map(() => ({ lock, counter, times: 5000 })),
      );
      assert.deepEqual(done, [5000, 5000, 5000, 5000]);
      assert.equal(counter.get(0), 20000);
    } finally {
      counter.close();
      lock.close();
      await pool.close();
    }
  });
});

test('a queue argument is released, not closed, when its task settles; a returned frame is moved', async () => {
  await withHeap(async (heap) => {
    const pool = new Pool({ module: kTasks, workers: 2, heap });
    const queue = SharedQueue.create({ capacity: 8, heap });
    try {
      assert.equal(await pool.run('produce', { queue, camera: 9, frames: 2 }), 0);
      assert.equal(queue.closed, false, 'the worker dropped its reference but left the queue open');
      assert.equal(queue.size, 2);
      for (let i = 0; i < 2; i++) queue.get()[2].close();
      const f = await pool.run('makeFrame', { n: 5 });
      assert.ok(SharedFrame.isSharedFrame(f));
      assert.deepEqual([...f.col('x')], [0, 1, 2, 3, 4]);
      assert.equal(f.heap, heap);
      f.close();
    } finally {
      queue.detach();
      await pool.close();
    }
  });
});
