// Seed 000 across languages: a frame of several dtypes made in Node is a pandas DataFrame in a
// Python process whose columns are views of the heap; the seed's `df.loc[:, 'col1'] *= 2` in
// Python is seen by Node and by a second Python process, and that one's writes by Node again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFrame } from 'shmframe';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy', 'pandas']);

const kFirst = `
import json, sys, warnings
import numpy as np, shmframe
warnings.simplefilter('error')  # the seed's idiom must not need a deprecated path
heap = shmframe.Heap.open(sys.argv[1])
frame = heap.lookup('seed000')
df = frame.to_pandas()
shared = {c: bool(np.shares_memory(df[c].to_numpy(), frame.col(c))) for c in ['col1', 'col2', 'n', 'flag', 'when']}
df.loc[:, 'col1'] *= 2                 # the seed's write, on a frame of several dtypes
df.loc[:, 'n'] += 100
df.iloc[0, df.columns.get_loc('flag')] = True
print(json.dumps({'shared': shared, 'dtypes': {c: str(t) for c, t in df.dtypes.items()},
                  'col1': df['col1'].tolist(), 'label': df['label'].tolist()}))
frame.close()
`;

const kSecond = `
import json, sys
import numpy as np, shmframe
heap = shmframe.Heap.open(sys.argv[1])
with heap.lookup('seed000') as frame:
    df = frame.to_pandas()
    seen = {'col1': df['col1'].tolist(), 'n': df['n'].tolist(), 'flag': df['flag'].tolist()}
    col2 = frame.col('col2')
    col2 *= 3                          # the seed's shm_array['col2'] *= 3, as a numpy view
    print(json.dumps(seen))
`;

test(
  'seed 000: Node frame of several dtypes, a pandas DataFrame of views in Python; writes are seen by Node and another Python process',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const n = 10;
        const frame = SharedFrame.from(
          {
            col1: Float64Array.from({ length: n }, (_, i) => i),
            col2: Float64Array.from({ length: n }, (_, i) => i),
            n: Int32Array.from({ length: n }, (_, i) => i),
            flag: Array.from({ length: n }, () => false),
            when: Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i))),
            label: Array.from({ length: n }, (_, i) => `row-${i}`),
          },
          { heap, schema: { when: 'M8[ns]' } },
        );
        heap.publish('seed000', frame);
        const first = spawnPython(kFirst, [heap.name]);
        const r1 = JSON.parse(await first.line(/^\{/));
        await first.ok();
        assert.deepEqual(r1.shared, { col1: true, col2: true, n: true, flag: true, when: true });
        assert.deepEqual(r1.dtypes, {
          col1: 'float64',
          col2: 'float64',
          n: 'int32',
          flag: 'bool',
          when: 'datetime64[ns]',
          label: 'object',
        });
        const doubled = Array.from({ length: n }, (_, i) => 2 * i);
        assert.deepEqual(r1.col1, doubled);
        assert.deepEqual(
          r1.label,
          Array.from({ length: n }, (_, i) => `row-${i}`),
        );
        // Node sees Python's writes.
        assert.deepEqual([...frame.col('col1')], doubled);
        assert.deepEqual(
          [...frame.col('n')],
          Array.from({ length: n }, (_, i) => i + 100),
        );
        assert.equal(frame.get(0, 'flag'), true);
        // A second Python process sees them too, and writes col2 through a numpy view.
        const second = spawnPython(kSecond, [heap.name]);
        const r2 = JSON.parse(await second.line(/^\{/));
        await second.ok();
        assert.deepEqual(r2.col1, doubled);
        assert.deepEqual(
          r2.n,
          Array.from({ length: n }, (_, i) => i + 100),
        );
        assert.equal(r2.flag[0], true);
        assert.deepEqual(
          [...frame.col('col2')],
          Array.from({ length: n }, (_, i) => 3 * i),
        );
        assert.equal(heap.unpublish('seed000'), true);
        frame.close();
      },
      { size: '64M', name: uniqueName('seed000') },
    );
  },
);
