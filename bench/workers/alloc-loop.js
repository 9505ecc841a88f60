// Worker for heap-alloc: allocate+free in a loop on a shared heap until `durationMs` passed.
// workerData: { buffer (the heap's SharedArrayBuffer), start (Int32Array on a SAB: wait for 1),
//               api: 'array' | 'block' | 'sab', shape: 'same' | 'mixed', durationMs, seed }
// shape 'same':  a ring of 50 live 64 KiB blocks: allocate one, free the oldest (a bounded
//                producer-consumer queue of frames);
// shape 'mixed': 1000 live slots; each step frees a random slot and allocates 64 B..1 MiB
//                (log-uniform) in it.
// Warms up, posts 'ready' and waits for start[0] = 1. Posts { ops, ms } when done, then waits for 'free' to release its live set (so the parent can
// read heap.stats() with every thread's live set in place) and exits; its exit releases its
// ledger (the heap's per-thread record of its references).
import { parentPort, workerData } from 'node:worker_threads';
import { Heap, SharedArray } from 'shmframe';
import { BlockRef } from '../../dist/heap/block-ref.js';
import { KindCode } from '../../dist/heap/kinds.js';

const { buffer, start, api, shape, durationMs, seed } = workerData;
const heap = Heap.fromBuffer(buffer);

let state = seed >>> 0 || 1;
function random() {
  // xorshift32: reproducible sizes and slots
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 2 ** 32;
}

const allocate = {
  array: (bytes) => SharedArray.empty([bytes], 'u1', { heap }),
  block: (bytes) => BlockRef.allocate(heap, KindCode.array, bytes, 'a bench block', false),
  sab: (bytes) => new SharedArrayBuffer(bytes),
}[api];
const free = {
  array: (a) => a.close(),
  block: (b) => b.release(),
  sab: () => {},
}[api];

const kRing = 50;
const kSlots = 1000;
const live = new Array(shape === 'same' ? kRing : kSlots).fill(undefined);
const size = () => (shape === 'same' ? 64 * 1024 : Math.floor(64 * 2 ** (random() * 14)));

let at = 0;
function loop(ms) {
  const t0 = performance.now();
  let ops = 0;
  for (;;) {
    for (let k = 0; k < 256; k++) {
      const i = shape === 'same' ? at++ % kRing : Math.floor(random() * kSlots);
      if (live[i] !== undefined) free(live[i]);
      live[i] = allocate(size());
    }
    ops += 256;
    if (performance.now() - t0 >= ms) return { ops, ms: performance.now() - t0 };
  }
}

// Warm up (the JIT needs thousands of calls), free, then start with the other threads.
loop(Math.max(100, durationMs / 5));
for (let i = 0; i < live.length; i++) {
  if (live[i] !== undefined) free(live[i]);
  live[i] = undefined;
}
parentPort.postMessage('ready');
Atomics.wait(start, 0, 0);
parentPort.postMessage(loop(durationMs));
parentPort.once('message', () => {
  for (const x of live) if (x !== undefined) free(x);
});
