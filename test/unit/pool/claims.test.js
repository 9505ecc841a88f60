import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskClaims, claimValue, kClaimSlots } from '../../../dist/pool/claims.js';

test('a posted task is claimed once: by the worker that starts it or by the pool taking it back', () => {
  const pool = new TaskClaims();
  const worker = new TaskClaims(pool.buffer); // the worker's view of the same words
  const a = pool.offer(7);
  const b = pool.offer(8);
  assert.notEqual(a, b);
  assert.equal(worker.take(a, 7), true, 'the worker starts task 7');
  assert.equal(pool.take(a, 7), false, 'too late to take it back');
  assert.equal(pool.take(b, 8), true, 'task 8 taken back before it started');
  assert.equal(worker.take(b, 8), false, 'so the worker skips it');
  assert.equal(pool.take(b, 8), false, 'and nobody claims it twice');
});

test('a word reused round the ring names only its new task', () => {
  const pool = new TaskClaims();
  const worker = new TaskClaims(pool.buffer);
  const first = pool.offer(1);
  assert.equal(pool.take(first, 1), true); // taken back; the worker still has it queued
  for (let id = 2; id <= kClaimSlots; id++) pool.offer(id);
  const again = pool.offer(kClaimSlots + 1); // the same word, for a new task
  assert.equal(again, first);
  assert.equal(worker.take(first, 1), false, 'the stale entry is skipped');
  assert.equal(worker.take(again, kClaimSlots + 1), true, 'the new task runs');
});

test('claim values are never 0 and fit an int32, for any task id', () => {
  for (const id of [
    0,
    1,
    2 ** 31 - 2,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 40 + 3,
    Number.MAX_SAFE_INTEGER,
  ]) {
    const v = claimValue(id);
    assert.ok(v >= 1 && v <= 2 ** 31 - 1, `${id} -> ${v}`);
  }
  assert.notEqual(claimValue(5), claimValue(6));
});
