import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { SharedArray, SharedFrame, readNpz, writeNpz, readNpy, writeNpy } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { needPython, runPython } from '../../helpers/python.js';
import { tempDir } from '../../helpers/io.js';

const numpy = needPython(['numpy']);

test(
  'frames as structured .npy: np.load sees the seed dtype and every value; text columns as <U',
  { skip: numpy },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const f = SharedFrame.from(
          {
            chr: ['chr1', 'chromosome'],
            pos: new Int32Array([1, 2]),
            pct: new Float32Array([0.5, 0.1]),
            name: ['naïve', '日本'],
            k: ['a', 'bb'],
            d: [new Date(5), null],
            x: [1, null],
          },
          { schema: { chr: 'S10', k: 'category' }, heap },
        );
        await writeNpy(t.path('f.npy'), f);
        const out = runPython(
          `import numpy as np, sys, json
a = np.load(sys.argv[1])
print(json.dumps([str(a.dtype.descr), a['chr'].tolist() == [b'chr1', b'chromosome'], a['pct'].tolist(), a['name'].tolist(), a['k'].tolist(),
  a['d'].astype('int64').tolist(), [None if x != x else x for x in a['x'].tolist()]]))`,
          [t.path('f.npy')],
        );
        assert.deepEqual(JSON.parse(out), [
          "[('chr', '|S10'), ('pos', '<i4'), ('pct', '<f4'), ('name', '<U5'), ('k', '<U2'), ('d', '<M8[ms]'), ('x', '<f8')]",
          true,
          [0.5, Math.fround(0.1)],
          ['naïve', '日本'],
          ['a', 'bb'],
          [5, -9223372036854775808],
          [1, null],
        ]);
        const back = await readNpy(t.path('f.npy'), { heap });
        assert.deepEqual(back.schema, [
          ['chr', '|S10'],
          ['pos', '<i4'],
          ['pct', '<f4'],
          ['name', 'utf8'],
          ['k', 'utf8'],
          ['d', '<M8[ms]'],
          ['x', '<f8'],
        ]);
        assert.equal(back.get(1, 'name'), '日本');
        assert.equal(back.isNull(1, 'd'), true);
        back.close();
        f.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test(
  'writeNpz (stored and deflated) for np.load; readNpz of np.savez and np.savez_compressed',
  { skip: numpy },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const f = SharedFrame.from({ s: ['x', 'yz'], v: [1.5, 2.5] }, { heap });
        const a = SharedArray.from(
          Float64Array.from({ length: 6 }, (_, i) => i),
          { shape: [2, 3], heap },
        );
        for (const compress of [false, true]) {
          const p = t.path(`o${compress}.npz`);
          await writeNpz(p, { frame: f, arr: a, naïve: new Int16Array([1, -2]) }, { compress });
          const out = runPython(
            `import numpy as np, zipfile, sys, json
z = np.load(sys.argv[1]); zf = zipfile.ZipFile(sys.argv[1])
print(json.dumps([sorted(z.files), z['frame'].tolist(), z['arr'].tolist(), z['naïve'].tolist(), zf.testzip(), sorted({i.compress_type for i in zf.infolist()})]))`,
            [p],
          );
          assert.deepEqual(JSON.parse(out), [
            ['arr', 'frame', 'naïve'],
            [
              ['x', 1.5],
              ['yz', 2.5],
            ],
            [
              [0, 1, 2],
              [3, 4, 5],
            ],
            [1, -2],
            null,
            [compress ? 8 : 0],
          ]);
          const back = await readNpz(p, { heap });
          assert.deepEqual(Object.keys(back).sort(), ['arr', 'frame', 'naïve']);
          assert.deepEqual(back.arr.toArray(), [
            [0, 1, 2],
            [3, 4, 5],
          ]);
          assert.deepEqual(
            [...back.frame.rows()],
            [
              { s: 'x', v: 1.5 },
              { s: 'yz', v: 2.5 },
            ],
          );
          for (const v of Object.values(back)) v.close();
        }
        runPython(
          `import numpy as np, sys
np.savez_compressed(sys.argv[1], a=np.arange(100000, dtype='>f8'), r=np.array([(1, b'x', 'é')], dtype=[('i', '<i4'), ('s', 'S2'), ('u', '<U3')]))
np.savez(sys.argv[2], m=np.arange(12, dtype='<i2').reshape(3, 4))`,
          [t.path('c.npz'), t.path('s.npz')],
        );
        const c = await readNpz(t.path('c.npz'), { heap });
        assert.equal(c.a.size, 100000);
        assert.equal(c.a.get(99999), 99999);
        assert.deepEqual(c.r.row(0), { i: 1, s: 'x', u: 'é' });
        const s = await readNpz(t.path('s.npz'), { heap });
        assert.deepEqual(s.m.shape, [3, 4]);
        assert.equal(s.m.get(2, 3), 11);
        for (const v of [...Object.values(c), ...Object.values(s)]) v.close();
        f.close();
        a.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test('readNpz refuses what is not a zip and leaves nothing behind on error', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      writeFileSync(t.path('x.npz'), 'not a zip file at all, no end record');
      await assert.rejects(readNpz(t.path('x.npz'), { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
        message: /not a zip/,
      });
      await assert.rejects(readNpz(t.path('none.npz'), { heap }), { code: 'SHMFRAME_ERR_IO' });
      await assert.rejects(writeNpz(t.path('y.npz'), {}), { code: 'SHMFRAME_ERR_INVALID_ARG' });
    });
  } finally {
    t.cleanup();
  }
});
