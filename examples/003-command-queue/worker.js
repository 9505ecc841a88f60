// The worker loop of example 003 (the seed's `worker(q, arr)`): takes commands from the queue,
// works on the shared arrays under the lock, and marks each command done.
import { threadId, workerData } from 'node:worker_threads';
import { SharedArray, SharedLock, SharedQueue } from 'shmframe';

const q = SharedQueue.attach(workerData.q);
const arr = SharedArray.attach(workerData.arr);
const counters = SharedArray.attach(workerData.counters);
const lock = SharedLock.attach(workerData.lock);

for (;;) {
  const cmd = q.get(); // blocks this worker thread until a command comes
  if (cmd === 'data') {
    // Fake data. In real life, get data from hardware.
    const rnd = Math.floor(Math.random() * 100);
    const held = lock.hold(); // the optional lock: readers never see a half-filled array
    arr.data.fill(rnd);
    held.release();
  } else if (cmd === 'add') {
    // Read-modify-write from several threads: without the lock, increments would be lost.
    for (let k = 0; k < 1000; k++) {
      const held = lock.hold();
      for (let i = 0; i < counters.size; i++) counters.data[i] += 1;
      held.release();
    }
  }
  q.taskDone();
  if (cmd === 'done') break;
}
console.log(`worker ${threadId} done`);
for (const o of [arr, counters, lock]) o.close();
q.detach(); // a queue's close() would close it for everyone; detach() drops our reference
