// Allocate+free throughput of one shared heap from 1 and 2 threads, in two shapes:
// - same size: a ring of 50 live 64 KiB blocks, allocate one and free the oldest (the bounded
//   producer-consumer queue of seed 002);
// - mixed sizes: 1000 live slots, each step frees a random slot and allocates 64 B..1 MiB.
// shmframe: SharedArray.empty + close (the public path: allocator, reference count, ledger,
// object). Alternative, in the same run: a new SharedArrayBuffer per block, freed by the GC.
// Also: the allocator engine alone (BlockRef.allocate + release, no object), the 2-thread
// scaling, and heap.stats() fragmentation (largestFree vs free) with the live sets in place and
// after they were freed.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap } from 'shmframe';
import { GiB, MiB, runCase, summarize } from '../lib.js';

const kWorker = new URL('../workers/alloc-loop.js', import.meta.url);

/** Runs `threads` workers at once; resolves to { rate (ops/s, all threads), stats, after }. */
async function run(heap, { api, shape, threads, durationMs }) {
  const start = new Int32Array(new SharedArrayBuffer(4));
  const workers = [];
  for (let t = 0; t < threads; t++) {
    const w = new Worker(kWorker, {
      workerData: { buffer: heap.buffer, start, api, shape, durationMs, seed: 12345 + 7919 * t },
    });
    heap.watch(w);
    workers.push(w);
  }
  const next = (w) =>
    Promise.race([
      once(w, 'message').then(([m]) => m),
      once(w, 'error').then(([e]) => Promise.reject(e)),
    ]);
  await Promise.all(workers.map(next)); // 'ready': warmed up
  const results = workers.map(next);
  Atomics.store(start, 0, 1);
  Atomics.notify(start, 0);
  const done = await Promise.all(results);
  const stats = heap.stats();
  const exited = workers.map((w) => once(w, 'exit'));
  for (const w of workers) w.postMessage('free');
  await Promise.all(exited);
  const after = heap.stats();
  const ops = done.reduce((p, r) => p + r.ops, 0);
  const ms = Math.max(...done.map((r) => r.ms));
  return { rate: (ops * 1000) / ms, stats, after };
}

await runCase('heap-alloc', async ({ quick, repeats, result, log }) => {
  const durationMs = quick ? 150 : 1000;
  const n = repeats ?? (quick ? 1 : 3);
  const heap = Heap.create({ size: 1 * GiB });
  const base = heap.stats();
  const shapes = {
    same: 'same size 64 KiB (ring of 50 live)',
    mixed: 'mixed 64 B-1 MiB (1000 live)',
  };
  const figures = {};
  const frag = {};
  for (const shape of Object.keys(shapes)) {
    for (const threads of [1, 2]) {
      const samples = { array: [], block: [], sab: [] };
      // The three APIs take turns, sample by sample, so that drift on a shared machine hits all.
      for (let i = 0; i < n; i++) {
        for (const api of ['array', 'block', 'sab']) {
          const r = await run(heap, { api, shape, threads, durationMs });
          samples[api].push(r.rate);
          if (api !== 'sab') {
            if (r.after.objects !== base.objects || r.after.used !== base.used) {
              throw new Error(
                `heap did not return to its start after ${api}/${shape}/${threads}: ${JSON.stringify(r.after)}`,
              );
            }
            if (api === 'array' && i === n - 1) frag[`${shape}-${threads}`] = r;
          }
        }
      }
      const stat = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
      figures[`${shape}-${threads}`] = stat;
      log(
        `${shape} x${threads}: SharedArray ${(stat.array.median / 1e6).toFixed(2)} M/s, engine ${(stat.block.median / 1e6).toFixed(2)} M/s, new SAB ${(stat.sab.median / 1e6).toFixed(2)} M/s`,
      );
      const th = `${threads} thread${threads > 1 ? 's' : ''}`;
      result.add({
        id: `alloc-${shape}-${threads}`,
        what: `allocate+free, ${shapes[shape]}, ${th}: SharedArray.empty + close vs new SharedArrayBuffer`,
        unit: 'blocks/s',
        better: 'higher',
        shmframe: stat.array,
        alternative: { name: 'new SAB', stat: stat.sab },
      });
      result.add({
        id: `alloc-engine-${shape}-${threads}`,
        what: `allocate+free, ${shapes[shape]}, ${th}: the allocator alone (no object) vs new SharedArrayBuffer`,
        unit: 'blocks/s',
        better: 'higher',
        shmframe: stat.block,
        alternative: { name: 'new SAB', stat: stat.sab },
      });
    }
    result.add({
      id: `alloc-scaling-${shape}`,
      what: `2 threads vs 1 thread on one heap, ${shapes[shape]} (SharedArray.empty + close)`,
      unit: 'blocks/s',
      better: 'higher',
      shmframe: figures[`${shape}-2`].array,
      alternative: { name: '1 thread', stat: figures[`${shape}-1`].array },
    });
  }
  for (const [key, r] of Object.entries(frag)) {
    const [shape, threads] = key.split('-');
    const pct = (s) => summarize([(100 * s.largestFree) / s.free]);
    result.add({
      id: `fragmentation-${key}`,
      what: `largestFree / free after the ${shapes[shape]} loop, ${threads} thread(s): live set in place (${(r.stats.used / MiB).toFixed(0)} MiB used, ${r.stats.objects} objects) / all freed`,
      unit: '%',
      shmframe: pct(r.stats),
      alternative: { name: 'all freed', stat: pct(r.after), unit: '%' },
    });
  }
  result.note(
    `allocate+free: ${n} sample(s) of ${durationMs} ms per figure; 1 op = one allocation and the free of the block it replaces; 2 threads = both loops at once on the same heap`,
  );
});
