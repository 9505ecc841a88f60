/**
 * The bootstrap of a pool worker thread (its own build entry, started by the pool with
 * `new URL('./worker-entry.js', import.meta.url)`). It makes the pool's heap this thread's
 * default heap, then runs the task loop (worker-core.ts) over its port.
 */
import { parentPort, receiveMessageOnPort, threadId, workerData } from 'node:worker_threads';
import { Heap } from '../heap/heap.js';
// The barrel registers every shared kind, so that handles of any kind can be attached here.
import '../index.js';
import { TaskClaims } from './claims.js';
import type { WorkerInit } from './protocol.js';
import { ResultRecord } from './record.js';
import { runWorker } from './worker-core.js';

const port = parentPort;
if (port === null) throw new Error('shmframe: worker-entry.js runs only as a pool worker');
const init = workerData as WorkerInit;
let listener: ((m: unknown[]) => void) | null = null;

Heap.setDefault(Heap.fromBuffer(init.heap, init.heapId));
void runWorker({
  module: init.module,
  workerId: init.workerId,
  threadId,
  record: new ResultRecord(init.record),
  claims: new TaskClaims(init.claims),
  post: (m) => port.postMessage(m),
  receive: () => receiveMessageOnPort(port)?.message as unknown[] | undefined,
  listen: (fn) => {
    listener = fn;
    port.on('message', fn);
  },
  close: () => {
    if (listener !== null) port.off('message', listener);
    port.close();
  },
});
