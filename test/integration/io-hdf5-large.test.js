// An HDF5 dataset larger than 2 GiB (h5wasm's wasm memory stops at 2 GiB): written through the
// bounded slice buffer, read back by h5py and by readHDF5. Needs about 5 GiB of memory and 5 GB
// of disk (about 30 s): it runs when the machine has them, and SHMFRAME_SKIP_LARGE_TESTS=1
// skips it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { Heap, SharedArray, SharedFrame, readHDF5, writeHDF5 } from 'shmframe';
import { assertHeapAt } from '../helpers/heap.js';
import { needPython, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/io.js';

const GiB = 2 ** 30;

function availableMemory() {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : os.freemem();
}

function freeDisk(dir) {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

function whySkip() {
  if (process.env.SHMFRAME_SKIP_LARGE_TESTS === '1') return 'SHMFRAME_SKIP_LARGE_TESTS=1';
  const mem = availableMemory();
  if (mem < 8 * GiB)
    return `needs 8 GiB of available memory for a 2.2 GiB HDF5 dataset, ${(mem / GiB).toFixed(1)} GiB available`;
  const disk = freeDisk(os.tmpdir());
  if (disk < 8 * GiB)
    return `needs 8 GiB free in ${os.tmpdir()} for two 2.2 GiB HDF5 files, ${(disk / GiB).toFixed(1)} GiB free`;
  return needPython(['numpy', 'h5py']);
}

const skip = whySkip();

test(
  'a 2.2 GiB array and a 2.2 GiB compound frame write to HDF5 and read back',
  { skip, timeout: 20 * 60_000 },
  async () => {
    const t = tempDir();
    const heap = Heap.create({ size: '6G' });
    const before = heap.stats();
    try {
      const n = Math.ceil((2.2 * 2 ** 30) / 8);
      const a = SharedArray.empty([n], 'f8', { heap });
      const d = a.data;
      for (let i = 0; i < n; i++) d[i] = i;
      await writeHDF5(t.path('a.h5'), { a });
      assert.ok(statSync(t.path('a.h5')).size > 2.2 * 2 ** 30);
      const py = runPython(
        `import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    a = f['a']; n = a.shape[0]
    print(json.dumps([n, a[0], a[n // 2], a[n - 1], float(a[n - 1000000:].sum())]))`,
        [t.path('a.h5')],
      );
      const [pn, first, mid, last, tail] = JSON.parse(py);
      assert.deepEqual([pn, first, mid, last], [n, 0, Math.floor(n / 2), n - 1]);
      let want = 0;
      for (let i = n - 1000000; i < n; i++) want += i;
      assert.equal(tail, want);
      a.close();
      const back = await readHDF5(t.path('a.h5'), 'a', { heap });
      assert.equal(back.size, n);
      assert.equal(back.data[n - 1], n - 1);
      assert.equal(back.data[123456789], 123456789);
      back.close();

      const rows = Math.ceil((2.2 * 2 ** 30) / 26);
      const f = SharedFrame.create(
        { chr: 'S10', pos: 'i4', pct: 'f4', c: 'i4', t: 'i4' },
        { length: rows, heap },
      );
      const pos = f.col('pos');
      const chr = f.col('chr').data;
      for (let i = 0; i < rows; i++) {
        pos[i] = i;
        chr[i * 10] = 99; // 'c'
      }
      await writeHDF5(t.path('f.h5'), { data: f });
      const pf = runPython(
        `import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    d = f['data']; n = d.shape[0]
    print(json.dumps([n, str(d.dtype), int(d[n - 1]['pos']), d[n - 1]['chr'].decode()]))`,
        [t.path('f.h5')],
      );
      assert.deepEqual(JSON.parse(pf), [
        rows,
        "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
        rows - 1,
        'c',
      ]);
      f.close();
      assertHeapAt(heap, before);
    } finally {
      t.cleanup();
    }
  },
);
