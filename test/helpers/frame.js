// Frame test helpers: a byte image of a whole (small) heap, to prove a failed call changed nothing.
import assert from 'node:assert/strict';

/** A copy of every byte of `heap` (use small heaps: Heap.create({ size: '2M' })). */
export function heapImage(heap) {
  const copy = new Uint8Array(heap.buffer).slice();
  return Buffer.from(copy.buffer);
}

/** Asserts that `heap` is byte-for-byte what `image` recorded. */
export function assertHeapImage(heap, image, what = 'heap') {
  const now = new Uint8Array(heap.buffer);
  if (Buffer.compare(Buffer.from(now.buffer, now.byteOffset, now.byteLength), image) === 0) return;
  let at = 0;
  while (at < image.length && image[at] === now[at]) at++;
  assert.fail(`${what} changed: first difference at byte ${at} (${image[at]} -> ${now[at]})`);
}

/**
 * Runs `fn` (expected to throw an error with `code`) and asserts the heap is unchanged, so the
 * frame (and everything else) is exactly as it was.
 */
export function assertRefused(heap, fn, code, message) {
  const image = heapImage(heap);
  assert.throws(fn, (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
  assertHeapImage(heap, image);
}
