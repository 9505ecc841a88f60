// SharedArray across real worker threads: writes in one thread are seen in the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Heap, SharedArray } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker, request } from '../helpers/worker.js';

const kEcho = `
  import { parentPort } from 'node:worker_threads';
  import { SharedArray, Heap } from 'shmframe';
  parentPort.on('message', (msg) => {
    try {
      if (msg.op === 'fill') {
        const a = SharedArray.attach(msg.handle);
        for (let i = msg.start; i < msg.end; i++) a.data[i] = msg.value;
        a.close();
        parentPort.postMessage({ ok: true });
      } else if (msg.op === 'create') {
        const heap = Heap.fromBuffer(msg.buffer);
        const a = SharedArray.from(Float64Array.from({ length: 6 }, (_, i) => i * 10), { heap, shape: [2, 3] });
        parentPort.postMessage({ handle: a.handle });
        a.close(); // the handle keeps the block alive until the parent attaches it
      } else if (msg.op === 'read') {
        const a = SharedArray.attach(msg.handle);
        const out = { shape: a.shape, strides: a.strides, values: a.toArray(), dtype: a.dtype };
        a.close();
        parentPort.postMessage(out);
      } else if (msg.op === 'default') {
        parentPort.postMessage({ id: Heap.default().id });
      } else if (msg.op === 'attach') {
        try { SharedArray.attach(msg.handle); parentPort.postMessage({ ok: true }); }
        catch (err) { parentPort.postMessage({ code: err.code, message: err.message }); }
      }
    } catch (err) {
      parentPort.postMessage({ error: err.message });
    }
  });
`;

test('main creates, a worker writes, the main thread sees it', async () => {
  await withHeap(async (heap) => {
    const w = startWorker(kEcho);
    try {
      const a = SharedArray.zeros([1000], 'f8', { heap });
      assert.deepEqual(
        await request(w, { op: 'fill', handle: a.handle, start: 0, end: 1000, value: 2.5 }),
        { ok: true },
      );
      assert.ok(a.data.every((v) => v === 2.5));
      a.close();
    } finally {
      await w.terminate();
    }
  });
});

test('a worker creates, the main thread attaches and reads; the worker already closed its own', async () => {
  await withHeap(async (heap) => {
    const w = startWorker(kEcho);
    heap.watch(w); // the worker may be terminated before its own close() ran
    try {
      const { handle } = await request(w, { op: 'create', buffer: heap.buffer });
      const a = SharedArray.attach(handle);
      assert.deepEqual(a.toArray(), [
        [0, 10, 20],
        [30, 40, 50],
      ]);
      assert.equal(heap.stats().objects, 1);
      a.close();
    } finally {
      await w.terminate();
    }
  });
});

test('two workers write disjoint halves of one array', async () => {
  await withHeap(async (heap) => {
    const [w1, w2] = [startWorker(kEcho), startWorker(kEcho)];
    try {
      const a = SharedArray.zeros([1 << 20], 'i4', { heap });
      const half = a.size / 2;
      await Promise.all([
        request(w1, { op: 'fill', handle: a.handle, start: 0, end: half, value: 1 }),
        request(w2, {
          op: 'fill',
          handle: a[Symbol.for('shmframe.share')](),
          start: half,
          end: a.size,
          value: 2,
        }),
      ]);
      assert.ok(a.data.subarray(0, half).every((v) => v === 1));
      assert.ok(a.data.subarray(half).every((v) => v === 2));
      a.close();
    } finally {
      await Promise.all([w1.terminate(), w2.terminate()]);
    }
  });
});

test('the handle of a view attaches as that view in a worker', async () => {
  await withHeap(async (heap) => {
    const w = startWorker(kEcho);
    try {
      const a = SharedArray.from([1, 2, 3, 4, 5, 6, 7, 8], { heap, dtype: 'i2', shape: [4, 2] });
      const v = a.rows(1, 3);
      const got = await request(w, { op: 'read', handle: v.handle });
      assert.deepEqual(got, {
        shape: [2, 2],
        strides: [2, 1],
        values: [
          [3, 4],
          [5, 6],
        ],
        dtype: '<i2',
      });
      v.close();
      a.close();
    } finally {
      await w.terminate();
    }
  });
});

test("a worker's Heap.default() is its parent's default heap; a JSON'd handle is refused there", async () => {
  const main = Heap.default(); // before the worker starts: inherited through environment data
  const w = startWorker(kEcho);
  try {
    assert.equal((await request(w, { op: 'default' })).id, main.id);
    const heap = Heap.create({ size: '4M' });
    const a = SharedArray.zeros([2], 'f8', { heap });
    const h = a.handle;
    // Copied field by field first: JSON of the handle itself is refused where it is made
    // (test/integration/handle-process.test.js).
    const got = await request(w, { op: 'attach', handle: JSON.parse(JSON.stringify({ ...h })) });
    assert.equal(got.code, 'SHMFRAME_ERR_UNKNOWN_HEAP');
    assert.match(got.message, /not JSON/);
    heap.releaseHandle(h);
    a.close();
    assert.equal(heap.stats().objects, 0);
  } finally {
    await w.terminate();
  }
});

test('a worker that exits normally drops the references it still held', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([100], 'f8', { heap });
    const w = startWorker(
      `
      import { workerData } from 'node:worker_threads';
      import { SharedArray } from 'shmframe';
      globalThis.kept = [SharedArray.attach(workerData.h1), SharedArray.attach(workerData.h2).rows(0, 10)];
    `,
      { workerData: { h1: a.handle, h2: a[Symbol.for('shmframe.share')]() } },
    );
    await once(w, 'exit');
    a.close();
  });
});
