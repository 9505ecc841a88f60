// Seed 001: share a frame holding strings and NaN with workers, let the workers write to it, and
// keep using it afterwards (the seed's answer rebuilt a pandas frame from a structured numpy
// array by hand, casting strings to fixed-width bytes and floats down to float32).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker, request } from '../helpers/worker.js';

const workerSource = `
  import { parentPort } from 'node:worker_threads';
  import { SharedFrame } from 'shmframe';
  parentPort.once('message', ({ handle }) => {
    const f = SharedFrame.attach(handle);
    // Read every value back exactly.
    const seen = { rows: [...f.rows()], schema: f.schema, d2Null: f.isNull(1, 'd2'), d2Raw: f.col('d2')[1], d3Raw: f.col('d3')[0] };
    // Write new values in place: numbers, a category label (new to the dictionary), fixed-width bytes, a null.
    f.set(0, 'd1', 7);
    f.col('d2')[0] = 3.5;
    f.set(1, 'w2', 'obstruction');
    f.set(0, 'w3', 'obst');
    f.setNull(0, 'd3');
    // And add rows (strings included).
    f.append({ w1: 'new row', w2: 'obstacle', w3: 'nr', d1: 9, d2: null, d3: 1.25 });
    f.append({ w1: ['añadida', 'ünïcode ✓'], w2: ['obstruction', null], w3: ['a', 'b'], d1: [10, 11], d2: [0.5, NaN], d3: [2, 3] });
    let bad;
    try { f.set(0, 'w1', 'changed'); } catch (e) { bad = e.code; }
    f.close();
    parentPort.postMessage({ seen, bad });
  });
`;

test('seed 001: strings and NaN shared with a worker that reads, writes and appends', async () => {
  await withHeap(async (heap) => {
    const frame = SharedFrame.fromRecords(
      [
        { w1: 'obstacle', w2: 'obstacle', w3: 'obs', d1: 2, d2: 3, d3: NaN },
        { w1: 'obstacles', w2: 'obstacle', w3: 'obss', d1: 2, d2: null, d3: 4 },
      ],
      { heap, schema: { w2: 'category', w3: '|S4', d1: 'i4' }, capacity: 10 },
    );
    const worker = startWorker(workerSource);
    heap.watch(worker);
    const exit = once(worker, 'exit');
    const { seen, bad } = await request(worker, { handle: frame.handle });
    await exit;

    assert.deepEqual(seen.schema, [
      ['w1', 'utf8'],
      ['w2', 'category'],
      ['w3', '|S4'],
      ['d1', '<i4'],
      ['d2', '<f8'],
      ['d3', '<f8'],
    ]);
    assert.deepEqual(seen.rows, [
      { w1: 'obstacle', w2: 'obstacle', w3: 'obs', d1: 2, d2: 3, d3: NaN },
      { w1: 'obstacles', w2: 'obstacle', w3: 'obss', d1: 2, d2: null, d3: 4 },
    ]);
    assert.equal(seen.d2Null, true); // the null (pandas' NaN) is a null...
    assert.ok(Number.isNaN(seen.d2Raw)); // ...stored as NaN, as numpy would see it
    assert.ok(Number.isNaN(seen.d3Raw)); // and a NaN value stays a (non-null) NaN
    assert.equal(bad, 'SHMFRAME_ERR_INVALID_ARG'); // utf8 strings are immutable

    // The parent keeps using the frame, with the worker's writes and rows.
    assert.equal(frame.length, 5);
    assert.deepEqual(frame.row(0), {
      w1: 'obstacle',
      w2: 'obstacle',
      w3: 'obst',
      d1: 7,
      d2: 3.5,
      d3: null,
    });
    assert.equal(frame.get(1, 'w2'), 'obstruction');
    assert.deepEqual(frame.col('w2').categories, ['obstacle', 'obstruction']);
    assert.deepEqual(
      [...frame.col('w1')],
      ['obstacle', 'obstacles', 'new row', 'añadida', 'ünïcode ✓'],
    );
    assert.deepEqual(frame.row(4), { w1: 'ünïcode ✓', w2: null, w3: 'b', d1: 11, d2: NaN, d3: 3 });
    assert.equal(frame.isNull(2, 'd2'), true);
    // Process it: a pandas-like aggregate over the non-null values.
    let sum = 0;
    for (const r of frame.rows()) if (r.d2 !== null && !Number.isNaN(r.d2)) sum += r.d2;
    assert.equal(sum, 3.5 + 0.5);
    assert.match(frame.toString(), /ünïcode ✓/);
    frame.close();
  });
});
