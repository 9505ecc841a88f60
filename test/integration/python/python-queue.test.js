// Seed 002's producer-consumer, reversed across languages: Python processes produce arrays into a
// SharedQueue that a Node consumer reads (arrays move by handle, with their reference; no frame
// lost, nothing copied); a full queue refuses (put_nowait, put with a timeout) and releases the
// item's reference; and the other way round, a Python consumer of a Node producer, with timeouts
// and close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedQueue } from 'shmframe';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy']);

const kProducer = `
import sys, numpy as np, shmframe
q = shmframe.attach(sys.argv[1])
producer, frames = int(sys.argv[2]), int(sys.argv[3])
for i in range(frames):
    a = shmframe.SharedArray.empty(q.heap, (200, 50), 'f8')
    v = a.numpy()
    v[:] = producer * 1000 + i               # the frame's content says who made it
    v[0, 0] = -i
    q.put(a, timeout=30)                     # the queue item carries its own reference
    a.close()
q.put(f'done {producer}')
q.detach()
`;

test(
  '002 reversed: two Python producers put arrays into a SharedQueue a Node consumer reads; no frame lost',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const q = SharedQueue.create({ capacity: 4, heap });
        const frames = 30;
        const producers = [1, 2].map((p) => spawnPython(kProducer, [String(q.handle), p, frames]));
        const seen = new Map([
          [1, []],
          [2, []],
        ]);
        let done = 0;
        while (done < 2) {
          const item = await q.getAsync({ timeout: 60_000 });
          if (typeof item === 'string') {
            assert.match(item, /^done [12]$/);
            done++;
            continue;
          }
          assert.equal(SharedArray.isSharedArray(item), true);
          assert.deepEqual(item.shape, [200, 50]);
          assert.equal(item.dtype, '<f8');
          const i = Math.abs(item.get(0, 0));
          const producer = Math.floor(item.get(1, 0) / 1000);
          assert.equal(item.get(199, 49), producer * 1000 + i);
          seen.get(producer).push(i);
          item.close();
        }
        await Promise.all(producers.map((p) => p.ok()));
        for (const [, list] of seen)
          assert.deepEqual(
            list,
            Array.from({ length: frames }, (_, i) => i),
            'in order, none lost',
          );
        assert.equal(q.size, 0);
        q.detach();
      },
      { size: '64M', name: uniqueName('queue') },
    );
  },
);

const kFull = `
import json, sys, time, numpy as np, shmframe
q = shmframe.attach(sys.argv[1])
out = {'put': 0, 'skipped': 0}
for i in range(3):
    a = shmframe.SharedArray.from_numpy(q.heap, np.full(8, i, 'i4'))
    try:
        q.put_nowait(a)                      # the seed's "skip the frame when the queue is full"
        out['put'] += 1
    except shmframe.QueueFullError as err:
        out['skipped'] += 1
        out['code'] = err.code
    a.close()
t0 = time.monotonic()
try:
    q.put(np.int32(7).item(), timeout=0.2)
except shmframe.QueueFullError as err:
    out['timeout'] = [err.code, round(time.monotonic() - t0, 1) >= 0.2]
import queue
out['is_queue_full'] = issubclass(shmframe.QueueFullError, queue.Full)
out['objects'] = q.heap.stats()['objects']
print(json.dumps(out))
q.detach()
`;

test(
  'a full queue refuses a Python put (put_nowait, put with a timeout) with QUEUE_FULL and drops the item reference',
  { skip },
  async () => {
    await withProcessHeap(async (heap) => {
      const q = SharedQueue.create({ capacity: 2, heap });
      const before = heap.stats().objects;
      const py = spawnPython(kFull, [String(q.handle)]);
      const r = JSON.parse(await py.line(/^\{/));
      await py.ok();
      assert.deepEqual(r, {
        put: 2,
        skipped: 1,
        code: 'SHMFRAME_ERR_QUEUE_FULL',
        timeout: ['SHMFRAME_ERR_QUEUE_FULL', true],
        is_queue_full: true,
        objects: before + 2,
      });
      const got = [q.get({ timeout: 1000 }), q.get({ timeout: 1000 })];
      assert.deepEqual(
        got.map((a) => [...a.data]),
        [Array(8).fill(0), Array(8).fill(1)],
      );
      for (const a of got) a.close();
      assert.equal(heap.stats().objects, before);
      q.detach();
    });
  },
);

const kConsumer = `
import json, sys, shmframe
q = shmframe.attach(sys.argv[1])
got = []
print('ready', flush=True)
while True:
    try:
        item = q.get(timeout=30)
    except shmframe.QueueClosedError:
        break
    if isinstance(item, shmframe.SharedArray):
        with item:
            got.append(item.numpy().sum().item())
    else:
        got.append(item)
    q.task_done()
try:
    q.get(timeout=0.05)
except shmframe.QueueClosedError as err:
    got.append(err.code)
print(json.dumps(got))
q.detach()
`;

test(
  'a Python consumer of a Node producer: numbers, strings, null, booleans, bigints and arrays; task_done/join; close ends the loop',
  { skip },
  async () => {
    await withProcessHeap(async (heap) => {
      const q = SharedQueue.create({ capacity: 3, heap });
      const py = spawnPython(kConsumer, [String(q.handle)]);
      await py.line(/^ready/);
      const items = [1.5, 'ünï ✓', null, true, false, 2n ** 60n, 7];
      for (const x of items) await q.putAsync(x, { timeout: 30_000 });
      for (let i = 1; i <= 3; i++) {
        const a = SharedArray.full([10], i, 'f8', { heap });
        await q.putAsync(a, { timeout: 30_000 });
        a.close();
      }
      await q.join({ timeout: 30_000 });
      q.close();
      const got = JSON.parse(await py.line(/^\[/));
      await py.ok();
      assert.deepEqual(got, [
        1.5,
        'ünï ✓',
        null,
        true,
        false,
        2 ** 60,
        7,
        10,
        20,
        30,
        'SHMFRAME_ERR_QUEUE_CLOSED',
      ]);
      q.detach();
    });
  },
);
