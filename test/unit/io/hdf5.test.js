import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { SharedArray, SharedFrame, readHDF5, writeHDF5 } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { needPython, runPython } from '../../helpers/python.js';
import { tempDir } from '../../helpers/io.js';

const h5py = needPython(['numpy', 'h5py']);
const seedDtype = "[('chr','S10'),('pos','<i4'),('pct','<f4'),('c','<i4'),('t','<i4')]";

function seedFrame(heap, n = 5) {
  return SharedFrame.from(
    {
      chr: Array.from({ length: n }, (_, i) => (i === 1 ? 'chromosome' : `chr${i}`)),
      pos: Int32Array.from({ length: n }, (_, i) => i * 1000 - 1),
      pct: Float32Array.from({ length: n }, (_, i) => i / 7),
      c: Int32Array.from({ length: n }, (_, i) => -i),
      t: Int32Array.from({ length: n }, (_, i) => 2 ** 31 - 1 - i),
    },
    { schema: { chr: 'S10' }, heap },
  );
}

// The three ways a compound frame is written: h5wasm (chunked), shmframe's own contiguous
// writer, and the same with direct I/O.
const writers = [
  { name: 'h5wasm, chunked', options: { chunkRows: 300 }, chunks: [300] },
  { name: 'own writer, contiguous', options: {}, chunks: null },
  { name: 'own writer, direct I/O', options: { direct: true }, chunks: null },
];

for (const w of writers)
  test(
    `compound layout (${w.name}): exactly the type h5py writes for seed 004 (NUL-padded |S10), every field equal`,
    { skip: h5py },
    async () => {
      const t = tempDir();
      try {
        await withHeap(async (heap) => {
          // 300,000 rows (7.8 MB): enough for direct I/O to be used
          const f = seedFrame(heap, w.options.direct ? 300_000 : 2000);
          await writeHDF5(t.path('ours.h5'), { data: f }, w.options);
          const out = runPython(
            `import h5py, numpy as np, sys, json
dt = np.dtype(${seedDtype})
with h5py.File(sys.argv[2], 'w') as g: g.create_dataset('data', data=np.zeros(3, dtype=dt))
with h5py.File(sys.argv[1], 'r') as f, h5py.File(sys.argv[2], 'r') as g:
    d = f['data']; a = d[:]
    t, u = d.id.get_type(), g['data'].id.get_type()
    same = t == u and all(t.get_member_type(i) == u.get_member_type(i) for i in range(5))
    pads = [t.get_member_type(0).get_strpad(), u.get_member_type(0).get_strpad()]
    print(json.dumps({'dtype': str(a.dtype), 'equal': a.dtype == dt, 'sametype': bool(same), 'pads': pads, 'shape': list(a.shape),
      'chr': [x.decode() for x in a['chr'][:3]], 'pos': a['pos'].tolist(), 'pct': a['pct'].tolist(), 'c': a['c'].tolist(), 't': a['t'].tolist(),
      'chunks': list(d.chunks) if d.chunks else None}))`,
            [t.path('ours.h5'), t.path('h5py.h5')],
          );
          const r = JSON.parse(out);
          assert.equal(r.equal, true, r.dtype);
          assert.equal(r.sametype, true, "HDF5 compound type differs from h5py's");
          assert.deepEqual(r.pads, [1, 1]);
          assert.deepEqual(r.shape, [f.length]);
          assert.deepEqual(r.chr, ['chr0', 'chromosome', 'chr2']);
          assert.deepEqual(r.pos, Array.from(f.col('pos')));
          assert.deepEqual(r.pct, Array.from(f.col('pct')));
          assert.deepEqual(r.c, Array.from(f.col('c')));
          assert.deepEqual(r.t, Array.from(f.col('t')));
          assert.deepEqual(r.chunks, w.chunks);
          const back = await readHDF5(t.path('ours.h5'), 'data', { heap });
          assert.deepEqual(back.schema, f.schema);
          assert.deepEqual([...back.rows()], [...f.rows()]);
          back.close();
          f.close();
        });
      } finally {
        t.cleanup();
      }
    },
  );

test(
  'every dtype round-trips, in both layouts, with nulls and gzip; h5py sees the columns layout',
  { skip: h5py },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const f = SharedFrame.from(
          {
            i1: new Int8Array([-128, 127, 0]),
            u2: new Uint16Array([0, 65535, 7]),
            i8: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]),
            u8: new BigUint64Array([0n, 2n ** 64n - 1n, 1n]),
            f8: [1.5, null, -0],
            b: [true, false, null],
            d: [new Date(0), null, new Date(86400000)],
            s: ['naïve', '日本語', ''],
            k: ['x', 'y', 'x'],
            raw: ['ab', '', 'abcd'],
          },
          { schema: { k: 'category', raw: 'S4' }, heap },
        );
        const rows = (fr) =>
          [...fr.rows()].map((r) => ({
            ...r,
            d: r.d === null ? null : r.d.getTime(),
            f8: r.f8 === null || Number.isNaN(r.f8) ? null : r.f8,
          }));
        const ways = [
          ['compound', { compression: 6, chunkRows: 2 }],
          ['columns', { compression: 6, chunkRows: 2 }],
          ['compound', {}], // shmframe's own writer
        ];
        for (const [layout, options] of ways) {
          const p = t.path(`${layout}.h5`);
          await writeHDF5(p, { g1: f, 'nested/g2': f }, { layout, ...options });
          for (const name of ['g1', '/nested/g2']) {
            const back = await readHDF5(p, name, { heap });
            assert.deepEqual(back.schema, f.schema, `${layout} ${name}`);
            // HDF5 has no nulls: a null bool reads back false; NaT reads back as a null datetime.
            const want = rows(f).map((r) => ({ ...r, b: r.b ?? false }));
            assert.deepEqual(rows(back), want, `${layout} ${name}`);
            back.close();
          }
        }
        const out = runPython(
          `import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    g = f['g1']
    print(json.dumps({'keys': list(g.keys()), 'k': g['k'][:].tolist(), 'cats': [str(x) for x in g['k'].attrs['categories']],
      's': [x.decode('utf-8') for x in g['s'][:]], 'filters': g['s'].compression, 'i8': [str(x) for x in g['i8'][:]]}))`,
          [t.path('columns.h5')],
        );
        assert.deepEqual(JSON.parse(out), {
          keys: ['i1', 'u2', 'i8', 'u8', 'f8', 'b', 'd', 's', 'k', 'raw'],
          k: [0, 1, 0],
          cats: ['x', 'y'],
          s: ['naïve', '日本語', ''],
          filters: 'gzip',
          i8: ['-9223372036854775808', '9223372036854775807', '0'],
        });
        f.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test(
  'SharedArrays as N-d datasets; h5py-written files (bool enums, big-endian, strings) read back',
  { skip: h5py },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const a = SharedArray.from(
          Float64Array.from({ length: 24 }, (_, i) => i / 3),
          { shape: [2, 3, 4], heap },
        );
        const s = SharedArray.from(['ab', 'c'], { dtype: 'S3', heap });
        const v = a.rows(1, 2);
        const empty = SharedArray.zeros([0, 5], 'i2', { heap });
        await writeHDF5(t.path('a.h5'), { a, s, v, empty });
        const out = runPython(
          `import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    print(json.dumps([f['a'].shape, f['a'][1, 2, 3], f['s'][:].tolist() == [b'ab', b'c'], f['v'].shape, f['empty'].shape]))
with h5py.File(sys.argv[2], 'w') as g:
    import numpy as np
    g['b'] = np.array([True, False, True]); g['be'] = np.arange(6, dtype='>f8').reshape(2, 3)
    g['rec'] = np.array([(1, b'x', True)], dtype=[('a', '<i8'), ('s', 'S3'), ('ok', '?')])`,
          [t.path('a.h5'), t.path('py.h5')],
        );
        assert.deepEqual(JSON.parse(out), [[2, 3, 4], 23 / 3, true, [1, 3, 4], [0, 5]]);
        const back = await readHDF5(t.path('a.h5'), 'a', { heap });
        assert.deepEqual(back.shape, [2, 3, 4]);
        assert.deepEqual(Array.from(back.data), Array.from(a.data));
        const b = await readHDF5(t.path('py.h5'), 'b', { heap });
        assert.equal(b.dtype, '|b1');
        assert.deepEqual(b.toArray(), [true, false, true]);
        const be = await readHDF5(t.path('py.h5'), 'be', { heap });
        assert.deepEqual(be.toArray(), [
          [0, 1, 2],
          [3, 4, 5],
        ]);
        const rec = await readHDF5(t.path('py.h5'), 'rec', { heap });
        assert.deepEqual(rec.schema, [
          ['a', '<i8'],
          ['s', '|S3'],
          ['ok', '|b1'],
        ]);
        assert.deepEqual(rec.row(0), { a: 1n, s: 'x', ok: true });
        for (const x of [a, s, v, empty, back, b, be, rec]) x.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test('bad input is refused before anything is written or allocated', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const a = SharedArray.zeros([3], 'f8', { heap });
      await assert.rejects(writeHDF5(t.path('x.h5'), {}), { code: 'SHMFRAME_ERR_INVALID_ARG' });
      await assert.rejects(writeHDF5(t.path('x.h5'), { d: [1, 2] }), {
        message: /SharedFrame or a SharedArray/,
      });
      await assert.rejects(writeHDF5(t.path('x.h5'), { d: a }, { layout: 'rows' }), {
        message: /layout/,
      });
      await assert.rejects(writeHDF5(t.path('x.h5'), { d: a }, { compression: 12 }), {
        message: /gzip level/,
      });
      await assert.rejects(writeHDF5(t.path('x.h5'), { 'a//b': a }), { message: /dataset names/ });
      await assert.rejects(writeHDF5(t.path('no/dir/x.h5'), { d: a }), { code: 'SHMFRAME_ERR_IO' });
      assert.equal(existsSync(t.path('x.h5')), false);
      await assert.rejects(readHDF5(t.path('missing.h5'), 'd', { heap }), {
        code: 'SHMFRAME_ERR_IO',
        message: /missing\.h5.*no such file/,
      });
      writeFileSync(t.path('text.h5'), 'not hdf5 at all');
      await assert.rejects(readHDF5(t.path('text.h5'), 'd', { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
        message: /not an HDF5 file/,
      });
      await writeHDF5(t.path('ok.h5'), { d: a });
      await assert.rejects(readHDF5(t.path('ok.h5'), 'nope', { heap }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
        message: /no dataset or group "\/nope".*\["d"\]/,
      });
      assert.deepEqual(
        readdirSync(t.dir).filter((n) => n.endsWith('.tmp')),
        [],
      );
      a.close();
    });
  } finally {
    t.cleanup();
  }
});

test('without h5wasm installed, uncompressed writeHDF5 still works; compressed writes and readHDF5 reject with SHMFRAME_ERR_DEPENDENCY saying what to install', async () => {
  const { spawnSync } = await import('node:child_process');
  // A resolve hook hides h5wasm from a child process, as if it were not installed.
  const hook = `export async function resolve(s, c, next) {
    if (s === 'h5wasm' || s.startsWith('h5wasm/')) throw Object.assign(new Error("Cannot find package 'h5wasm'"), { code: 'ERR_MODULE_NOT_FOUND' });
    return next(s, c);
  }`;
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
  const script = `
    import { SharedArray, writeHDF5, readHDF5, MissingDependencyError } from 'shmframe';
    import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const dir = mkdtempSync(join(tmpdir(), 'shmframe-h5-'));
    const existing = join(dir, 'existing.h5');
    // readHDF5 checks the path and the HDF5 signature before it loads h5wasm.
    writeFileSync(existing, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(504)]));
    const a = SharedArray.zeros([2], 'f8');
    // shmframe's own writer needs no h5wasm: the file is written.
    await writeHDF5(join(dir, 'plain.h5'), { a });
    console.log('plain', readFileSync(join(dir, 'plain.h5')).subarray(1, 4).toString('latin1'));
    for (const call of [() => writeHDF5(join(dir, 'new.h5'), { a }, { compression: 'gzip' }), () => readHDF5(existing, 'a')]) {
      try { await call(); console.log('no error'); }
      catch (e) { console.log(e.code, e instanceof MissingDependencyError, e.details.package, /npm install h5wasm/.test(e.message)); }
    }
    a.close();
    rmSync(dir, { recursive: true, force: true });
  `;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      '--input-type=module',
      '-e',
      script,
    ],
    { encoding: 'utf8', env: { ...process.env, SHMFRAME_HEAP_SIZE: '64M' } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'plain HDF',
    'SHMFRAME_ERR_DEPENDENCY true h5wasm true',
    'SHMFRAME_ERR_DEPENDENCY true h5wasm true',
  ]);
});
