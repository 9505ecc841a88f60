// Seed 004 end to end with real worker threads: generated genomic TSV files -> readDelimited
// (2 workers, files split into byte ranges) -> HDF5 / .npy / Arrow, each read back by its
// reference reader (h5py, numpy, apache-arrow) and compared field by field with np.loadtxt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { readDelimited, writeHDF5, writeNpy, writeArrow, readHDF5 } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { needPython, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/io.js';

const dtype = "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]";
const py = needPython(['numpy', 'h5py']);

function generate(t, files, rows) {
  const paths = [];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let f = 0; f < files; f++) {
    const lines = [];
    for (let i = 0; i < rows; i++) {
      const chr = `chr${1 + Math.floor(rnd() * 22)}`;
      lines.push(
        `${chr}\t${Math.floor(rnd() * 2.5e8)}\t${rnd().toFixed(4)}\t${Math.floor(rnd() * 1000)}\t${Math.floor(rnd() * 1000)}`,
      );
    }
    const p = t.path(`data${f + 1}.txt`);
    writeFileSync(p, lines.join('\n') + '\n');
    paths.push(p);
  }
  return paths;
}

test(
  'seed 004: 4 files, 2 workers, split into parts -> HDF5, .npy and Arrow equal np.loadtxt field by field',
  { skip: py },
  async () => {
    const t = tempDir();
    try {
      const files = generate(t, 4, 3000);
      await withHeap(async (heap) => {
        let report;
        const frame = await readDelimited(files, {
          schema: [
            ['chr', 'S10'],
            ['pos', '<i4'],
            ['pct', '<f4'],
            ['c', '<i4'],
            ['t', '<i4'],
          ],
          workers: 2,
          partBytes: 16 << 10,
          heap,
          onReport: (r) => (report = r),
        });
        assert.equal(frame.length, 12000);
        assert.equal(report.workers, 2);
        assert.ok(report.parts > 4, `${report.parts} parts`);
        await writeHDF5(t.path('combined.h5'), { data: frame });
        await writeNpy(t.path('combined.npy'), frame);
        await writeArrow(t.path('combined.arrow'), frame);
        const out = runPython(
          `import numpy as np, h5py, sys, json
dt = np.dtype(${dtype})
ref = np.concatenate([np.loadtxt(f, dtype=dt) for f in sys.argv[3:]])
with h5py.File(sys.argv[1], 'r') as f:
    h = f['data'][:]
n = np.load(sys.argv[2])
res = {}
for name, a in (('h5', h), ('npy', n)):
    res[name] = [a.dtype == dt, a.shape == ref.shape] + [bool(np.array_equal(a[k], ref[k])) for k in dt.names]
# float32 fields: loadtxt rounds through a double (double rounding); compare those bit patterns too
res['pct_bits_equal'] = bool(np.array_equal(h['pct'].view('<u4'), ref['pct'].view('<u4')))
res['pos'] = ref['pos'][:3].tolist()
print(json.dumps(res))`,
          [t.path('combined.h5'), t.path('combined.npy'), ...files],
        );
        const r = JSON.parse(out);
        assert.deepEqual(r.h5, [true, true, true, true, true, true, true]);
        assert.deepEqual(r.npy, [true, true, true, true, true, true, true]);
        assert.equal(r.pct_bits_equal, true);
        assert.deepEqual(r.pos, Array.from(frame.col('pos').subarray(0, 3)));
        const table = tableFromIPC(readFileSync(t.path('combined.arrow')));
        assert.equal(table.numRows, 12000);
        assert.deepEqual(Array.from(table.getChild('pos').toArray()), Array.from(frame.col('pos')));
        assert.deepEqual(Array.from(table.getChild('pct').toArray()), Array.from(frame.col('pct')));
        assert.deepEqual(
          [...table.getChild('chr')]
            .slice(0, 5)
            .map((b) => Buffer.from(b).toString('latin1').replace(/\0+$/, '')),
          frame.col('chr').toArray().slice(0, 5),
        );
        const back = await readHDF5(t.path('combined.h5'), 'data', { heap });
        assert.deepEqual([...back.rows()].slice(-3), [...frame.rows()].slice(-3));
        back.close();
        frame.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test('workers give the frame a single thread gives, at every split; errors cross the boundary intact', async () => {
  const t = tempDir();
  try {
    const lines = ['name,k,n'];
    for (let i = 0; i < 400; i++) {
      if (i % 97 === 5) lines.push('bad,line');
      else if (i % 31 === 0) lines.push(`"multi\nline ${i}, ""q""",k${i % 3},${i}`);
      else lines.push(`naïve ${i},k${i % 5},${i}`);
    }
    const [p] = [t.path('w.csv')];
    writeFileSync(p, lines.join('\r\n') + '\r\n');
    const opts = {
      schema: { name: 'utf8', k: 'category', n: 'i4' },
      header: true,
      onBadLine: 'skip',
    };
    await withHeap(async (heap) => {
      const ref = await readDelimited(p, { ...opts, workers: 0, heap });
      const rows = [...ref.rows()];
      const cats = ref.col('k').categories;
      ref.close();
      for (const partBytes of [41, 97, 211, 1000, 4096]) {
        let report;
        const f = await readDelimited(p, {
          ...opts,
          workers: 2,
          partBytes,
          heap,
          onReport: (r) => (report = r),
        });
        assert.deepEqual([...f.rows()], rows, `partBytes ${partBytes}`);
        assert.deepEqual(f.col('k').categories, cats);
        assert.equal(report.badLines, 5);
        f.close();
      }
      writeFileSync(
        t.path('e.txt'),
        'chr1\t1\t0.5\t1\t2\n'.repeat(5000) +
          'chr1\t1\t0.5\tzz\t2\n' +
          'chr1\t1\t0.5\t1\t2\n'.repeat(5000),
      );
      await assert.rejects(
        readDelimited(t.path('e.txt'), {
          schema: 'chr:S10,pos:i4,pct:f4,c:i4,t:i4',
          workers: 2,
          partBytes: 8192,
          heap,
        }),
        (err) => {
          assert.equal(err.code, 'SHMFRAME_ERR_PARSE');
          assert.equal(err.name, 'ParseError');
          assert.match(
            err.message,
            /e\.txt:5001:12: expected <i4 for column "c" \(field 4\), got "zz"/,
          );
          assert.equal(err.details.line, 5001);
          return true;
        },
      );
      await assert.rejects(readDelimited([p, t.path('gone.csv')], { ...opts, workers: 2, heap }), {
        code: 'SHMFRAME_ERR_IO',
      });
    });
  } finally {
    t.cleanup();
  }
});
