#!/usr/bin/env node
// Allocate+free throughput of this build against another build of shmframe (a base commit), both
// loaded in this one process and run in alternating 25 ms slices, so that the load of a shared
// machine falls on both alike (separate `npm run bench -- heap-alloc` runs on a busy 2-core
// machine differed by 3x between identical runs). Usage:
//   git archive <base> | (mkdir -p /tmp/base && tar -x -C /tmp/base)
//   ln -s "$PWD/node_modules" /tmp/base/node_modules && (cd /tmp/base && npx tsc -p tsconfig.build.json)
//   node scripts/heap-ab.js /tmp/base [seconds per shape = 20]
// Shapes (as bench/cases/heap-alloc.js, one thread): 'same' is a ring of 50 live 64 KiB blocks,
// 'mixed' 1000 live slots of 64 B..1 MiB; each through SharedArray.empty + close (the public
// path) and through the allocator engine alone (BlockRef.allocate + release).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const base = resolve(process.argv[2] ?? '');
const seconds = Number(process.argv[3] ?? 20);
const here = new URL('../dist/', import.meta.url);
const there = pathToFileURL(`${base}/dist/`);

async function load(root) {
  const api = await import(new URL('index.js', root));
  const { BlockRef } = await import(new URL('heap/block-ref.js', root));
  const { KindCode } = await import(new URL('heap/kinds.js', root));
  return { ...api, BlockRef, KindCode };
}

function loop(build, api, shape) {
  const heap = build.Heap.create({ size: '1G' });
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  const allocate =
    api === 'array'
      ? (bytes) => build.SharedArray.empty([bytes], 'u1', { heap })
      : (bytes) => build.BlockRef.allocate(heap, build.KindCode.array, bytes, 'a block', false);
  const free = api === 'array' ? (a) => a.close() : (b) => b.release();
  const live = new Array(shape === 'same' ? 50 : 1000).fill(undefined);
  let at = 0;
  return {
    heap,
    /** Runs for `ms`; returns operations per second. */
    run(ms) {
      const t0 = performance.now();
      let ops = 0;
      for (;;) {
        for (let k = 0; k < 64; k++) {
          const i = shape === 'same' ? at++ % live.length : Math.floor(random() * live.length);
          if (live[i] !== undefined) free(live[i]);
          live[i] = allocate(shape === 'same' ? 65536 : Math.floor(64 * 2 ** (random() * 14)));
        }
        ops += 64;
        const t = performance.now() - t0;
        if (t >= ms) return (ops * 1000) / t;
      }
    },
    close() {
      for (const x of live) if (x !== undefined) free(x);
    },
  };
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const builds = { base: await load(there), this: await load(here) };
console.log(`base: ${base}; ${seconds} s per shape, alternating 25 ms slices`);
console.log(
  'shape              base (M ops/s)  this (M ops/s)  this/base  (median of per-pair ratios)',
);
for (const api of ['array', 'engine']) {
  for (const shape of ['same', 'mixed']) {
    const loops = { base: loop(builds.base, api, shape), this: loop(builds.this, api, shape) };
    for (const l of Object.values(loops)) l.run(300); // warm-up
    const rates = { base: [], this: [] };
    const pairs = [];
    const end = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      // Alternate which goes first, so neither always follows a GC of the other.
      const order = i % 2 ? ['base', 'this'] : ['this', 'base'];
      const r = {};
      for (const k of order) r[k] = loops[k].run(25);
      rates.base.push(r.base);
      rates.this.push(r.this);
      pairs.push(r.this / r.base);
    }
    for (const l of Object.values(loops)) l.close();
    const b = median(rates.base);
    const t = median(rates.this);
    console.log(
      `${`${api} ${shape}`.padEnd(18)} ${(b / 1e6).toFixed(3).padStart(14)} ${(t / 1e6).toFixed(3).padStart(15)} ${(t / b).toFixed(3).padStart(10)}  (${median(pairs).toFixed(3)}, ${pairs.length} pairs)`,
    );
  }
}
