// Producer side of bench/cases/queue-throughput.js: on { kind, n } puts the numbers 0..n-1 into
// the SharedQueue (put, putAsync, or putMany in batches of 256) or posts them on its MessagePort,
// then says 'done'.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedQueue } from 'shmframe';

const q = SharedQueue.attach(workerData.queue);
parentPort.on('message', async ({ kind, n }) => {
  if (kind === 'queue') {
    for (let i = 0; i < n; i++) q.put(i);
  } else if (kind === 'queue-batch') {
    const batch = new Array(256);
    for (let i = 0; i < n; i += 256) {
      const m = Math.min(256, n - i);
      batch.length = m;
      for (let k = 0; k < m; k++) batch[k] = i + k;
      q.putMany(batch);
    }
  } else if (kind === 'queue-async') {
    for (let i = 0; i < n; i++) await q.putAsync(i);
  } else if (kind === 'port') {
    for (let i = 0; i < n; i++) parentPort.postMessage(i);
  } else if (kind === 'exit') {
    q.detach();
    parentPort.close();
    return;
  }
  parentPort.postMessage('done');
});
