// readDelimited's `hdf5` option (each frame written to one HDF5 file as soon as it is parsed, by
// shmframe's own writer) and that writer's corners, read back by h5py, h5dump and readHDF5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedArray, SharedFrame, readDelimited, readHDF5, writeHDF5 } from 'shmframe';
import { withHeap } from '../helpers/heap.js';
import { needPython, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/io.js';

const py = needPython(['numpy', 'h5py']);
const dtype = "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]";
const schema = 'chr:S10,pos:i4,pct:f4,c:i4,t:i4';
const h5dump = spawnSync('h5dump', ['--version']).status === 0;

function genomic(path, rows, seed) {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const lines = [];
  for (let i = 0; i < rows; i++)
    lines.push(
      `chr${1 + Math.floor(rnd() * 22)}\t${Math.floor(rnd() * 2.5e8)}\t${rnd().toFixed(4)}\t${Math.floor(rnd() * 1000)}\t${Math.floor(rnd() * 1000)}`,
    );
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** h5dump reads the whole file (headers and data) without an error. */
function assertH5dumpReads(path) {
  if (!h5dump) return;
  const r = spawnSync('h5dump', ['-H', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test(
  'seed 004 in one call: 4 files parsed by 2 workers in many parts, each file a dataset written while the others parse; h5py reads each equal to np.loadtxt',
  { skip: py },
  async () => {
    const t = tempDir();
    try {
      // 60,000 rows per file (1.4 MB each): with direct I/O in play (over 4 MiB in all)
      const files = [1, 2, 3, 4].map((i) => genomic(t.path(`data${i}.txt`), 60_000, i));
      await withHeap(
        async (heap) => {
          for (const direct of [false, true]) {
            const out = t.path(`combined-${direct}.h5`);
            const frames = await readDelimited(files, {
              schema,
              concat: false,
              workers: 2,
              partBytes: 256 << 10,
              heap,
              hdf5: { path: out, direct },
            });
            const r = JSON.parse(
              runPython(
                `import numpy as np, h5py, sys, json
dt = np.dtype(${dtype})
res = {}
with h5py.File(sys.argv[1], 'r') as f:
    res['keys'] = sorted(f.keys())
    for p in sys.argv[2:]:
        name = p.rsplit('/', 1)[1].rsplit('.', 1)[0]
        ref = np.loadtxt(p, dtype=dt)
        h = f[name][:]
        res[name] = [h.dtype == dt, h.shape == ref.shape, f[name].chunks is None] + [bool(np.array_equal(h[k], ref[k])) for k in dt.names]
print(json.dumps(res))`,
                [out, ...files],
              ),
            );
            assert.deepEqual(r.keys, ['data1', 'data2', 'data3', 'data4']);
            for (const k of r.keys)
              assert.deepEqual(r[k], [true, true, true, true, true, true, true, true], k);
            assertH5dumpReads(out);
            // The returned frames are the datasets.
            for (const [i, f] of frames.entries()) {
              const back = await readHDF5(out, `data${i + 1}`, { heap });
              assert.equal(back.length, 60_000);
              assert.deepEqual(back.row(59_999), f.row(59_999));
              assert.deepEqual(Array.from(back.col('pos')), Array.from(f.col('pos')));
              back.close();
              f.close();
            }
          }
          // concat: one dataset, 'data' by default, or as named
          const one = await readDelimited(files.slice(0, 2), {
            schema,
            workers: 2,
            heap,
            hdf5: t.path('one.h5'),
          });
          const named = await readDelimited(files.slice(0, 2), {
            schema,
            concat: false,
            heap,
            hdf5: { path: t.path('named.h5'), names: ['runs/a', 'runs/b'] },
          });
          const back = await readHDF5(t.path('one.h5'), 'data', { heap });
          assert.equal(back.length, 120_000);
          assert.deepEqual(back.row(70_000), one.row(70_000));
          const b = await readHDF5(t.path('named.h5'), 'runs/b', { heap });
          assert.deepEqual(b.row(5), (named[1] ?? one).row(5));
          for (const x of [one, ...named, back, b]) x.close();
        },
        { size: '256M' },
      );
    } finally {
      t.cleanup();
    }
  },
);

test('text columns, skipped bad lines and nulls: what is written is the frame returned', async () => {
  const t = tempDir();
  try {
    const a = t.path('a.csv');
    const b = t.path('b.csv');
    writeFileSync(a, 'name,k,x\nnaïve,red,1.5\nbroken line\n日本語,blue,NA\nz,red,3\n');
    writeFileSync(b, 'name,k,x\nq,blue,-2\n');
    await withHeap(async (heap) => {
      const frames = await readDelimited([a, b], {
        schema: { name: 'utf8', k: 'category', x: 'f8' },
        header: true,
        concat: false,
        nullValues: ['NA'],
        onBadLine: 'skip',
        workers: 2,
        heap,
        hdf5: t.path('text.h5'),
      });
      assert.equal(frames[0].length, 3);
      for (const [i, name] of ['a', 'b'].entries()) {
        const back = await readHDF5(t.path('text.h5'), name, { heap });
        assert.deepEqual(back.schema, frames[i].schema);
        const rows = (f) =>
          [...f.rows()].map((r) => ({ ...r, x: r.x === null || Number.isNaN(r.x) ? null : r.x }));
        assert.deepEqual(rows(back), rows(frames[i]));
        back.close();
        frames[i].close();
      }
      assertH5dumpReads(t.path('text.h5'));
    });
  } finally {
    t.cleanup();
  }
});

test('a failed load writes nothing: no output file, an existing one untouched, the heap as it was', async () => {
  const t = tempDir();
  try {
    const files = [1, 2, 3].map((i) => genomic(t.path(`d${i}.txt`), 20_000, i));
    writeFileSync(
      files[2],
      readFileSync(files[2], 'utf8').replace(/\n[^\n]*\n$/, '\nchr1\tNaN?\t1\t2\t3\n'),
    );
    const out = t.path('out.h5');
    await withHeap(
      async (heap) => {
        await assert.rejects(
          readDelimited(files, { schema, concat: false, workers: 2, heap, hdf5: out }),
          { code: 'SHMFRAME_ERR_PARSE', message: /d3\.txt:20000:/ },
        );
        assert.equal(existsSync(out), false);
        writeFileSync(out, 'keep me');
        await assert.rejects(
          readDelimited(files, { schema, concat: false, workers: 2, heap, hdf5: out }),
          { code: 'SHMFRAME_ERR_PARSE' },
        );
        assert.equal(readFileSync(out, 'utf8'), 'keep me');
        // An output directory that does not exist: SHMFRAME_ERR_IO naming it.
        await assert.rejects(
          readDelimited(files.slice(0, 1), { schema, heap, hdf5: t.path('no/such/dir/x.h5') }),
          { code: 'SHMFRAME_ERR_IO', message: /no\/such\/dir\/x\.h5/ },
        );
        assert.deepEqual(
          readdirSync(t.dir).filter((f) => f.endsWith('.tmp')),
          [],
          'temporary files left behind',
        );
      },
      { size: '128M' },
    );
  } finally {
    t.cleanup();
  }
});

test('the hdf5 option is checked before anything is read', async () => {
  const t = tempDir();
  try {
    mkdirSync(t.path('x'));
    mkdirSync(t.path('y'));
    const files = [genomic(t.path('x/run.txt'), 3, 1), genomic(t.path('y/run.txt'), 3, 2)];
    await withHeap(async (heap) => {
      const bad = [
        [{ hdf5: '' }, /`hdf5` to be a file path/],
        [{ hdf5: { path: t.path('o.h5'), direct: 'yes' } }, /hdf5.direct/],
        [{ hdf5: { path: t.path('o.h5'), names: ['one'] } }, /2 dataset name\(s\)/],
        [{ hdf5: t.path('o.h5') }, /Two frames would be written to the HDF5 dataset \/run/],
        [{ hdf5: { path: t.path('o.h5'), names: ['a', 'a/'] } }, /dataset names like/],
      ];
      for (const [o, message] of bad)
        await assert.rejects(readDelimited(files, { schema, concat: false, heap, ...o }), {
          code: 'SHMFRAME_ERR_INVALID_ARG',
          message,
        });
      assert.equal(existsSync(t.path('o.h5')), false);
    });
  } finally {
    t.cleanup();
  }
});

test(
  "shmframe's own writer: nested groups with many links, strided and empty arrays, empty frames, name clashes; h5py and h5dump read it",
  { skip: py },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const m = SharedArray.from(
          Float64Array.from({ length: 12 }, (_, i) => i),
          { shape: [3, 4], heap },
        );
        // Strided arrays: a frame's values() are column-major views of its columns.
        const small = SharedFrame.from(
          { x: [0, 1, 2, 3], y: [4, 5, 6, 7], z: [8, 9, 10, 11] },
          { heap },
        );
        const mt = small.values();
        assert.equal(mt.isContiguous, false);
        const wide = SharedFrame.from(
          {
            a: Int32Array.from({ length: 1_500_000 }, (_, i) => i * 7),
            b: Int32Array.from({ length: 1_500_000 }, (_, i) => -i),
          },
          { heap },
        );
        const bigT = wide.values();
        const empty = SharedFrame.from(
          { a: new Int16Array(0), s: [] },
          { schema: { s: 'S3' }, heap },
        );
        const datasets = { mt, 'deep/er/bigT': bigT, empty, 'données/naïve': m };
        for (let i = 0; i < 20; i++) datasets[`many/d${i}`] = m;
        const p = t.path('w.h5');
        await writeHDF5(p, datasets, { direct: true });
        const r = JSON.parse(
          runPython(
            `import h5py, sys, json, numpy as np
with h5py.File(sys.argv[1], 'r') as f:
    bt = f['deep/er/bigT'][:]
    print(json.dumps({'mt': f['mt'][:].tolist(), 'n': len(f['many']), 'd19': f['many/d19'][2, 3],
      'bigT': [list(bt.shape), bool(np.array_equal(bt[:, 0], np.arange(1500000, dtype='<i4') * 7)), bool(np.array_equal(bt[:, 1], -np.arange(1500000, dtype='<i4')))],
      'empty': [f['empty'].shape, str(f['empty'].dtype)], 'utf8name': f['données/naïve'][1, 1]}))`,
            [p],
          ),
        );
        assert.deepEqual(r, {
          mt: [
            [0, 4, 8],
            [1, 5, 9],
            [2, 6, 10],
            [3, 7, 11],
          ],
          n: 20,
          d19: 11,
          bigT: [[1_500_000, 2], true, true],
          empty: [[0], "[('a', '<i2'), ('s', 'S3')]"],
          utf8name: 5,
        });
        assertH5dumpReads(p);
        const back = await readHDF5(p, 'empty', { heap });
        assert.deepEqual(back.schema, empty.schema);
        assert.equal(back.length, 0);
        back.close();
        // Name clashes: refused, nothing written.
        await assert.rejects(writeHDF5(t.path('c.h5'), { a: m, 'a/b': m }), {
          code: 'SHMFRAME_ERR_INVALID_ARG',
          message: /\/a is a dataset, not a group/,
        });
        await assert.rejects(writeHDF5(t.path('c.h5'), { a: m, '/a': m }), {
          message: /\/a is written twice/,
        });
        assert.equal(existsSync(t.path('c.h5')), false);
        for (const x of [m, small, mt, wide, bigT, empty]) x.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test('direct I/O where the filesystem refuses it (tmpfs) falls back to ordinary writes', async (t) => {
  if (!existsSync('/dev/shm') || process.platform !== 'linux') {
    t.skip('no /dev/shm here');
    return;
  }
  const dir = join('/dev/shm', `shmframe-direct-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    await withHeap(
      async (heap) => {
        const a = SharedArray.from(
          Float64Array.from({ length: 1 << 20 }, (_, i) => i / 3),
          { heap },
        );
        await writeHDF5(join(dir, 'a.h5'), { a }, { direct: true });
        await writeHDF5(join(dir, 'b.h5'), { a });
        assert.ok(statSync(join(dir, 'a.h5')).size > 8 << 20);
        assert.deepEqual(readFileSync(join(dir, 'a.h5')), readFileSync(join(dir, 'b.h5')));
        const back = await readHDF5(join(dir, 'a.h5'), 'a', { heap });
        assert.deepEqual(back.data, a.data);
        back.close();
        a.close();
      },
      { size: '64M' },
    );
  } finally {
    spawnSync('rm', ['-rf', dir]);
  }
});

test('rows longer than the write buffer, and types too large for an HDF5 header', async () => {
  const t = tempDir();
  try {
    await withHeap(
      async (heap) => {
        // One text value of 9 MB: a 9 MB record, longer than the writer's 8 MiB slices.
        const long = 'ACGT'.repeat(9 << 18);
        const f = SharedFrame.from({ id: [1, 2, 3], seq: ['a', long, 'ccc'] }, { heap });
        await writeHDF5(t.path('long.h5'), { f }, { direct: true });
        const back = await readHDF5(t.path('long.h5'), 'f', { heap });
        assert.deepEqual(back.schema, f.schema);
        assert.equal(back.get(1, 'seq').length, long.length);
        assert.equal(back.get(1, 'seq'), long);
        assert.deepEqual(back.row(2), { id: 3, seq: 'ccc' });
        back.close();
        f.close();
        // 4000 columns: the compound type needs more than a header message's 65535 bytes.
        const schema = Array.from({ length: 4000 }, (_, i) => [
          `column_with_a_long_name_${i}`,
          'f8',
        ]);
        const wide = SharedFrame.create(schema, { capacity: 1, heap });
        await assert.rejects(writeHDF5(t.path('wide.h5'), { wide }), {
          code: 'SHMFRAME_ERR_INVALID_ARG',
          message: /65535.*layout: 'columns'/,
        });
        assert.equal(existsSync(t.path('wide.h5')), false);
        await writeHDF5(t.path('wide.h5'), { wide }, { layout: 'columns' }); // h5wasm writes that
        wide.close();
        // readDelimited refuses it before reading anything.
        writeFileSync(t.path('w.tsv'), '1\n');
        await assert.rejects(
          readDelimited(t.path('w.tsv'), { schema, heap, hdf5: t.path('w.h5') }),
          { code: 'SHMFRAME_ERR_INVALID_ARG', message: /65535/ },
        );
      },
      { size: '256M' },
    );
  } finally {
    t.cleanup();
  }
});
