// Property: any sequence of allocations and frees keeps the allocator consistent, never hands out
// overlapping blocks, and returns stats() to where they started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Heap } from 'shmframe';
import { core } from '../helpers/internals.js';

const kOps = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('alloc'),
        bytes: fc.oneof(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 300000 })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('free'), pick: fc.nat() }) },
  ),
  { maxLength: 120 },
);

test('allocate/free sequences: no overlap, invariants hold, stats return to start', () => {
  const heap = Heap.create({ size: '4M' });
  const c = core(heap);
  c.release(c.allocate(1, 1, 'warm-up', false).unit); // create this thread's ledger first
  const start = heap.stats();
  fc.assert(
    fc.property(kOps, (ops) => {
      const live = [];
      for (const step of ops) {
        if (step.op === 'alloc') {
          let info;
          try {
            info = c.allocate(step.bytes, 1, 'a test block', true);
          } catch (err) {
            assert.equal(err.code, 'SHMFRAME_ERR_HEAP_FULL');
            continue;
          }
          assert.equal(info.byteOffset % 64, 0);
          const bytes = new Uint8Array(heap.buffer, info.byteOffset, info.byteLength);
          assert.ok(
            bytes.every((b) => b === 0),
            'zeroed allocation',
          );
          bytes.fill((live.length % 250) + 1);
          live.push({ ...info, tag: (live.length % 250) + 1 });
        } else if (live.length > 0) {
          const [victim] = live.splice(step.pick % live.length, 1);
          const bytes = new Uint8Array(heap.buffer, victim.byteOffset, victim.byteLength);
          assert.ok(
            bytes.every((b) => b === victim.tag),
            'nobody else wrote into this block',
          );
          c.release(victim.unit);
        }
        const sorted = live.slice().sort((a, b) => a.byteOffset - b.byteOffset);
        for (let i = 1; i < sorted.length; i++) {
          assert.ok(
            sorted[i].byteOffset >= sorted[i - 1].byteOffset + sorted[i - 1].byteLength,
            'overlap',
          );
        }
      }
      assert.deepEqual(c.alloc.verify(), []);
      for (const b of live) c.release(b.unit);
      assert.deepEqual(c.alloc.verify(), []);
      const end = heap.stats();
      assert.equal(end.objects, start.objects);
      assert.equal(end.used, start.used);
      assert.equal(end.free, start.free);
      assert.equal(end.largestFree, start.largestFree);
    }),
    { numRuns: 150, interruptAfterTimeLimit: 20000 },
  );
});
