#!/usr/bin/env node
// Adversarial allocation sequences against ledger placement (issue 15): after each one frees
// everything, heap.stats().largestFree must be back to its fresh value and the allocator
// consistent. Usage:
//   node scripts/stress-fragmentation.js [runs per sequence=20]
// (npm test runs a few runs of each in test/unit/heap/ledger-placement.test.js, which imports
// the sequences from here.)
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { Heap, SharedArray } from 'shmframe';
import { kCore } from '../dist/heap/heap.js';
import { kAllocMagic, kFreeMagic, kInternalKind } from '../dist/heap/layout.js';

/** A seeded generator of numbers in [0, 1). */
export function random(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Blocks in address order: { unit, size, kind: 'free' | 'object' | 'ledger' }. */
export function layout(heap) {
  const out = [];
  heap[kCore].alloc.walk((unit, size, magic, kind) => {
    out.push({
      unit,
      size,
      kind:
        magic === kFreeMagic
          ? 'free'
          : magic === kAllocMagic && kind >= kInternalKind
            ? 'ledger'
            : 'object',
    });
  });
  return out;
}

/**
 * How much the ledgers split the largest free space, in bytes: free blocks separated only by
 * ledgers would merge if those ledgers sat elsewhere; the largest such sum minus the largest
 * free block. 0 when no ledger lies between two free blocks that would make a larger one.
 */
export function ledgerSplit(heap) {
  let best = 0;
  let run = 0; // free units in the current run of free and ledger blocks
  let largest = 0;
  for (const b of layout(heap)) {
    if (b.kind === 'object') run = 0;
    else if (b.kind === 'free') {
      run += b.size;
      largest = Math.max(largest, b.size);
    }
    best = Math.max(best, run);
  }
  return (best - largest) * 64;
}

/** Records the worst ledgerSplit seen at the checkpoints of a sequence. */
function tracker(heap) {
  const t = { worst: 0, checks: 0, check: () => {} };
  t.check = () => {
    t.checks++;
    t.worst = Math.max(t.worst, ledgerSplit(heap));
  };
  return t;
}

function closeAll(objects, rnd) {
  while (objects.length > 0) objects.splice(Math.floor(rnd() * objects.length), 1)[0].close();
}

/** Allocates `bytes` of u1 or returns undefined when the heap is full. */
function tryAlloc(heap, bytes) {
  try {
    return SharedArray.empty([bytes], 'u1', { heap });
  } catch (err) {
    if (err.code === 'SHMFRAME_ERR_HEAP_FULL') return undefined;
    throw err;
  }
}

/**
 * The sequences. Each takes (heap, rnd) and returns notes; it must close everything it made.
 * `midlife` notes record, where the sequence checks it, how many ledgers split object space.
 */
export const sequences = {
  // The issue's case: a 32 MB array, a near-full one, 5000 tiny ones (the ledger grows while the
  // top is taken), then everything freed in a random order.
  issue(heap, rnd) {
    const t = tracker(heap);
    const objects = [SharedArray.empty([4_000_000], 'f8', { heap })];
    const room = heap.stats().largestFree;
    objects.push(SharedArray.empty([Math.max(1, room - 1_000_000)], 'u1', { heap }));
    for (let i = 0; i < 5000; i++) {
      const a = tryAlloc(heap, 8);
      if (a === undefined) break;
      objects.push(a);
    }
    const live = objects.length;
    // Free the two large ones first, then the small ones in a random order.
    objects.shift().close();
    t.check();
    objects.shift().close();
    t.check();
    while (objects.length > 0) {
      objects.splice(Math.floor(rnd() * objects.length), 1)[0].close();
      if (objects.length % 250 === 0) t.check();
    }
    return { live, split: t.worst };
  },
  // The ledger grows while an object sits at the top, which is freed while thousands of small
  // objects stay; then those go in a random order.
  topTaken(heap, rnd) {
    const t = tracker(heap);
    const big = SharedArray.empty([Math.floor(heap.stats().largestFree * 0.6)], 'u1', { heap });
    const top = SharedArray.empty([Math.floor(heap.stats().largestFree - 300_000)], 'u1', { heap });
    big.close(); // free space below `top` only
    const small = [];
    for (let i = 0; i < 3000; i++) {
      small.push(SharedArray.empty([1 + Math.floor(rnd() * 64)], 'u1', { heap }));
      if (i % 250 === 0) t.check();
    }
    top.close();
    t.check();
    while (small.length > 0) {
      small.splice(Math.floor(rnd() * small.length), 1)[0].close();
      if (small.length % 250 === 0) t.check();
    }
    return { live: 3001, split: t.worst };
  },
  // Random churn around ~550 live objects of 1 byte to 200 KB (most small), 20,000 operations.
  churn(heap, rnd, ops = 20_000) {
    const t = tracker(heap);
    const objects = [];
    let peak = 0;
    for (let i = 0; i < ops; i++) {
      const target = 550;
      if (objects.length > 0 && rnd() < (objects.length > target ? 0.6 : 0.4)) {
        objects.splice(Math.floor(rnd() * objects.length), 1)[0].close();
      } else {
        const bytes = rnd() < 0.8 ? 1 + Math.floor(rnd() * 2000) : 1 + Math.floor(rnd() * 200_000);
        const a = tryAlloc(heap, bytes);
        if (a !== undefined) {
          // Views and handles too: they take and drop references of their own.
          if (rnd() < 0.2) {
            const v = a.rows(0);
            const h = v.handle;
            const b = SharedArray.attach(h);
            v.close();
            a.close();
            objects.push(b);
          } else objects.push(a);
        }
      }
      peak = Math.max(peak, objects.length);
      if (i % 500 === 0) t.check();
    }
    closeAll(objects, rnd);
    return { live: peak, split: t.worst };
  },
  // Allocate upwards, free the lower half, allocate many small ones, free the upper half: the
  // ledger grows with the top taken and must move up or be freed.
  sawtooth(heap, rnd) {
    const t = tracker(heap);
    const objects = [];
    for (;;) {
      const a = tryAlloc(heap, 100_000 + Math.floor(rnd() * 100_000));
      if (a === undefined) break;
      objects.push(a);
    }
    const lower = objects.splice(0, objects.length >> 1);
    closeAll(lower, rnd);
    for (let i = 0; i < 4000; i++) {
      const a = tryAlloc(heap, 16);
      if (a === undefined) break;
      objects.push(a);
    }
    const live = objects.length;
    t.check();
    while (objects.length > 0) {
      objects.splice(Math.floor(rnd() * objects.length), 1)[0].close();
      if (objects.length % 250 === 0) t.check();
    }
    return { live, split: t.worst };
  },
};

const workerSource = `
import { workerData, parentPort } from 'node:worker_threads';
import { Heap, SharedArray } from 'shmframe';
const heap = Heap.fromBuffer(workerData.buffer);
let s = workerData.seed >>> 0 || 1;
const rnd = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 2 ** 32; };
const live = [];
for (let i = 0; i < 3000; i++) {
  if (live.length > 0 && rnd() < 0.45) live.splice(Math.floor(rnd() * live.length), 1)[0].close();
  else { try { live.push(SharedArray.empty([1 + Math.floor(rnd() * 50000)], 'u1', { heap })); } catch {} }
}
parentPort.postMessage(live.length);
if (workerData.hold) await new Promise(() => {}); // keep them until terminated
`;

/**
 * Workers churn in the same heap while this thread holds objects too; one exits normally
 * (dropping what it held), one is terminated holding objects and released by the parent.
 */
export async function threads(heap, rnd) {
  const mine = [];
  for (let i = 0; i < 300; i++)
    mine.push(SharedArray.empty([1 + Math.floor(rnd() * 5000)], 'u1', { heap }));
  const run = async (hold) => {
    const w = new Worker(workerSource, {
      eval: true,
      type: 'module',
      workerData: { buffer: heap.buffer, seed: Math.floor(rnd() * 2 ** 31), hold },
    });
    heap.watch(w);
    const [held] = await once(w, 'message');
    const exited = once(w, 'exit');
    if (hold) await w.terminate();
    await exited;
    return held;
  };
  const [a, b] = await Promise.all([run(false), run(true)]);
  closeAll(mine, rnd);
  return { live: 300 + a + b };
}

/** Runs one sequence on a fresh heap; returns the outcome. */
export async function runOne(name, seed, size = '64M') {
  const heap = Heap.create({ size });
  const fresh = heap.stats().largestFree;
  const rnd = random(seed);
  const notes = name === 'threads' ? await threads(heap, rnd) : sequences[name](heap, rnd);
  const end = heap.stats();
  const problems = heap[kCore].alloc.verify();
  return { name, seed, fresh, end: end.largestFree, objects: end.objects, problems, notes };
}

async function main() {
  const runs = Number(process.argv[2] ?? 20);
  const names = [...Object.keys(sequences), 'threads'];
  let failures = 0;
  console.log(
    `${runs} runs of each sequence on a fresh 64 MiB heap; largestFree after freeing everything vs fresh`,
  );
  for (const name of names) {
    let back = 0;
    let worst = 0;
    let split = 0;
    let live = 0;
    for (let r = 1; r <= runs; r++) {
      const o = await runOne(name, r * 7919);
      live = Math.max(live, o.notes.live ?? 0);
      split = Math.max(split, o.notes.split ?? 0);
      if (o.end === o.fresh && o.objects === 0 && o.problems.length === 0) back++;
      else {
        failures++;
        console.log(
          `  ${name} seed ${o.seed}: largestFree ${o.end} (fresh ${o.fresh}), objects ${o.objects}, problems ${o.problems.join('; ')}`,
        );
      }
      worst = Math.max(worst, o.fresh - o.end);
    }
    console.log(
      `${name.padEnd(9)} ${back}/${runs} back to fresh (worst deficit ${worst} bytes), up to ${live} live objects` +
        (name === 'threads'
          ? ''
          : `, ledgers split at most ${split} bytes off the largest free block mid-run`),
    );
  }
  process.exitCode = failures === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
