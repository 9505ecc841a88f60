// Property: any interleaving of put / tryPut / get / tryGet (their async forms, and the batched
// putMany / getMany) from two threads behaves like a bounded FIFO.
//   1. Lockstep: fast-check picks a schedule; each step runs in one of two real worker threads,
//      and every result (including calls that block until a later step of the other thread frees
//      them) and the size after every step must match a bounded-FIFO model.
//   2. Free-running: two threads run random operations at full speed; nothing is lost or received
//      twice, each producer's items keep their order, and the size never exceeds the capacity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fc from 'fast-check';
import { Heap, SharedQueue } from 'shmframe';
import { assertHeapAt } from '../../helpers/heap.js';
import { run } from '../../integration/sync/fixtures/run.js';

const kTimeLimit = 20_000;
// The time budget is checked at the start of each run (a run that starts always finishes and
// cleans up). fast-check's interruptAfterTimeLimit would abandon an async run mid-way, leaving
// its queue and worker calls behind and the heap check at the end failing under load.
const deadline = () => {
  const end = performance.now() + kTimeLimit;
  return () => performance.now() > end;
};
const kOp = fc.constantFrom('put', 'tryPut', 'get', 'tryGet', 'putAsync', 'getAsync');

/** A thread's pending reply. */
function replyOf(worker) {
  return once(worker, 'message').then(([m]) => m);
}

test('lockstep schedules across two threads match a bounded FIFO model', async () => {
  const heap = Heap.create({ size: '16M' });
  const servers = [run(heap, 'opServer'), run(heap, 'opServer')];
  const workers = servers.map((s) => s.worker);
  const before = heap.stats();
  let nextValue = 1;
  const late = deadline();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ thread: fc.integer({ min: 0, max: 1 }), op: kOp }), {
          maxLength: 40,
        }),
        async (capacity, schedule) => {
          if (late()) return;
          const q = SharedQueue.create({ capacity, maxItemBytes: 16, heap });
          for (const w of workers) {
            const r = replyOf(w);
            w.postMessage({ op: 'attach', h: q.handle });
            await r;
          }
          const model = [];
          // A thread blocked in put/get: { kind: 'put' | 'get', v, reply: Promise }.
          const blocked = [undefined, undefined];
          try {
            await runSchedule();
          } finally {
            // Whatever happened (a failed assertion while fast-check shrinks), leave no thread
            // blocked: closing wakes them all.
            q.close();
            for (const b of blocked) if (b !== undefined) await b.reply;
            for (const w of workers) {
              const r = replyOf(w);
              w.postMessage({ op: 'release' });
              await r;
            }
            q.detach();
          }
          async function runSchedule() {
            const unblock = async (t) => {
              // After a step of the other thread, a blocked call may now complete.
              const b = blocked[t];
              if (b === undefined) return;
              if (b.kind === 'put' && model.length < capacity) {
                model.push(b.v);
                assert.deepEqual(await b.reply, { op: b.op, reply: undefined });
                blocked[t] = undefined;
              } else if (b.kind === 'get' && model.length > 0) {
                const expected = model.shift();
                assert.deepEqual(await b.reply, { op: b.op, reply: expected });
                blocked[t] = undefined;
              }
            };
            for (const { thread: t, op } of schedule) {
              if (blocked[t] !== undefined) continue; // a blocked thread takes no new step
              const other = 1 - t;
              const isPut = op.startsWith('put') || op === 'tryPut';
              const blocking =
                op === 'put' || op === 'putAsync' || op === 'get' || op === 'getAsync';
              const wouldBlock =
                blocking && (isPut ? model.length === capacity : model.length === 0);
              if (wouldBlock && blocked[other] !== undefined) continue; // both blocked: deadlock
              const v = nextValue++;
              const reply = replyOf(workers[t]);
              workers[t].postMessage({ op, v });
              if (wouldBlock) {
                blocked[t] = { kind: isPut ? 'put' : 'get', op, v, reply };
                // Give it no help: it must stay blocked until the other thread acts. (Checked when
                // it completes: its reply must be exactly the model's.)
                continue;
              }
              const m = await reply;
              if (op === 'tryPut') {
                const ok = model.length < capacity;
                if (ok) model.push(v);
                assert.deepEqual(m, { op, reply: ok });
              } else if (op === 'tryGet') {
                assert.deepEqual(m, { op, reply: model.length > 0 ? model.shift() : null });
              } else if (isPut) {
                model.push(v);
                assert.deepEqual(m, { op, reply: undefined });
              } else {
                assert.deepEqual(m, { op, reply: model.shift() });
              }
              await unblock(other);
              if (blocked[other] === undefined) assert.equal(q.size, model.length);
            }
            // Release whoever is still blocked, from the main thread.
            for (const t of [0, 1]) {
              const b = blocked[t];
              if (b === undefined) continue;
              if (b.kind === 'put') {
                assert.equal(q.get(), model.shift());
                model.push(b.v);
              } else {
                model.push(nextValue);
                q.put(nextValue++);
                model.shift();
              }
              await unblock(t);
              const m = await b.reply;
              assert.equal(m.error, undefined);
              blocked[t] = undefined;
            }
            assert.equal(q.size, model.length);
            for (const x of model) assert.equal(q.tryGet(), x);
          }
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    for (const w of workers) w.postMessage({ op: 'exit' });
    await Promise.all(servers.map((s) => s.result));
  }
  assertHeapAt(heap, before);
});

test('free-running concurrent operations: exactly once, in order per producer, never over capacity', async () => {
  const heap = Heap.create({ size: '16M' });
  const before = heap.stats();
  const late = deadline();
  const ops = fc.array(fc.constantFrom('put', 'tryPut', 'get', 'tryGet', 'putMany', 'getMany'), {
    minLength: 50,
    maxLength: 2000,
  });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 8 }), ops, ops, async (capacity, a, b) => {
      if (late()) return;
      const q = SharedQueue.create({ capacity, maxItemBytes: 16, heap });
      const go = new SharedArrayBuffer(4);
      const results = await Promise.all(
        [a, b].map((list, id) => run(heap, 'randomOps', { q: q.handle, id, ops: list, go }).result),
      );
      const rest = [];
      for (let x = q.tryGet(); x !== undefined; x = q.tryGet()) rest.push(x);
      const put = results.flatMap((r) => r.put).sort((x, y) => x - y);
      const got = [...results.flatMap((r) => r.got), ...rest].sort((x, y) => x - y);
      assert.deepEqual(got, put, 'every item put was received exactly once');
      for (const seq of [...results.map((r) => r.got), rest]) {
        for (const id of [0, 1]) {
          const mine = seq.filter((x) => Math.floor(x / 2 ** 20) === id);
          assert.deepEqual(
            mine,
            [...mine].sort((x, y) => x - y),
            'a producer’s items out of order',
          );
        }
      }
      for (const r of results) assert.ok(r.maxSize <= capacity);
      q.detach();
    }),
    { numRuns: 20 },
  );
  assertHeapAt(heap, before);
});
