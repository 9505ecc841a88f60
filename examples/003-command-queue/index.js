// Seed 003: a worker loop driven by a command queue used as a JoinableQueue (taskDone / join),
// filling a shared array (sharedmem.zeros -> SharedArray.zeros), with an optional lock.
// Run: node examples/003-command-queue/index.js
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap, SharedArray, SharedLock, SharedQueue } from 'shmframe';

const heap = Heap.default(); // before the workers start, so that they share it
const start = heap.stats();

const N = 10;
const arr = SharedArray.zeros([N], 'u1'); // sharedmem.zeros(N, dtype=np.uint8)
const counters = SharedArray.zeros([4], 'i4'); // mp.Array('i', 4, lock=True): see the lock below
const q = SharedQueue.create({ capacity: 16 }); // mp.JoinableQueue()
const lock = SharedLock.create();

// Two worker loops (the seed starts one; two show that join() waits for every taskDone()).
const shared = { q: q.handle, arr: arr.handle, counters: counters.handle, lock: lock.handle };
const workers = [0, 1].map(() => {
  const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: shared });
  heap.watch(w); // if a worker dies, what it held (the lock too) is released
  return w;
});
const exited = workers.map((w) => once(w, 'exit')); // listen now: a worker may exit any time

// The seed's loop: put a command, wait for the computation to finish, print the array.
for (let i = 0; i < 3; i++) {
  await q.putAsync('data'); // async forms on the main thread: they never block the event loop
  await q.join(); // resolves once every command put so far was marked taskDone()
  const held = await lock.holdAsync(); // read under the lock (optional here: the worker is done)
  console.log(`[${arr.shape}]`);
  console.log(`[${arr.toArray().join(' ')}]`);
  held.release();
}

// The lock at work: 20 'add' commands shared by the two workers, each adding 1 to every counter
// 1000 times under the lock. Every increment counts: 20 x 1000 = 20000.
for (let i = 0; i < 20; i++) await q.putAsync('add');
await q.join();
console.log(`counters after 20 x 1000 locked increments by 2 workers: [${counters.toArray()}]`);
console.log(`no increment lost: ${counters.toArray().every((c) => c === 20000)}`);

// 'done' to each worker, as in the seed; then wait for them to exit.
for (const _ of workers) await q.putAsync('done');
await q.join();
await Promise.all(exited);

for (const o of [arr, counters, lock]) o.close();
q.detach();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `heap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
