// A child process of example 003-command-queue-processes: the seed's `worker(q, arr)` loop.
// Attaches the queue, the arrays and the lock by the string form of their handles (argv).
import { SharedArray, SharedLock, SharedQueue } from 'shmframe';

const [qh, arrh, countersh, lockh] = process.argv.slice(2);
const q = SharedQueue.attach(qh);
const arr = SharedArray.attach(arrh);
const counters = SharedArray.attach(countersh);
const lock = SharedLock.attach(lockh);

for (;;) {
  const cmd = q.get(); // blocks this process until a command comes (a futex: no polling)
  if (cmd === 'data') {
    const rnd = Math.floor(Math.random() * 100); // fake data; in real life, from hardware
    const held = lock.hold();
    arr.data.fill(rnd);
    held.release();
  } else if (cmd === 'add') {
    for (let k = 0; k < 1000; k++) {
      const held = lock.hold();
      for (let i = 0; i < counters.size; i++) counters.data[i] += 1;
      held.release();
    }
  }
  q.taskDone();
  if (cmd === 'done') break;
}
console.log(`process ${process.pid} done`);
for (const o of [arr, counters, lock]) o.close();
q.detach();
