import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskQueue } from '../../../dist/pool/task-queue.js';
import { Task, kQueued, kDone } from '../../../dist/pool/task.js';

const owner = { settle() {} };
const task = (i) => new Task(owner, 't', i, null, null, i, 0, 0);

test('FIFO with O(1) cancellation: cancelled tasks are skipped and not counted', () => {
  const q = new TaskQueue();
  const ts = Array.from({ length: 5 }, (_, i) => task(i));
  for (const t of ts) q.push(t);
  assert.equal(q.size, 5);
  ts[1].state = kDone;
  q.forget();
  assert.equal(q.size, 4);
  assert.equal(q.take(), ts[0]);
  assert.equal(q.take(), ts[2], 'the cancelled task is skipped');
  q.unshift([ts[0]]);
  ts[0].state = kQueued;
  assert.equal(q.size, 3);
  assert.equal(q.take(), ts[0], 'given-back tasks go first');
  const rest = q.drain();
  assert.deepEqual(rest, [ts[3], ts[4]]);
  assert.ok(
    rest.every((t) => t.state === kDone),
    'drained tasks are done before anyone sees them',
  );
  assert.equal(q.size, 0);
  assert.equal(q.take(), undefined);
});

test('a long queue compacts as it is consumed', () => {
  const q = new TaskQueue();
  for (let i = 0; i < 5000; i++) q.push(task(i));
  for (let i = 0; i < 4000; i++) assert.equal(q.take().index, i);
  for (let i = 5000; i < 5100; i++) q.push(task(i));
  let n = 0;
  while (q.take() !== undefined) n++;
  assert.equal(n, 1100);
});
