// Seed 004 across languages: Node's readDelimited loads the seed's text files (2 worker threads)
// into a named process heap and publishes one frame per file; a Python process gets the frames
// by key, checks every field against np.loadtxt with the seed's structured dtype, and writes them
// with h5py, one compound dataset per file, as the seed's parent does. No SharedMemory names, no
// name/shape/dtype on the side, nothing to unlink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { readDelimited } from 'shmframe';
import { writeMethylationTsv } from '../../../bench/data.js';
import { tempDir } from '../../helpers/io.js';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy', 'h5py']);

const kParent = `
import json, sys
import h5py, numpy as np, shmframe
dtype = [('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]
heap = shmframe.Heap.open(sys.argv[1])
out, files = sys.argv[2], sys.argv[3:]
result = {'equal': {}, 'pct_bits': {}, 'views': {}, 'rows': {}}
with h5py.File(out, 'w') as h5:
    for path in files:
        key = path.rsplit('/', 1)[-1].rsplit('.', 1)[0]
        with heap.lookup(key) as frame:            # published by Node under the file's stem
            cols = {name: frame.col(name) for name, _ in dtype}
            result['views'][key] = [np.dtype(frame.schema) == np.dtype(dtype)] + [
                not c.flags['OWNDATA'] for c in cols.values()]
            ref = np.loadtxt(path, dtype=dtype)
            result['rows'][key] = [frame.length, len(ref)]
            result['equal'][key] = [bool(np.array_equal(cols[n], ref[n])) for n, _ in dtype]
            result['pct_bits'][key] = bool(np.array_equal(cols['pct'].view('<u4'), ref['pct'].view('<u4')))
            records = np.empty(frame.length, dtype=dtype)   # h5py writes a compound dataset from records
            for n, _ in dtype:
                records[n] = cols[n]
            h5.create_dataset(key, data=records)
with h5py.File(out, 'r') as h5:
    result['h5'] = {k: [h5[k].shape[0], h5[k].dtype == np.dtype(dtype),
                        bool(np.array_equal(h5[k][:], np.loadtxt([f for f in files if k in f][0], dtype=dtype)))]
                    for k in h5}
print(json.dumps(result))
`;

test(
  'seed 004: Node readDelimited into a process heap, Python gets the frames by key, checks them against np.loadtxt and writes them with h5py',
  { skip },
  async () => {
    const t = tempDir();
    try {
      const files = [1, 2, 3].map(
        (k) =>
          writeMethylationTsv(t.path(`data${k}.txt`), { rows: 20_000 + 1000 * k, seed: k }).path,
      );
      await withProcessHeap(
        async (heap) => {
          const frames = await readDelimited(files, {
            schema: "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
            workers: 2,
            concat: false,
            heap,
          });
          frames.forEach((f, i) => {
            heap.publish(basename(files[i], '.txt'), f);
            f.close(); // the published entry keeps each frame
          });
          assert.deepEqual(heap.published().sort(), ['data1', 'data2', 'data3']);
          const py = spawnPython(kParent, [heap.name, t.path('seed.h5'), ...files]);
          const r = JSON.parse(await py.line(/^\{/));
          await py.ok();
          for (const [k, key] of ['data1', 'data2', 'data3'].entries()) {
            assert.deepEqual(r.rows[key], [21_000 + 1000 * k, 21_000 + 1000 * k], key);
            assert.deepEqual(
              r.views[key],
              [true, true, true, true, true, true],
              `${key}: schema and views`,
            );
            assert.deepEqual(
              r.equal[key],
              [true, true, true, true, true],
              `${key}: every field equals np.loadtxt`,
            );
            assert.equal(r.pct_bits[key], true, `${key}: float32 bits equal`);
            assert.deepEqual(
              r.h5[key],
              [21_000 + 1000 * k, true, true],
              `${key}: the HDF5 dataset`,
            );
          }
          for (const key of heap.published()) heap.unpublish(key);
        },
        { size: '64M', name: uniqueName('seed004') },
      );
    } finally {
      t.cleanup();
    }
  },
);
