// Seed 001 across languages: a frame of strings and NaN made from the seed's own DataFrame in
// Python, written and appended to by a multiprocessing.Pool of Python workers (the frame travels
// to them pickled as a handle string), then read in Node. Also with the spawn start method, and
// with a pool that is terminated (its workers killed) rather than closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPythonScript } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy', 'pandas']);

const kPool = `
import json, math, multiprocessing as mp, sys
import numpy as np, pandas as pd, shmframe

def work(args):
    frame, k = args                     # arrives attached: a SharedFrame, not a copy
    with frame:
        if k == 0:
            # write: fill the parent's missing d2 values in place
            for row in range(2):
                if frame.is_null(row, 'd2'):
                    frame.set(row, 'd2', 3.0)
            frame.set(0, 'w2', 'rock')  # a category cell, rewritten in place
        rows = 50
        at = frame.append({
            'w1': [f'worker-{k}-{i}' if i % 7 else None for i in range(rows)],
            'w2': ['obstacle' if i % 2 else f'kind-{k}' for i in range(rows)],
            'd1': np.full(rows, float(k)),
            'd2': [float('nan') if i % 5 == 0 else float(i) for i in range(rows)],
        })
        return at

if __name__ == '__main__':
    method = sys.argv[2]
    mp.set_start_method(method)
    heap = shmframe.Heap.open(sys.argv[1])
    to_share = pd.DataFrame([['obstacle', 'obstacle', 2, 3], ['obstacles', 'obstacle', 2, np.nan]],
                            columns=['w1', 'w2', 'd1', 'd2'])
    frame = shmframe.SharedFrame.from_pandas(heap, to_share, capacity=256, schema={'w2': 'category'})
    heap.publish('seed001', frame)
    pool = mp.Pool(4)
    starts = pool.map(work, [(frame, k) for k in range(4)])
    if sys.argv[3] == 'close':
        pool.close()
    else:
        pool.terminate()                 # workers killed: the heap releases what they held
    pool.join()
    df = frame.to_pandas()
    print(json.dumps({'starts': sorted(starts), 'length': frame.length,
                      'd2_nulls': int(df['d2'].isna().sum()), 'w1_nulls': int(df['w1'].isna().sum()),
                      'categories': frame.categories('w2'), 'row0': [df['w1'][0], df['w2'][0], float(df['d2'][1])]}))
    frame.close()
`;

for (const [method, end] of [
  ['fork', 'close'],
  ['spawn', 'close'],
  ['fork', 'terminate'],
]) {
  test(
    `seed 001: a Pool of Python workers (${method}, ${end}) writes to and appends to a frame of strings and NaN; Node reads it afterwards`,
    { skip },
    async () => {
      await withProcessHeap(
        async (heap) => {
          const py = spawnPythonScript(kPool, [heap.name, method, end]);
          const r = JSON.parse(await py.line(/^\{/));
          await py.ok();
          heap.releaseDead();
          assert.deepEqual(r.starts.length, 4);
          assert.equal(r.length, 202);
          const f = heap.lookup('seed001');
          assert.equal(f.length, 202);
          assert.deepEqual(f.schema, [
            ['w1', 'utf8'],
            ['w2', 'category'],
            ['d1', '<i8'],
            ['d2', '<f8'],
          ]);
          // The parent's rows, with the workers' in-place writes.
          assert.deepEqual(f.row(0), { w1: 'obstacle', w2: 'rock', d1: 2n, d2: 3 });
          assert.deepEqual(f.row(1), { w1: 'obstacles', w2: 'obstacle', d1: 2n, d2: 3 });
          // Each worker's 50 rows are contiguous, starting where its append said.
          for (const start of r.starts) {
            const k = Number(f.get(start, 'd1'));
            for (let i = 0; i < 50; i++) {
              const row = f.row(start + i);
              assert.equal(row.w1, i % 7 ? `worker-${k}-${i}` : null);
              assert.equal(row.w2, i % 2 ? 'obstacle' : `kind-${k}`);
              assert.equal(row.d1, BigInt(k));
              if (i % 5 === 0)
                assert.ok(
                  Number.isNaN(row.d2) && !f.isNull(start + i, 'd2'),
                  'a NaN a worker wrote stays a value',
                );
              else assert.equal(row.d2, i);
            }
          }
          // pandas counts NaN values as missing; Node keeps NaN (a value) and null apart.
          assert.equal(r.d2_nulls, 40);
          assert.equal(r.w1_nulls, 4 * 8);
          assert.deepEqual(r.row0, ['obstacle', 'rock', 3]);
          assert.deepEqual(
            new Set(r.categories),
            new Set(['obstacle', 'rock', 'kind-0', 'kind-1', 'kind-2', 'kind-3']),
          );
          assert.equal(heap.unpublish('seed001'), true);
          f.close();
        },
        { size: '64M', name: uniqueName('seed001') },
      );
    },
  );
}
