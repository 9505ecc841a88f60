// Frames travel by handle wherever shared objects do: a whole frame, a view of one, and a
// values() array over its columns, inside one SharedQueue item, reach a worker that reads them
// and writes back through them. Nothing is copied and the heap returns to where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SharedFrame, SharedQueue } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker } from '../helpers/worker.js';

const workerSource = `
  import { parentPort, workerData } from 'node:worker_threads';
  import { SharedQueue } from 'shmframe';
  const q = SharedQueue.attach(workerData.queue);
  const { frame, tail, values, note } = q.get();
  const seen = {
    note,
    kinds: [frame.constructor.name, tail.constructor.name, values.constructor.name],
    rows: [...frame.rows()],
    tail: [...tail.rows()],
    values: values.toArray(),
  };
  frame.set(0, 'city', 'Zürich');
  values.set([1, 1], 99);
  for (const o of [frame, tail, values, q]) o[Symbol.dispose]();
  parentPort.postMessage(seen);
`;

test('a frame, a slice of it and its values() array travel in one queue item', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.from(
      { a: [1, 2, 3], b: [4, 5, 6], city: ['Oslo', 'Rome', 'Lima'] },
      { heap, schema: { city: 'category' } },
    );
    const rest = frame.slice(1);
    const tail = rest.select(['city']);
    rest.close();
    const pair = frame.select(['a', 'b']);
    const values = pair.values();
    pair.close();
    const q = SharedQueue.create({ capacity: 2, heap });
    const worker = startWorker(workerSource, { workerData: { queue: q.handle } });
    heap.watch(worker);
    q.put({ frame, tail, values, note: 'three views' });
    const [seen] = await once(worker, 'message');
    await once(worker, 'exit');
    assert.deepEqual(seen.kinds, ['SharedFrame', 'SharedFrame', 'SharedArray']);
    assert.equal(seen.note, 'three views');
    assert.deepEqual(seen.rows, [
      { a: 1, b: 4, city: 'Oslo' },
      { a: 2, b: 5, city: 'Rome' },
      { a: 3, b: 6, city: 'Lima' },
    ]);
    assert.deepEqual(seen.tail, [{ city: 'Rome' }, { city: 'Lima' }]);
    assert.deepEqual(seen.values, [
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    // The worker's writes went to the same memory.
    assert.equal(frame.get(0, 'city'), 'Zürich');
    assert.equal(frame.get(1, 'b'), 99);
    for (const o of [frame, tail, values, q]) o[Symbol.dispose]();
  });
});
