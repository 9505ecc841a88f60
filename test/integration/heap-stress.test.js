// Several threads allocating and freeing at once: no two live blocks ever overlap (each thread
// stamps its blocks and checks the stamp before freeing), and nothing leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Heap } from 'shmframe';
import { startWorker } from '../helpers/worker.js';
import { core } from '../helpers/internals.js';

const kStress = `
  import { workerData, parentPort } from 'node:worker_threads';
  import { SharedArray, Heap } from 'shmframe';
  const heap = Heap.fromBuffer(workerData.buffer);
  const go = new Int32Array(workerData.go);
  Atomics.wait(go, 0, 0); // start together
  const live = [];
  let seed = workerData.id * 977 + 13, ops = 0, bad = 0, full = 0;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const stamp = (a, v) => a.data.fill(v);
  const check = (a, v) => { for (const x of a.data) if (x !== v) return false; return true; };
  while (ops < workerData.ops) {
    for (let k = 0; k < 100; k++, ops++) {
      if (live.length > 0 && (live.length > 64 || rnd() < 0.5)) {
        const [a, v] = live.splice(Math.floor(rnd() * live.length), 1)[0];
        if (!check(a, v)) bad++;
        a.close();
      } else {
        try {
          const a = SharedArray.empty([1 + Math.floor(rnd() * (rnd() < 0.1 ? 200000 : 2000))], 'u1', { heap });
          const v = (workerData.id * 61 + ops) % 255 + 1;
          stamp(a, v);
          live.push([a, v]);
        } catch (err) {
          if (err.code !== 'SHMFRAME_ERR_HEAP_FULL') throw err;
          full++;
        }
      }
    }
  }
  for (const [a, v] of live) { if (!check(a, v)) bad++; a.close(); }
  parentPort.postMessage({ ops, bad, full });
`;

test('4 threads allocate and free 10k blocks each at once: no overlap, no leak, consistent allocator', async (t) => {
  const heap = Heap.create({ size: '32M' });
  const go = new SharedArrayBuffer(4);
  const workers = [0, 1, 2, 3].map((id) =>
    startWorker(kStress, { workerData: { buffer: heap.buffer, go, id, ops: 10000 } }),
  );
  for (const w of workers) heap.watch(w);
  const results = workers.map((w) => once(w, 'message').then(([m]) => m));
  const exits = workers.map((w) => once(w, 'exit'));
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const done = await Promise.all(results);
  await Promise.all(exits);
  for (const r of done) assert.equal(r.bad, 0, 'a block was overwritten by another thread');
  const ops = done.reduce((n, r) => n + r.ops, 0);
  t.diagnostic(
    `${ops} allocate/free operations, ${done.reduce((n, r) => n + r.full, 0)} HEAP_FULL`,
  );
  assert.equal(ops, 40000);
  assert.deepEqual(core(heap).alloc.verify(), []);
  const s = heap.stats();
  assert.equal(s.objects, 0);
  assert.equal(s.used, 0);
  assert.equal(s.handles, 0);
  assert.equal(s.threads, 0, 'every worker released its ledger at exit');
});
