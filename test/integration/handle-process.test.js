// Handles are for threads: sent to a child process (child.send, process.send) a thread heap's
// handle could never be attached there. It is refused with a coded error that points at the
// processes API, and the reference it carried is released (issue 15: Node's uncoded "could not
// be cloned", or a handle without its buffer, and a ticket outstanding for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { request, startWorker } from '../helpers/worker.js';

const child = fileURLToPath(new URL('../fixtures/handle-child.js', import.meta.url));
const refusal = (how) => (err) => {
  assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG', err.message);
  assert.match(err.message, /cannot be sent to another process/);
  assert.match(err.message, how);
  assert.match(err.message, /the reference it carried was released/);
  assert.match(err.message, /shared: 'process'.*String\(obj\.handle\)/);
  return true;
};

/** Waits for the child's next message. */
const next = async (c) => (await once(c, 'message'))[0];

for (const serialization of ['json', 'advanced'])
  test(`child.send of a handle (serialization: '${serialization}') is SHMFRAME_ERR_INVALID_ARG and releases its reference; the channel still works`, async () => {
    await withHeap(async (heap) => {
      const c = fork(child, { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      try {
        const a = SharedArray.from([1, 2, 3], 'i4', { heap });
        const f = SharedFrame.from({ x: [1, 2] }, { heap });
        const q = SharedQueue.create({ capacity: 2, heap });
        const how = serialization === 'json' ? /JSON: child\.send/ : /serialization: 'advanced'/;
        for (const obj of [a, f, q]) {
          assert.throws(() => c.send(obj.handle), refusal(how));
          assert.throws(() => c.send({ nested: [obj.handle] }), refusal(how));
          assert.equal(heap.stats().handles, 0, 'a ticket stayed outstanding');
        }
        // Nothing half-sent: the next message is the first the child gets.
        c.send('hello');
        assert.deepEqual(await next(c), { got: 'hello' });
        // A handle read after the refusal is a fresh one, and works with a worker.
        const w = startWorker(
          `import { parentPort } from 'node:worker_threads';
           import { SharedArray } from 'shmframe';
           parentPort.on('message', (h) => { const b = SharedArray.attach(h); const v = b.toArray(); b.close(); parentPort.postMessage(v); });`,
        );
        try {
          assert.deepEqual(await request(w, a.handle), [1, 2, 3]);
        } finally {
          await w.terminate();
        }
        a.close();
        f.close();
        q.detach();
        // The other direction: the child's own handle, sent to its parent.
        c.send('send-back');
        const back = await next(c);
        assert.deepEqual([back.handles, back.objects], [0, 0]);
        assert.equal(back.error.code, 'SHMFRAME_ERR_INVALID_ARG', back.error.message);
        assert.match(back.error.message, /cannot be sent to another process/);
        c.send('bye');
        await once(c, 'exit');
      } finally {
        c.kill();
      }
    });
  });

test('JSON.stringify and v8.serialize of a handle are refused the same way; console.log and structuredClone are not', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([4], 'f8', { heap });
    assert.throws(() => JSON.stringify({ h: a.handle }), refusal(/JSON\.stringify/));
    assert.throws(() => v8.serialize(a.handle), refusal(/v8\.serialize/));
    assert.equal(heap.stats().handles, 0);
    const h = a.handle;
    assert.match((await import('node:util')).inspect(h), /\$shmframe/);
    const b = SharedArray.attach(structuredClone(h));
    assert.equal(b.size, 4);
    b.close();
    a.close();
  });
});
