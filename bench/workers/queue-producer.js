// Producer worker thread of bench/cases/queue-throughput.js (see queue-produce.js); 'exit' ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedQueue } from 'shmframe';
import { produce } from './queue-produce.js';

const q = SharedQueue.attach(workerData.queue);
parentPort.on('message', async (m) => {
  if (await produce(q, m, (x) => parentPort.postMessage(x))) return;
  if (m.kind === 'exit') {
    q.detach();
    parentPort.close();
  }
});
