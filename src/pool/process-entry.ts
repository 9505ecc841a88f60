/**
 * The bootstrap of a pool worker process (`isolation: 'process'`; started by the pool with
 * `fork(new URL('./process-entry.js', import.meta.url), [init])`). It attaches the words the pool
 * made for it in the pool's heap, which opens that heap (a heap in OS shared memory) and makes it
 * this process's default heap, then runs the task loop (worker-core.ts) over the IPC channel.
 */
import { SharedArray } from '../array/shared-array.js';
import { encodeError } from '../errors.js';
import { Heap } from '../heap/heap.js';
// The barrel registers every shared kind, so that handles of any kind can be attached here.
import '../index.js';
import { TaskClaims, kClaimSlots } from './claims.js';
import { unwireHandles, wireHandles } from './wire.js';
import { kCrash, type ProcessInit } from './protocol.js';
import { ResultRecord, kRecordWords } from './record.js';
import { runWorker } from './worker-core.js';

if (typeof process.send !== 'function') {
  throw new Error('shmframe: process-entry.js runs only as a worker process of a Pool');
}
const send = process.send.bind(process);
const init = JSON.parse(process.argv[2] as string) as ProcessInit;
const words = SharedArray.attach(init.words) as SharedArray<'i4'>;
if (words.size !== kRecordWords + kClaimSlots) {
  throw new Error('shmframe: a pool worker process got words of the wrong size');
}
Heap.setDefault(words.heap);

// An uncaught exception ends the process, as it ends a worker thread: the pool learns why first.
process.on('uncaughtException', (err) => {
  try {
    send([kCrash, encodeError(err)], () => process.exit(1));
  } catch {
    process.exit(1);
  }
});
// The pool went away (closed this worker, or died): finish and leave. Something the task module
// left running (a timer, a server) does not keep an orphan alive.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 1000).unref();
});

// A reply's handles stay in the record until the reply has left this process (record.ts): a
// worker killed while its IPC channel is backed up leaves them for the pool to release.
const record = new ResultRecord(words.data.subarray(0, kRecordWords));
record.deferEnd = true;
const inFlight: number[] = [];
let listed = 0;
const sent = (): void => {
  const k = inFlight.shift() ?? 0;
  listed -= k;
  record.shift(k);
};

let listener: ((raw: unknown) => void) | null = null;
void runWorker({
  module: init.module,
  workerId: init.workerId,
  threadId: 0,
  record,
  claims: new TaskClaims(words.data.subarray(kRecordWords)),
  post: (m) => {
    wireHandles(m);
    const mine = record.count - listed; // entries noted since the last post: this message's
    inFlight.push(mine);
    listed += mine;
    try {
      send(m, sent);
    } catch (err) {
      // Not sent (a value that cannot be cloned): its entries go with the next message.
      inFlight.pop();
      listed -= mine;
      throw err;
    }
  },
  receive: () => undefined,
  listen: (fn) => {
    listener = (raw: unknown) => {
      unwireHandles(raw as unknown[]);
      fn(raw as unknown[]);
    };
    process.on('message', listener);
  },
  close: () => {
    if (listener !== null) process.off('message', listener);
    words.close();
    process.disconnect();
  },
});
