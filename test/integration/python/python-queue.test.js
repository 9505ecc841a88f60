// Seed 002's producer-consumer, reversed across languages: Python processes produce arrays into a
// SharedQueue that a Node consumer reads (arrays move by handle, with their reference; no frame
// lost, nothing copied); a full queue refuses (put_nowait, put with a timeout) and releases the
// item's reference; and the other way round, a Python consumer of a Node producer, with timeouts
// and close. A producer killed while blocked in put() leaks nothing, whichever language it was
// written in and whichever releases it (the held tickets of src/heap/held.ts and heap/held.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedQueue } from 'shmframe';
import { core } from '../../helpers/internals.js';
import { noNative, spawnNode, uniqueName, withProcessHeap } from '../../helpers/process.js';
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

// Queue header word (src/sync/queue-engine.ts): producers sleeping on a full queue.
const PUT_WAITERS = 65;

/** The queue's header words, to see from here that a producer sleeps in put(). */
function queueWords(heap, q) {
  const h = q.handle;
  const words = new Int32Array(heap.buffer, (h.unit + 1) * 64, 96);
  heap.releaseHandle(h);
  return words;
}

/** Yields to the event loop until `cond()` holds: the other process's state, not a duration. */
async function until(cond, exited) {
  let done = false;
  exited.then(() => (done = true));
  while (!cond()) {
    if (done) throw new Error('the process exited before it got there');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const kBlockedPut = `
import sys, numpy as np, shmframe
q = shmframe.attach(sys.argv[1])
a = shmframe.SharedArray.from_numpy(q.heap, np.arange(1000.0))
f = shmframe.SharedFrame.create(q.heap, {'x': 'f8', 's': 'utf8'}, capacity=10)
print('putting', flush=True)
q.put(a if sys.argv[2] == 'array' else f)    # the queue is full: blocks until killed
`;

test(
  'a Python producer killed with SIGKILL while blocked in put() leaks nothing: Node releases the handle its put held',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const fresh = heap.stats().largestFree;
        const q = SharedQueue.create({ capacity: 1, heap });
        q.put(0); // full
        const words = queueWords(heap, q);
        const start = heap.stats();
        for (const shape of ['array', 'frame', 'array']) {
          // A producer killed asleep leaves its count of sleepers behind (it only costs a
          // wake-up), so wait for one more than now.
          const sleeping = Atomics.load(words, PUT_WAITERS) + 1;
          const py = spawnPython(kBlockedPut, [String(q.handle), shape]);
          await py.line(/^putting/);
          await until(() => Atomics.load(words, PUT_WAITERS) === sleeping, py.exited);
          assert.equal(heap.stats().handles, start.handles + 1, 'the item was encoded');
          assert.equal(heap.stats().objects, start.objects + 2);
          py.child.kill('SIGKILL');
          await py.exited;
          heap.releaseDead();
          const s = heap.stats();
          assert.deepEqual(
            [s.objects, s.used, s.handles],
            [start.objects, start.used, start.handles],
            `${shape}: the blocked put's objects were not all released`,
          );
          assert.deepEqual(core(heap).alloc.verify(), []);
        }
        assert.equal(q.get({ timeout: 1000 }), 0);
        assert.equal(q.size, 0, 'no item of a killed producer was published');
        q.detach();
        assert.equal(heap.stats().objects, 0);
        assert.equal(heap.stats().largestFree, fresh, 'the heap is one free block again');
      },
      { size: '64M', name: uniqueName('put-kill') },
    );
  },
);

test(
  'Python releases a Node producer killed while blocked in put(): the handles its put held are released',
  { skip },
  async () => {
    // The heap is a Python process's (this test process never maps it), so the release is Python's.
    const owner = spawnPython(
      `
import json, os, sys, time, shmframe
heap = shmframe.Heap.create('64M', name=sys.argv[1])
q = shmframe.SharedQueue.create(heap, 1)
q.put(0)                                              # full
before = heap.stats()
print(str(q.handle), flush=True)
sys.stdin.readline()                                  # the Node producer is in put()
engine = q._engine
deadline = time.monotonic() + 30
while engine.w.load(engine.qw + 65) != 1 and time.monotonic() < deadline:
    os.sched_yield()                                  # its state, not a duration: asleep on the full queue
sleeping = engine.w.load(engine.qw + 65)
during = heap.stats()
print('asleep', flush=True)
sys.stdin.readline()                                  # ... and was killed
heap.release_dead()
after = heap.stats()
got = q.get(timeout=1)
print(json.dumps({'sleeping': sleeping, 'during': [during['objects'] - before['objects'], during['handles'] - before['handles']],
                  'after': [after['objects'] - before['objects'], after['handles'] - before['handles'], after['used'] - before['used']],
                  'got': got, 'size': q.size, 'verify': heap.verify(), 'processes': len(heap.processes())}), flush=True)
q.detach()
`,
      [uniqueName('reap-put')],
      { stdin: 'pipe' },
    );
    const queueText = await owner.line(/^shmframe:/);
    const node = spawnNode(
      `
    import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
    const q = SharedQueue.attach(process.argv[2]);
    const a = SharedArray.full([1000], 1, 'f8', { heap: q.heap });
    const f = SharedFrame.from({ x: [1, 2], s: ['a', null] }, { heap: q.heap, capacity: 4 });
    process.stdout.write('putting\\n');
    q.put([a, { f }]); // the queue is full: blocks until killed
    `,
      [queueText],
    );
    await node.line(/^putting/);
    // The Node producer is asleep in put() once the queue's sleeper count says so: the owner
    // reads it (it maps the heap; this process does not).
    owner.child.stdin.write('check\n');
    await owner.line(/^asleep/);
    node.child.kill('SIGKILL');
    await node.exited;
    owner.child.stdin.write('killed\n');
    const r = JSON.parse(await owner.line(/^\{/));
    owner.child.stdin.end();
    await owner.ok();
    assert.deepEqual(r, {
      sleeping: 1,
      during: [2, 2],
      after: [0, 0, 0],
      got: 0,
      size: 0,
      verify: [],
      processes: 1,
    });
  },
);
