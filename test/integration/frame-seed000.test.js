// Seed 000: a frame over shared memory whose in-place column writes every thread sees, also with
// several columns (pandas silently copied the two-column frame, so writes stopped reaching the
// other processes), and whose same-dtype columns are one zero-copy 2-D array.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SharedFrame, SharedArray } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker, request } from '../helpers/worker.js';

const workerSource = `
  import { parentPort } from 'node:worker_threads';
  import { SharedFrame, SharedArray } from 'shmframe';
  let frame;
  parentPort.on('message', (msg) => {
    if (msg.op === 'attach') { frame = SharedFrame.attach(msg.handle); parentPort.postMessage('ok'); }
    else if (msg.op === 'double') { const c = frame.col(msg.col); for (let i = 0; i < c.length; i++) c[i] *= 2; parentPort.postMessage('ok'); }
    else if (msg.op === 'read') parentPort.postMessage(Array.from(frame.col(msg.col)));
    else if (msg.op === 'values') { const a = SharedArray.attach(msg.handle); const out = a.toArray(); a.set([0, 1], -7); a.close(); parentPort.postMessage(out); }
    else if (msg.op === 'close') { frame.close(); parentPort.postMessage('ok'); }
  });
`;

async function finish(worker) {
  const exit = once(worker, 'exit');
  await worker.terminate();
  await exit;
}

test('seed 000: worker doubles col1 in place, main triples col2, values() sees both', async () => {
  await withHeap(async (heap) => {
    const col = Float64Array.from({ length: 10 }, (_, i) => i);
    const frame = SharedFrame.from({ col1: col, col2: col }, { heap });
    const worker = startWorker(workerSource);
    heap.watch(worker);
    try {
      assert.equal(await request(worker, { op: 'attach', handle: frame.handle }), 'ok');
      // The worker writes through its own view of the same memory...
      assert.equal(await request(worker, { op: 'double', col: 'col1' }), 'ok');
      assert.deepEqual(Array.from(frame.col('col1')), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      // ...and sees what this thread writes.
      const col2 = frame.col('col2');
      for (let i = 0; i < col2.length; i++) col2[i] *= 3;
      assert.deepEqual(
        await request(worker, { op: 'read', col: 'col2' }),
        [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
      );
      // values(): the two columns as one zero-copy [10, 2] array, in this thread and the worker.
      const values = frame.values();
      assert.deepEqual(values.shape, [10, 2]);
      assert.equal(values.data.buffer, heap.buffer);
      assert.deepEqual(values.toArray()[3], [6, 9]);
      const seen = await request(worker, { op: 'values', handle: values.handle });
      assert.deepEqual(seen[9], [18, 27]);
      // The worker's write through its values() view reached the frame's column.
      assert.equal(frame.get(0, 'col2'), -7);
      values.close();
      assert.equal(await request(worker, { op: 'close' }), 'ok');
    } finally {
      frame.close();
      await finish(worker);
    }
  });
});

test('seed 000 with mixed dtypes: in-place writes to every column kind reach the other thread', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.from(
      {
        col1: [0, 1, 2, 3],
        col2: new Int32Array([0, 1, 2, 3]),
        col3: [0, 10, 20, 30],
        label: ['a', 'b', 'c', 'd'],
        kind: ['x', 'y', 'x', 'y'],
      },
      { heap, schema: { kind: 'category' } },
    );
    const worker = startWorker(workerSource);
    heap.watch(worker);
    try {
      await request(worker, { op: 'attach', handle: frame.handle });
      await request(worker, { op: 'double', col: 'col2' });
      await request(worker, { op: 'double', col: 'col3' });
      assert.deepEqual(Array.from(frame.col('col2')), [0, 2, 4, 6]);
      // col1 and col3 are f8 columns separated by an i4 one in the schema, yet adjacent in
      // memory: together they are still one zero-copy array.
      const pair = frame.select(['col1', 'col3']);
      const values = pair.values();
      assert.deepEqual(values.toArray(), [
        [0, 0],
        [1, 20],
        [2, 40],
        [3, 60],
      ]);
      assert.throws(() => frame.values(), { code: 'SHMFRAME_ERR_DTYPE' });
      values.close();
      pair.close();
      await request(worker, { op: 'close' });
    } finally {
      frame.close();
      await finish(worker);
    }
  });
});

test('a values() handle keeps the frame block alive after the frame is closed', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.from({ a: [1, 2], b: [3, 4] }, { heap });
    const values = frame.values();
    frame.close();
    const again = SharedArray.attach(values.handle);
    assert.deepEqual(again.toArray(), [
      [1, 3],
      [2, 4],
    ]);
    again.close();
    values.close();
  });
});
