// Same-size blocks freed and allocated again (seed 002's frames through a bounded queue) reuse
// the freed memory: the highest byte ever handed out stays at the live size, instead of creeping
// through fresh pages (RSS) while a larger free block exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedArray } from 'shmframe';
import { blocks } from '../../helpers/internals.js';

for (const order of ['fifo', 'random']) {
  test(`same-size blocks freed in ${order} order are reused exactly`, () => {
    const heap = Heap.create({ size: '256M' });
    const live = [];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let highest = 0;
    let blockBytes = 0; // header + metadata + 1 MiB of elements
    const frame = 1 << 20;
    for (let i = 0; i < 400; i++) {
      live.push(SharedArray.empty([frame / 8], 'f8', { heap }));
      while (live.length > 20) {
        const at = order === 'fifo' ? 0 : Math.floor(random() * live.length);
        live.splice(at, 1)[0].close();
      }
      for (const b of blocks(heap)) {
        if (b.allocated && b.kind < 0x8000) {
          highest = Math.max(highest, b.byteOffset + b.bytes);
          blockBytes = Math.max(blockBytes, b.bytes);
        }
      }
    }
    for (const a of live) a.close();
    const first = blocks(heap).find((b) => b.allocated || b.free).byteOffset;
    // 21 blocks live at most (20 kept + the new one).
    assert.ok(
      highest - first <= 21 * blockBytes,
      `blocks reached ${((highest - first) / 2 ** 20).toFixed(1)} MiB for 21 MiB live`,
    );
    assert.equal(heap.stats().objects, 0);
  });
}
