// Ledgers are bookkeeping and must not keep splitting the space objects use (issue 15): after any
// sequence that frees everything, largestFree is back to its fresh value. The sequences are
// those of scripts/stress-fragmentation.js, which runs more of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap, SharedArray } from 'shmframe';
import { layout, runOne, sequences } from '../../../scripts/stress-fragmentation.js';

for (const name of [...Object.keys(sequences), 'threads'])
  test(`${name}: after freeing everything, largestFree is back to its fresh value and the allocator is consistent`, async () => {
    for (const seed of name === 'threads' ? [11] : [11, 12]) {
      const o = await runOne(name, seed);
      assert.deepEqual(o.problems, [], `seed ${seed}: allocator inconsistent`);
      assert.equal(o.objects, 0, `seed ${seed}: objects left`);
      assert.equal(
        o.end,
        o.fresh,
        `seed ${seed}: largestFree ${o.end}, fresh ${o.fresh} (${JSON.stringify(o.notes)})`,
      );
      if (name === 'churn')
        assert.ok(o.notes.live >= 500, `churn peaked at ${o.notes.live} live objects`);
    }
  });

test('a thread that holds no reference keeps no ledger block; largestFree counts the one its next allocation makes', () => {
  const heap = Heap.create({ size: '16M' });
  const fresh = heap.stats().largestFree;
  const a = SharedArray.zeros([1000], 'f8', { heap });
  assert.equal(layout(heap).filter((b) => b.kind === 'ledger').length, 1);
  a.close();
  assert.equal(layout(heap).filter((b) => b.kind === 'ledger').length, 0);
  assert.equal(heap.stats().largestFree, fresh);
  // largestFree is exactly what one allocation from here can take (a 1-D array's payload has
  // 64 bytes of dtype and shape before the data).
  const all = SharedArray.empty([fresh - 64], 'u1', { heap });
  assert.throws(() => SharedArray.empty([1], 'u1', { heap }), { code: 'SHMFRAME_ERR_HEAP_FULL' });
  all.close();
  assert.equal(heap.stats().largestFree, fresh);
});

test("a ledger that grew below an object moves up into the object's space once that is freed", () => {
  const heap = Heap.create({ size: '16M' });
  const fresh = heap.stats().largestFree;
  const summary = () => layout(heap).map((b) => b.kind);
  // [a 4 MB | x 4 MB | r: the rest but 8 KB | 8 KB free | first ledger]
  const a = SharedArray.empty([4 << 20], 'u1', { heap });
  const x = SharedArray.empty([4 << 20], 'u1', { heap });
  const r = SharedArray.empty([heap.stats().largestFree - (8 << 10)], 'u1', { heap });
  a.close();
  // Enough small arrays for the ledger to grow: the top is taken by r and small arrays, so the
  // grown ledger is carved from the top of a's old space, with objects above it.
  const small = [];
  for (let i = 0; i < 400; i++) small.push(SharedArray.empty([8], 'u1', { heap }));
  const blocks = layout(heap);
  const at = blocks.findIndex((b) => b.kind === 'ledger');
  assert.equal(blocks.filter((b) => b.kind === 'ledger').length, 1);
  assert.deepEqual(
    [blocks[at - 1].kind, blocks[at + 1].kind],
    ['free', 'object'],
    `the grown ledger lies between free space and objects: ${summary().join(' ')}`,
  );
  const old = blocks[at];
  const before = heap.stats().largestFree;
  x.close(); // a drop that frees a block: the ledger moves to the top of x's space
  const after = layout(heap);
  const moved = after.findIndex((b) => b.kind === 'ledger');
  assert.ok(after[moved].unit > old.unit, 'the ledger moved up');
  assert.equal(after[moved - 1].kind, 'free', 'carved from the top of a free block');
  // Its old place is free and merged with the free space below it.
  const merged = after.find((b) => b.unit <= old.unit && old.unit < b.unit + b.size);
  assert.equal(merged.kind, 'free');
  assert.ok(merged.unit < old.unit && merged.unit + merged.size >= old.unit + old.size);
  assert.ok(heap.stats().largestFree > before);
  for (const s of small) s.close();
  r.close();
  assert.equal(heap.stats().largestFree, fresh);
});
