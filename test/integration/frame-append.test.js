// Concurrent appends: two workers append 100k rows each (mixed dtypes, utf8 and category
// included) at the same time, while a third reads the frame as it grows. Every row must be
// intact, no row lost or interleaved, and `length` must only ever count complete rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { startWorker } from '../helpers/worker.js';

const kRows = 100_000;
const kCities = ['Paris', 'Roma', 'Zürich', 'København', '東京'];

// The expected row for (worker w, sequence number s): shared by writers and checkers.
const expected = `
  const kCities = ${JSON.stringify(kCities)};
  function expectedRow(w, s) {
    const missing = s % 97 === 0;
    return {
      worker: w,
      seq: s,
      name: missing ? null : 'w' + w + '-' + s + '-' + 'é'.repeat(s % 3),
      city: missing ? null : kCities[(s + w) % kCities.length],
      x: s * 0.5 + w,
      flag: s % 2 === 0,
      when: new Date(1e12 + s * 1000),
    };
  }
  function checkRow(f, r, last) {
    const w = f.get(r, 'worker');
    const s = f.get(r, 'seq');
    if (w !== 0 && w !== 1) return 'row ' + r + ': worker ' + w;
    if (s !== last[w] + 1) return 'row ' + r + ': worker ' + w + ' seq ' + s + ' after ' + last[w];
    last[w] = s;
    const want = expectedRow(w, s);
    for (const k of Object.keys(want)) {
      const got = f.get(r, k);
      const same = got instanceof Date ? got.getTime() === want[k].getTime() : got === want[k];
      if (!same) return 'row ' + r + ' column ' + k + ': ' + got + ' instead of ' + want[k];
    }
    return undefined;
  }
`;

const writerSource = `
  import { parentPort, workerData } from 'node:worker_threads';
  import { SharedFrame } from 'shmframe';
  ${expected}
  const { handle, go, w, rows } = workerData;
  const f = SharedFrame.attach(handle);
  const flag = new Int32Array(go);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
  let s = 0;
  while (s < rows) {
    if (s >= 50000 && s < 60000) {
      // A batch of 500 rows as columns, in one reservation.
      const batch = Array.from({ length: 500 }, (_, k) => expectedRow(w, s + k));
      const cols = {};
      for (const k of Object.keys(batch[0])) cols[k] = batch.map((r) => r[k]);
      f.append(cols);
      s += 500;
    } else {
      f.append(expectedRow(w, s));
      s += 1;
    }
  }
  f.close();
  parentPort.postMessage('done');
`;

const readerSource = `
  import { parentPort, workerData } from 'node:worker_threads';
  import { SharedFrame } from 'shmframe';
  ${expected}
  const { handle, go, total } = workerData;
  const f = SharedFrame.attach(handle);
  Atomics.wait(new Int32Array(go), 0, 0);
  const last = [-1, -1];
  let checked = 0;
  let error;
  let polls = 0;
  const deadline = Date.now() + 120000;
  while (checked < total && error === undefined && Date.now() < deadline) {
    const n = f.length;
    polls++;
    for (; checked < n && error === undefined; checked++) error = checkRow(f, checked, last);
  }
  f.close();
  parentPort.postMessage({ checked, error, polls });
`;

test('two workers append 100k rows each concurrently: exactly 200k intact rows', async (t) => {
  await withHeap(
    async (heap) => {
      const frame = SharedFrame.create(
        {
          worker: 'i4',
          seq: 'i4',
          name: 'utf8',
          city: 'category',
          x: 'f8',
          flag: 'bool',
          when: 'M8[ms]',
        },
        { capacity: 2 * kRows, heap, stringBytes: 2 * kRows * 20 },
      );
      const go = new SharedArrayBuffer(4);
      const writers = [0, 1].map((w) =>
        startWorker(writerSource, {
          workerData: { handle: frame[Symbol.for('shmframe.share')](), go, w, rows: kRows },
        }),
      );
      const reader = startWorker(readerSource, {
        workerData: { handle: frame[Symbol.for('shmframe.share')](), go, total: 2 * kRows },
      });
      for (const wk of [...writers, reader]) heap.watch(wk);
      await Promise.all(writers.map((wk) => once(wk, 'message')));
      const results = [...writers, reader].map((wk) => once(wk, 'message'));
      const exits = [...writers, reader].map((wk) => once(wk, 'exit'));
      Atomics.store(new Int32Array(go), 0, 1);
      Atomics.notify(new Int32Array(go), 0);
      const [[d0], [d1], [read]] = await Promise.all(results);
      await Promise.all(exits);
      assert.equal(d0, 'done');
      assert.equal(d1, 'done');
      // The reader saw only complete rows, in every worker's order, while they were appended.
      assert.equal(read.error, undefined);
      assert.equal(read.checked, 2 * kRows);

      assert.equal(frame.length, 2 * kRows);
      const worker = frame.col('worker');
      const seq = frame.col('seq');
      const seen = [new Uint8Array(kRows), new Uint8Array(kRows)];
      let switches = 0;
      for (let r = 0; r < frame.length; r++) {
        seen[worker[r]][seq[r]]++;
        if (r > 0 && worker[r] !== worker[r - 1]) switches++;
      }
      for (const s of seen)
        assert.ok(
          s.every((c) => c === 1),
          'every (worker, seq) exactly once',
        );
      // Spot-check full rows (the reader checked them all).
      const names = frame.col('name');
      assert.equal(names.get(frame.length - 1)?.startsWith('w'), true);
      assert.equal(frame.col('city').categories.length, kCities.length);
      // How much the appends overlapped depends on scheduling: reported, not asserted.
      t.diagnostic(`writer switches: ${switches}; reader polls: ${read.polls}`);
      frame.close();
    },
    { size: '128M' },
  );
});
