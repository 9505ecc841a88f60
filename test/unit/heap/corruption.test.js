// Damaged heap metadata, one mechanism per test: free-list links and sizes checked before use,
// the corrupt flag (fail fast in every thread, attached objects stay readable, releases change
// nothing), the header check, reference counts checked against this thread's ledger, checked
// and bounded verify / rebuild walks, and lock words whose owner is gone, stale or overwritten.
// The seeded probe over every kind of word is test/property/heap-corruption.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { threadId } from 'node:worker_threads';
import { Heap, SharedArray, SharedFrame, SharedLock, SharedQueue } from 'shmframe';
import * as L from '../../../dist/heap/layout.js';
import * as F from '../../../dist/frame/layout.js';
import { kLockStuckMs } from '../../../dist/heap/allocator.js';
import { blocks, core } from '../../helpers/internals.js';
import { withHeap } from '../../helpers/heap.js';
import { startWorker } from '../../helpers/worker.js';

const word = (unit, field) => unit * L.kWordsPerUnit + field;
const corrupt = { code: 'SHMFRAME_ERR_CORRUPT' };

/** A heap with live arrays a, c (patterns 1, 3) and a free block between them. */
function damagedSetup() {
  const heap = Heap.create({ size: '4M' });
  const a = SharedArray.full([5000], 1, 'u1', { heap });
  const b = SharedArray.full([5000], 2, 'u1', { heap });
  const c = SharedArray.full([5000], 3, 'u1', { heap });
  b.close();
  const free = blocks(heap).find((x) => x.free && x.unit < blocks(heap).at(-1).unit);
  const aUnit = blocks(heap).find((x) => x.allocated && x.kind === 1).unit;
  return { heap, a, c, free, aUnit };
}

test('a free-list link into a live array: refused before anything is written, and the heap is marked for every thread', async () => {
  const heap = Heap.create({ size: '4M' });
  const d = SharedArray.full([100], 4, 'u1', { heap });
  const worker = startWorker(
    `
    import { parentPort, workerData } from 'node:worker_threads';
    import { SharedArray } from 'shmframe';
    const held = SharedArray.attach(workerData.given);
    parentPort.postMessage('attached');
    const later = await new Promise((r) => parentPort.once('message', r));
    const out = { read: held.data.every((x) => x === 4) };
    for (const [name, fn] of [
      ['attach', () => SharedArray.attach(later)],
      ['zeros', () => SharedArray.zeros([10], 'u1', { heap: held.heap })],
    ]) {
      try { fn(); out[name] = 'no error'; } catch (err) { out[name] = err.code; }
    }
    try { held.close(); out.close = 'ok'; } catch (err) { out.close = err.code; }
    parentPort.postMessage(out);
  `,
    { workerData: { given: d.handle } },
  );
  await once(worker, 'message'); // its ledger is allocated: the blocks below stay where they are
  const a = SharedArray.full([5000], 1, 'u1', { heap });
  const b = SharedArray.full([5000], 2, 'u1', { heap });
  const c = SharedArray.full([5000], 3, 'u1', { heap });
  b.close();
  const all = blocks(heap);
  const at = all.findIndex((x) => x.allocated && x.kind === 1 && x.size > 50); // a
  const aUnit = all[at].unit;
  assert.ok(all[at + 1].free, "b's block is free, right after a's");
  const free = all[at + 1].unit;
  const w = core(heap).w;
  const later = a.handle;
  // The free block of b heads its class; its next link now points into a's payload.
  w.set(word(free, L.B_NEXT_FREE), aUnit + 3);
  const objects = heap.stats().objects;
  assert.throws(() => SharedArray.empty([5000], 'u1', { heap }), {
    code: 'SHMFRAME_ERR_CORRUPT',
    message: /links to unit .* which is not the free block/,
  });
  assert.ok(
    a.data.every((x) => x === 1),
    "a's bytes are untouched",
  );
  assert.equal(heap.stats().corrupt, true);
  worker.postMessage(later);
  const [out] = await once(worker, 'message');
  assert.deepEqual(out, {
    read: true,
    attach: 'SHMFRAME_ERR_CORRUPT',
    zeros: 'SHMFRAME_ERR_CORRUPT',
    close: 'ok',
  });
  assert.throws(() => SharedArray.zeros([1], 'u1', { heap }), {
    code: 'SHMFRAME_ERR_CORRUPT',
    message: /marked corrupt .* copy out what you need/,
  });
  // Releases never walk the damaged lists: closing frees nothing (a leak, not an overlap).
  a.close();
  c.close();
  d.close();
  assert.equal(heap.stats().objects, objects);
  assert.match(core(heap).alloc.verify().join('\n'), /marked corrupt/);
  await once(worker, 'exit');
});

test('a free block whose size or back link was changed is refused when it would be used', () => {
  for (const field of [L.B_SIZE, L.B_PREV, L.B_CHECK, L.B_PREV_FREE]) {
    const { heap, a, c, free } = damagedSetup();
    const w = core(heap).w;
    w.set(word(free.unit, field), w.get(word(free.unit, field)) + (field === L.B_SIZE ? 90 : 1));
    // Allocating its size takes it from the list; freeing a neighbour would merge with it.
    assert.throws(() => {
      SharedArray.empty([5000], 'u1', { heap });
      c.close();
    }, corrupt);
    assert.ok(a.data.every((x) => x === 1));
    assert.equal(heap.stats().corrupt, true, `field ${field}`);
  }
});

test('forged allocator lock owners are taken over and the allocator rebuilt: no thread, a negative word, this thread', async () => {
  await withHeap((heap) => {
    const keep = SharedArray.full([100], 9, 'u1', { heap });
    const w = core(heap).w;
    for (const forged of [0x5eed, -7, threadId + 1]) {
      const repairs = heap.stats().repairs;
      w.store(L.H_LOCK, forged);
      const b = SharedArray.zeros([1000], 'u1', { heap });
      assert.ok(b.data.every((x) => x === 0));
      b.close();
      assert.equal(heap.stats().repairs, repairs + 1, `owner ${forged}`);
      assert.deepEqual(core(heap).alloc.verify(), []);
    }
    assert.ok(keep.data.every((x) => x === 9));
    assert.equal(heap.stats().corrupt, false);
    keep.close();
  });
});

test(`an allocator lock word naming a live thread: SHMFRAME_ERR_TIMEOUT after ${kLockStuckMs} ms, not a hang, and the heap works once that thread is released`, async () => {
  const heap = Heap.create({ size: '4M' });
  const before = heap.stats();
  const worker = startWorker(
    `
    import { parentPort, workerData } from 'node:worker_threads';
    import { Heap, SharedArray } from 'shmframe';
    SharedArray.zeros([1], 'u1', { heap: Heap.fromBuffer(workerData.buffer) }); // in the thread table
    parentPort.postMessage('ready');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  `,
    { workerData: { buffer: heap.buffer } },
  );
  await once(worker, 'message');
  const tid = worker.threadId;
  core(heap).w.store(L.H_LOCK, tid + 1);
  assert.throws(() => SharedArray.zeros([10], 'u1', { heap }), {
    code: 'SHMFRAME_ERR_TIMEOUT',
    message: new RegExp(`held by thread ${tid}, which the heap believes alive`),
  });
  assert.equal(
    core(heap).corrupt,
    0,
    'a live owner is not proof of damage: the heap is not marked',
  );
  await worker.terminate();
  assert.equal(heap.releaseThread(tid).repaired, true);
  const a = SharedArray.zeros([10], 'u1', { heap });
  a.close();
  assert.equal(heap.stats().objects, before.objects);
  assert.deepEqual(core(heap).alloc.verify(), []);
});

test('a reference count lowered behind a view is caught by the last release: the view keeps its bytes', () => {
  const heap = Heap.create({ size: '4M' });
  const a = SharedArray.full([1000], 5, 'u1', { heap });
  const v = a.rows(0);
  const unit = blocks(heap).find((x) => x.allocated && x.kind === 1).unit;
  assert.equal(core(heap).refCount(unit), 2);
  core(heap).w.store(word(unit, L.B_REFS), 1);
  assert.throws(() => a.close(), {
    code: 'SHMFRAME_ERR_CORRUPT',
    message: /still holds 1 reference/,
  });
  assert.throws(() => SharedArray.full([1000], 6, 'u1', { heap }), corrupt);
  assert.ok(v.data.every((x) => x === 5));
  v.close();
  assert.equal(heap.stats().objects, 1, 'the block is kept, not freed');
});

test('a fixed header word changed: opening the heap fails with SHMFRAME_ERR_CORRUPT and marks it', async () => {
  const heap = Heap.create({ size: '4M' });
  const w = core(heap).w;
  w.set(L.H_END, w.get(L.H_END) - 1);
  const worker = startWorker(
    `
    import { parentPort, workerData } from 'node:worker_threads';
    import { Heap } from 'shmframe';
    try { Heap.fromBuffer(workerData.buffer); parentPort.postMessage('opened'); }
    catch (err) { parentPort.postMessage(err.code + ': ' + err.message); }
  `,
    { workerData: { buffer: heap.buffer } },
  );
  const [msg] = await once(worker, 'message');
  assert.match(
    msg,
    /^SHMFRAME_ERR_CORRUPT: .*fixed words: size, bounds, table sizes, do not agree/,
  );
  assert.equal(heap.stats().corrupt, true);
  assert.throws(() => SharedArray.zeros([1], 'u1', { heap }), corrupt);
});

test('a damaged water mark is refused: zeros() never returns memory it only believes zero', () => {
  const heap = Heap.create({ size: '4M' });
  SharedArray.full([100000], 7, 'u1', { heap }).close();
  const w = core(heap).w;
  w.set(L.H_HIGH_WATER, w.get(L.H_HIGH_WATER) - 100);
  assert.throws(() => SharedArray.zeros([100000], 'u1', { heap }), {
    code: 'SHMFRAME_ERR_CORRUPT',
    message: /water marks/,
  });
});

test('verify terminates on a cyclic free list, and a rebuild (forged dead owner) heals the lists from the block chain', () => {
  const { heap, a, c, free } = damagedSetup();
  const w = core(heap).w;
  w.set(word(free.unit, L.B_NEXT_FREE), free.unit); // a list that loops on itself
  assert.ok(core(heap).alloc.verify().length > 0);
  w.store(L.H_LOCK, 0x5eed); // as if a thread that no longer exists held the lock
  const b = SharedArray.zeros([5000], 'u1', { heap });
  assert.deepEqual(core(heap).alloc.verify(), []);
  assert.ok(a.data.every((x) => x === 1) && c.data.every((x) => x === 3));
  for (const x of [a, b, c]) x.close();
  assert.equal(heap.stats().objects, 0);
});

test('a rebuild refuses a free block grown over the allocated block after it', () => {
  const heap = Heap.create({ size: '4M' });
  const x = SharedArray.full([5000], 1, 'u1', { heap });
  const y = SharedArray.full([5000], 2, 'u1', { heap });
  const z = SharedArray.full([5000], 3, 'u1', { heap });
  x.close();
  const [f, live] = blocks(heap);
  assert.ok(f.free && live.allocated);
  const w = core(heap).w;
  w.set(word(f.unit, L.B_SIZE), f.size + live.size); // now "covers" y
  w.store(L.H_LOCK, 0x5eed);
  assert.throws(() => SharedArray.zeros([100], 'u1', { heap }), corrupt);
  assert.ok(y.data.every((v) => v === 2) && z.data.every((v) => v === 3));
  assert.equal(core(heap).alloc.lockOwner(), -1, 'the lock was released');
});

test('queue mutexes left naming a gone thread or this thread are repaired by the next put / get, sync and async', () =>
  withHeap(async (heap) => {
    const q = SharedQueue.create({ capacity: 4, heap });
    const h = q.handle;
    const base = (h.unit + 1) * L.kWordsPerUnit;
    const w = core(heap).w;
    for (const forged of [threadId + 1, 0x5eed, -3]) {
      w.store(base + 17, forged); // producer mutex
      q.put('a');
      w.store(base + 17, forged);
      await q.putAsync('b');
      w.store(base + 33, forged); // consumer mutex
      assert.equal(q.get(), 'a');
      w.store(base + 33, forged);
      assert.equal(await q.getAsync(), 'b');
    }
    heap.releaseHandle(h);
    q.detach();
  }));

test('a SharedLock whose OWNER word was overwritten while a live thread held it: the waiter gives it back, the holder releases, the waiter gets it', () =>
  withHeap(async (heap) => {
    const lock = SharedLock.create({ heap });
    const go = new Int32Array(new SharedArrayBuffer(4));
    const worker = startWorker(
      `
      import { parentPort, workerData } from 'node:worker_threads';
      import { SharedLock } from 'shmframe';
      const lock = SharedLock.attach(workerData.handle);
      lock.acquire();
      parentPort.postMessage('held');
      Atomics.wait(workerData.go, 0, 0);
      try { lock.release(); parentPort.postMessage('released'); }
      catch (err) { parentPort.postMessage(err.code); }
      lock.close();
    `,
      { workerData: { handle: lock.handle, go } },
    );
    await once(worker, 'message');
    const h = lock.handle;
    const owner = (h.unit + 1) * L.kWordsPerUnit + 18;
    const w = core(heap).w;
    const holder = w.load(owner);
    assert.equal(holder, worker.threadId + 1);
    w.store(owner, 0x5eed); // a thread that does not exist
    const got = lock.acquireAsync();
    // The waiter checks the holder every slice: wait until it has given the word back.
    while (w.load(owner) !== holder) await new Promise((r) => setTimeout(r, 20));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const [reply] = await once(worker, 'message');
    assert.equal(reply, 'released');
    await got;
    assert.equal(lock.owner, threadId);
    lock.release();
    heap.releaseHandle(h);
    lock.close();
    await once(worker, 'exit');
  }));

test('a frame append lock or dictionary lock left naming this thread is taken over by the next append', () =>
  withHeap((heap) => {
    const f = SharedFrame.create({ id: 'i4', city: 'category' }, { capacity: 10, heap });
    f.append({ id: 1, city: 'x' });
    const h = f.handle;
    const base = (h.unit + 1) * L.kWordsPerUnit;
    const w = core(heap).w;
    w.store(base + F.F_LOCK, threadId + 1);
    f.append({ id: 2, city: 'x' });
    const column1 = base + F.kHeaderWords + 128 / 4; // column records are 128 bytes
    w.store(column1 + F.C_DICT_LOCK, threadId + 1);
    f.append({ id: 3, city: 'y' });
    assert.deepEqual(
      [...f.rows()].map((r) => [r.id, r.city]),
      [
        [1, 'x'],
        [2, 'x'],
        [3, 'y'],
      ],
    );
    heap.releaseHandle(h);
    f.close();
  }));
