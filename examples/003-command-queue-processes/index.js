// Seed 003 with real processes, as the seed has them: a parent and two child processes share an
// array in OS shared memory; the parent drives them through a command queue used as a
// JoinableQueue (taskDone / join), with a lock. No file, no pickling, nothing to unlink.
// Run: node examples/003-command-queue-processes/index.js
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Heap, SharedArray, SharedLock, SharedQueue } from 'shmframe';

// An anonymous shared memory heap (a memfd): children inherit it; when every process is gone
// (SIGKILL included) the kernel frees it. Nothing appears in /dev/shm.
const heap = Heap.create({ size: '64M', shared: 'process' });
const start = heap.stats();

const N = 10;
const arr = SharedArray.zeros([N], 'u1', { heap }); // sharedmem.zeros(N, dtype=np.uint8)
const counters = SharedArray.zeros([4], 'i4', { heap });
const q = SharedQueue.create({ capacity: 16, heap }); // mp.JoinableQueue()
const lock = SharedLock.create({ heap });

// Two child processes (plain `node`, not threads). Each gets the objects as the string form of
// their handles: a few dozen characters that attach in any process that can reach the heap.
const args = [q, arr, counters, lock].map((o) => String(o.handle));
const children = [0, 1].map(() =>
  spawn(process.execPath, [new URL('./worker.js', import.meta.url).pathname, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  }),
);
const exited = children.map((c) => once(c, 'exit'));

// The seed's loop: put a command, wait for the computation to finish, print the array.
for (let i = 0; i < 3; i++) {
  await q.putAsync('data'); // the async forms wake across processes without blocking this loop
  await q.join();
  const held = await lock.holdAsync();
  console.log(`[${arr.shape}]`);
  console.log(`[${arr.toArray().join(' ')}]`);
  held.release();
}

// The lock across processes: 20 'add' commands shared by the two children, each adding 1 to
// every counter 1000 times under the lock: no increment is lost.
for (let i = 0; i < 20; i++) await q.putAsync('add');
await q.join();
console.log(`counters after 20 x 1000 locked increments by 2 processes: [${counters.toArray()}]`);
console.log(`no increment lost: ${counters.toArray().every((c) => c === 20000)}`);

for (const _ of children) await q.putAsync('done');
await q.join();
await Promise.all(exited);

for (const o of [arr, counters, lock]) o.close();
q.detach();
heap.releaseDead(); // the children exited; release at once what they might have held
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `heap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
