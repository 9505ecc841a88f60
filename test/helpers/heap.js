// Test helpers: a fresh small heap per test, and the check that a test leaves it as it found it.
import assert from 'node:assert/strict';
import { Heap } from 'shmframe';

/** A small heap for one test. */
export function smallHeap(size = '64M') {
  return Heap.create({ size });
}

/**
 * Runs `fn(heap)` and asserts that objects, used bytes and outstanding handles are back to where
 * they were before (every test leaves the heap as it found it), and, when it started empty, that
 * largestFree is back too.
 */
export async function withHeap(fn, { size = '64M', heap = Heap.create({ size }) } = {}) {
  const before = heap.stats();
  await fn(heap);
  assertHeapAt(heap, before);
  return heap;
}

export function assertHeapAt(heap, before) {
  const after = heap.stats();
  assert.equal(
    after.objects,
    before.objects,
    `heap objects: ${after.objects} after, ${before.objects} before`,
  );
  assert.equal(
    after.used,
    before.used,
    `heap used bytes: ${after.used} after, ${before.used} before`,
  );
  assert.equal(
    after.handles,
    before.handles,
    `outstanding handles: ${after.handles} after, ${before.handles} before`,
  );
  // With every object freed, no bookkeeping may be left splitting the heap either.
  if (before.objects === 0 && before.handles === 0)
    assert.equal(
      after.largestFree,
      before.largestFree,
      `largestFree: ${after.largestFree} after, ${before.largestFree} before (everything freed)`,
    );
}
