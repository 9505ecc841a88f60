// A worker terminated in the middle of an append (holding the append lock, or between reserving
// its rows and publishing them) or of adding a category label must not stall the other
// appenders: once the heap has released the dead thread, they take over and carry on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker } from '../helpers/worker.js';

// The worker attaches the frame (so it holds a reference, like any appender), opens the
// frame's store over the same block, does part of an append, and blocks until terminated.
const kPartial = `
  import { workerData, parentPort } from 'node:worker_threads';
  import { SharedFrame } from 'shmframe';
  import { FrameStore } from './dist/frame/store.js';
  import { stageInput, reserveStaged } from './dist/frame/append.js';
  import { lockOwned } from './dist/heap/owned-mutex.js';
  import { F_LOCK, F_LOCK_WAITERS, C_DICT_LOCK, C_DICT_WAITERS } from './dist/frame/layout.js';
  const h = workerData.handle;
  const frame = SharedFrame.attach(h);
  const words = new Int32Array(h.buffer, h.unit * 64, 16);
  const store = FrameStore.open(h.buffer, (h.unit + 1) * 64, words[6]);
  if (workerData.step === 'lock') lockOwned(store.header, F_LOCK, F_LOCK_WAITERS, () => false);
  if (workerData.step === 'reserve') {
    const { staged, n } = stageInput(store, workerData.rows);
    reserveStaged(store, staged, n); // rows reserved, never written nor published
  }
  if (workerData.step === 'dictionary') {
    lockOwned(store.column(workerData.column).words, C_DICT_LOCK, C_DICT_WAITERS, () => false);
  }
  parentPort.postMessage('stuck');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  void frame;
`;

async function killMidway(heap, frame, workerData) {
  const w = startWorker(kPartial, { workerData: { handle: frame.handle, ...workerData } });
  heap.watch(w); // releases the dead thread, as Pool does for its workers
  await once(w, 'message');
  const exited = once(w, 'exit');
  await w.terminate();
  await exited;
}

const schema = { id: 'i4', name: 'utf8', kind: 'category', score: 'f8', tag: '|S4' };

test('an appender killed holding the append lock: the next append takes the lock over', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.create(schema, { capacity: 100, heap });
    frame.append({ id: 1, name: 'first', kind: 'a', score: 1.5, tag: 'x' });
    await killMidway(heap, frame, { step: 'lock' });
    frame.append({ id: 2, name: 'second', kind: 'b', score: 2.5, tag: 'y' });
    assert.equal(frame.length, 2);
    assert.deepEqual(frame.row(1), { id: 2, name: 'second', kind: 'b', score: 2.5, tag: 'y' });
    frame.close();
  });
});

test('an appender killed between reserving and publishing: its rows become nulls, later rows land', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.create(schema, { capacity: 100, heap, stringBytes: 4096 });
    frame.append({ id: 1, name: 'first', kind: 'a', score: 1.5, tag: 'x' });
    const rows = [
      { id: 10, name: 'dead-one', kind: 'zz', score: 10, tag: 'd1' },
      { id: 11, name: 'dead-two', kind: 'a', score: 11, tag: 'd2' },
    ];
    await killMidway(heap, frame, { step: 'reserve', rows });
    assert.equal(frame.length, 1, 'the dead reservation is not visible');
    frame.append([
      { id: 3, name: 'third', kind: 'b', score: 3.5, tag: 'z' },
      { id: 4, name: 'fourth', kind: 'a', score: 4.5, tag: 'w' },
    ]);
    assert.equal(frame.length, 5);
    assert.deepEqual(frame.row(0), { id: 1, name: 'first', kind: 'a', score: 1.5, tag: 'x' });
    for (const r of [1, 2]) {
      assert.deepEqual(
        frame.row(r),
        { id: null, name: null, kind: null, score: null, tag: null },
        `row ${r}`,
      );
    }
    assert.deepEqual(frame.row(3), { id: 3, name: 'third', kind: 'b', score: 3.5, tag: 'z' });
    assert.deepEqual(frame.row(4), { id: 4, name: 'fourth', kind: 'a', score: 4.5, tag: 'w' });
    frame.append({ id: 5, name: 'fifth', kind: 'c', score: 5.5, tag: 'v' });
    assert.deepEqual(frame.row(5), { id: 5, name: 'fifth', kind: 'c', score: 5.5, tag: 'v' });
    // utf8 offsets stayed consistent: the column exports and reads back in order.
    assert.deepEqual([...frame.col('name')], ['first', null, null, 'third', 'fourth', 'fifth']);
    frame.close();
  });
});

test('an appender killed while adding a category label: the dictionary lock is taken over', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.create(schema, { capacity: 10, heap });
    frame.append({ id: 1, name: 'a', kind: 'red', score: 1, tag: 'x' });
    await killMidway(heap, frame, { step: 'dictionary', column: 2 });
    frame.append({ id: 2, name: 'b', kind: 'blue', score: 2, tag: 'y' });
    assert.deepEqual(frame.col('kind').dictionary, ['red', 'blue']);
    assert.deepEqual([...frame.col('kind')], ['red', 'blue']);
    frame.close();
  });
});
