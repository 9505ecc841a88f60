// SIGKILL at random points of a child's allocate / attach / append / put / get loop: whatever
// the kill interrupted (the allocator lock, a reference change, a queue slot, a frame append),
// the parent releases the dead process and the heap comes back exactly to where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
import { noNative, spawnNode, withProcessHeap } from '../../helpers/process.js';
import { core } from '../../helpers/internals.js';

const churn = fileURLToPath(new URL('../../fixtures/process-churn.js', import.meta.url));
const kKills = Number(process.env.SHMFRAME_PROCESS_KILLS ?? 24);

test(
  `${kKills} children SIGKILLed at random points of a churn loop: the heap comes back exactly`,
  { skip: noNative },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const q = SharedQueue.create({ capacity: 32, heap });
        const f = SharedFrame.create({ x: 'f8', s: 'utf8' }, { capacity: 1_000_000, heap });
        const a = SharedArray.full([16], 5, 'f8', { heap });
        const base = heap.stats();
        let repairs = 0;
        for (let k = 0; k < kKills; k += 2) {
          const kids = [0, 1].map((j) =>
            spawnNode(`await import(${JSON.stringify(churn)});`, [
              String(q.handle),
              String(f.handle),
              String(a.handle),
              k * 7 + j + 1,
            ]),
          );
          await Promise.all(kids.map((c) => c.line(/ready/)));
          await new Promise((r) => setTimeout(r, 5 + ((k * 37) % 60)));
          for (const c of kids) c.child.kill('SIGKILL');
          await Promise.all(kids.map((c) => c.exited));
          heap.releaseDead(); // (the watchdog or a waiting child may have released some already)
          assert.deepEqual(
            heap.processes().map((p) => p.pid),
            [process.pid],
          );
          repairs = heap.stats().repairs;
          // Items the dead left in the queue are ours to take; the frame keeps every whole row.
          for (let x = q.tryGet(); x !== undefined; x = q.tryGet())
            if (typeof x === 'object') x.a.close();
          const after = heap.stats();
          assert.equal(after.objects, base.objects, `after kill ${k}: objects`);
          assert.equal(after.handles, base.handles, `after kill ${k}: handles`);
          assert.deepEqual(core(heap).alloc.verify(), [], `after kill ${k}: allocator consistent`);
          // Every row is whole, or null in every column: rows a killed appender had reserved are
          // published as nulls by the next appender (docs/frame.md), never half written.
          for (let r = 0; r < f.length; r++) {
            if (f.isNull(r, 'x') && f.isNull(r, 's')) continue;
            assert.equal(f.get(r, 's'), `row ${f.get(r, 'x')}`, `row ${r}`);
          }
        }
        // Everything still works: allocate, queue, append.
        const b = SharedArray.zeros([1000], 'f8', { heap });
        q.put({ ops: 1, a: b });
        b.close();
        q.get().a.close();
        f.append({ x: 1, s: 'row 1' });
        assert.equal(heap.stats().objects, base.objects);
        process.stdout.write(
          `# ${kKills} kills, ${f.length} rows appended, ${repairs} allocator repairs\n`,
        );
        for (const o of [q, f, a]) o[Symbol.dispose]();
      },
      { size: '256M', shared: 'process' },
    );
  },
);
