import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray } from 'shmframe';
import { ResultRecord } from '../../../dist/pool/record.js';
import { encode, decode } from '../../../dist/pool/marshal.js';
import { withHeap } from '../../helpers/heap.js';

test('handles noted in transit are released if they never arrived, and left alone if they did', async () => {
  await withHeap(async (heap) => {
    const record = new ResultRecord();
    const a = SharedArray.zeros([8], 'f8', { heap });
    // a worker made the handles of its result, then died before posting them
    const lost = encode({ a }, null);
    record.begin(lost.handles);
    a.close(); // the worker's own reference (moved)
    assert.equal(heap.stats().handles, 1);
    const other = new ResultRecord(record.buffer); // the pool's view of the same words
    assert.equal(other.releaseOutstanding(), 1);
    assert.equal(heap.stats().handles, 0);
    assert.equal(heap.stats().objects, 0, 'the handle held the last reference');
    // posted and attached: nothing to release
    const b = SharedArray.zeros([8], 'f8', { heap });
    const sent = encode([b], null);
    record.begin(sent.handles);
    b.close();
    const attached = [];
    const [value, handles] = structuredClone([sent.value, sent.handles]);
    decode(value, handles, null, attached);
    assert.equal(record.releaseOutstanding(), 0);
    for (const o of attached) o.close();
    // end() clears the record
    const c = SharedArray.zeros([8], 'f8', { heap });
    const h = encode(c, null);
    record.begin(h.handles);
    record.end();
    assert.equal(record.releaseOutstanding(), 0);
    decode(h.value, h.handles, null, []).close();
    c.close();
  });
});

test('handles noted one by one as they are made are released if the worker dies before posting', async () => {
  await withHeap(async (heap) => {
    const record = new ResultRecord();
    const a = SharedArray.zeros([8], 'f8', { heap });
    const b = SharedArray.zeros([8], 'f8', { heap });
    // encode() calls note() right after making each handle: a worker terminated mid-encode
    // leaves a record of every handle made so far.
    const made = encode([a, b], null, (h) => record.add(h));
    assert.equal(made.handles.length, 2);
    a.close();
    b.close();
    assert.equal(new ResultRecord(record.buffer).releaseOutstanding(), 2);
    assert.equal(heap.stats().objects, 0);
  });
});

test('a deferring record keeps entries past end() and drops those of messages that left, in order', async () => {
  await withHeap(async (heap) => {
    const record = new ResultRecord();
    record.deferEnd = true;
    const arrays = Array.from({ length: 5 }, () => SharedArray.zeros([4], 'f8', { heap }));
    const handles = arrays.map((a) => a.handle);
    record.add(handles[0]);
    record.add(handles[1]);
    record.end(); // first message posted, not yet out
    record.add(handles[2]);
    record.end(); // second message
    assert.equal(record.count, 3);
    record.shift(2); // the first message left
    assert.equal(record.count, 1);
    record.add(handles[3]);
    record.add(handles[4]);
    // The worker dies now: what is listed is the second and third messages' handles.
    assert.equal(new ResultRecord(record.buffer).releaseOutstanding(), 3);
    for (const i of [0, 1]) heap.releaseHandle(handles[i]);
    for (const a of arrays) a.close();
  });
});
