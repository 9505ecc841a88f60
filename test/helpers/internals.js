// Access to internals of the built package, for tests that check allocator state directly.
import v8 from 'node:v8';
import vm from 'node:vm';
import { kCore } from '../../dist/heap/heap.js';
import { kAllocMagic, kFreeMagic, kUnit } from '../../dist/heap/layout.js';

export const core = (heap) => heap[kCore];

/** Every block in address order: { unit, size, allocated, kind }. */
export function blocks(heap) {
  const out = [];
  core(heap).alloc.walk((unit, size, magic, kind) => {
    out.push({
      unit,
      size,
      allocated: magic === kAllocMagic,
      free: magic === kFreeMagic,
      kind,
      byteOffset: unit * kUnit,
      bytes: size * kUnit,
    });
  });
  return out;
}

let gcFn;
/** A real garbage collection (exposes gc at run time, no command-line flag needed). */
export function gc() {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc');
  }
  gcFn();
}

/**
 * Runs GC and lets FinalizationRegistry callbacks run, until `done()` or 50 rounds. The check
 * and the next collection are in different jobs: a WeakRef deref'd in `done()` keeps its target
 * alive until the end of the job that deref'd it.
 */
export async function collectUntil(done) {
  const tick = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < 50; i++) {
    gc();
    await tick();
    if (done()) return true;
    await tick();
  }
  return done();
}
