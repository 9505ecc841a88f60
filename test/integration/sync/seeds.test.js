// The queue and lock scenarios of seeds 002 and 003, at test scale, with real workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedLock, SharedQueue } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { run } from './fixtures/run.js';

test('seed 002 producer-consumer: 5 cameras, 2 matchers, a bounded queue, nothing lost or leaked', () =>
  withHeap(
    async (heap) => {
      const cameras = 5;
      const frames = 16;
      const q = SharedQueue.create({ capacity: cameras * 2, heap });
      const matchers = [0, 1].map(() =>
        run(heap, 'matcher', { q: q.handle, cameras, every: 4, threshold: 0.8 }),
      );
      const producers = Array.from({ length: cameras }, (_, camera) =>
        run(heap, 'camera', { q: q.handle, camera, frames, rows: 50, cols: 25, timeout: 2000 }),
      );
      const made = await Promise.all(producers.map((p) => p.result));
      q.close(); // instead of guessing "done" from 3 s of silence
      const seen = await Promise.all(matchers.map((m) => m.result));
      const produced = made.reduce((s, r) => s + r.produced, 0);
      const skipped = made.reduce((s, r) => s + r.skipped, 0);
      assert.equal(produced + skipped, cameras * frames);
      assert.equal(
        seen.reduce((s, r) => s + r.received, 0),
        produced,
        'every frame put was matched by exactly one matcher',
      );
      for (const r of seen)
        assert.ok(r.checksumOk, 'a matcher read descriptors the camera did not write');
      assert.ok(seen.reduce((s, r) => s + r.matchedFrames, 0) >= 1);
      q.detach();
    },
    { size: '64M' },
  ));

test('seed 002 with a slow matcher: full queue, puts time out and frames are skipped, memory stays bounded', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 2, heap });
    // Nobody consumes until the cameras are done: each camera gets 2 slots' worth in, at most.
    const made = await Promise.all(
      [0, 1].map(
        (camera) =>
          run(heap, 'camera', { q: q.handle, camera, frames: 4, rows: 10, cols: 10, timeout: 20 })
            .result,
      ),
    );
    const produced = made.reduce((s, r) => s + r.produced, 0);
    assert.equal(produced, 2, 'exactly capacity frames got in');
    assert.equal(
      made.reduce((s, r) => s + r.skipped, 0),
      6,
    );
    assert.equal(
      heap.stats().objects,
      1 + 2,
      'the queue and the 2 frames in it: skipped frames were freed',
    );
    q.close();
    q.detach(); // frames never taken are freed with the queue
  }));

test('seed 003: JoinableQueue command loop, a worker writing a shared array under a lock', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const lock = SharedLock.create({ heap });
    const arr = SharedArray.zeros([10], 'u1', { heap }); // sharedmem.zeros(N, dtype=np.uint8)
    const worker = run(heap, 'commandLoop', { q: q.handle, lock: lock.handle, arr: arr.handle });
    const values = [53, 15, 87];
    for (const value of values) {
      q.put({ op: 'data', value });
      await q.join(); // wait for the computation to finish
      await lock.acquireAsync();
      try {
        assert.deepEqual(Array.from(arr.data), new Array(10).fill(value));
      } finally {
        lock.release();
      }
    }
    q.put('done');
    assert.deepEqual((await worker.result).written, values);
    await q.join();
    arr.close();
    lock.close();
    q.detach();
  }));
