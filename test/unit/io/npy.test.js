import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { SharedArray, readNpy, writeNpy } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { needPython, runPython } from '../../helpers/python.js';
import { tempDir } from '../../helpers/io.js';
import { encodeHeader, decodeHeader } from '../../../dist/io/npy/header.js';

const numpy = needPython(['numpy']);

test(
  'headers are byte-identical to numpy 1.x np.save (checked against the bytes numpy writes)',
  { skip: numpy },
  () => {
    const out = runPython(`
import numpy as np, io, json, sys
res = []
for dt, shape in [('<f8', (2, 3)), ('|b1', (5,)), ('<M8[ms]', (5,)), ('<i8', ()), ('|u1', (0, 4)), ('|S10', (7,)),
                  ([('chr','S10'),('pos','<i4'),('pct','<f4'),('c','<i4'),('t','<i4')], (3,))]:
    b = io.BytesIO(); np.save(b, np.zeros(shape, dtype=dt)); v = b.getvalue()
    d = np.dtype(dt)
    res.append([d.descr if d.names else d.str, list(shape), v[:len(v) - d.itemsize * int(np.prod(shape))].hex()])
print(json.dumps(res))`);
    for (const [descr, shape, hex] of JSON.parse(out)) {
      const d = typeof descr === 'string' ? descr : descr.map(([name, t]) => ({ name, descr: t }));
      assert.equal(Buffer.from(encodeHeader(d, shape)).toString('hex'), hex, JSON.stringify(descr));
      const back = decodeHeader(Buffer.from(hex, 'hex'), 'x');
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(back.descr, d);
    }
  },
);

test(
  'writeNpy -> np.load and np.save -> readNpy for every plain dtype',
  { skip: numpy },
  async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const cases = [
          ['f8', [2, 3], [1.5, -2, 3e300, NaN, -0, Infinity]],
          ['f4', [4], [0.5, -1.25, 3.4e38, 1e-45]],
          ['i1', [3], [-128, 0, 127]],
          ['u2', [3], [0, 1, 65535]],
          ['i4', [2, 2], [-2147483648, 0, 1, 2147483647]],
          ['u4', [2], [0, 4294967295]],
          ['i8', [2], [-(2n ** 63n), 2n ** 63n - 1n]],
          ['u8', [1], [2n ** 64n - 1n]],
          ['bool', [3], [true, false, true]],
          ['M8[ms]', [2], [1577836800001n, -(2n ** 63n)]],
          ['S4', [3], ['ab', 'abcd', '']],
          ['f8', [], [7]],
          ['i4', [0, 3], []],
        ];
        for (const [dtype, shape, values] of cases) {
          const a = SharedArray.empty(shape, dtype, { heap });
          values.forEach((v, i) => a.data && a.set(shape.length === 0 ? [] : unravel(i, shape), v));
          const p = t.path(`${dtype.replace(/\W/g, '_')}-${shape.join('x')}.npy`);
          await writeNpy(p, a);
          const py = JSON.parse(
            runPython(
              `import numpy as np, sys, json
a = np.load(sys.argv[1])
def conv(x):
    if a.dtype.kind == 'S': return x.decode('latin1')
    if a.dtype.kind == 'M': return str(x.astype('int64'))
    if a.dtype.kind in 'iu' and a.dtype.itemsize == 8: return str(x)
    if a.dtype.kind == 'f': return repr(float(x))
    return x.item()
print(json.dumps([a.dtype.str, list(a.shape), [conv(x) for x in a.reshape(-1)]]))`,
              [p],
            ),
          );
          assert.equal(py[0], a.dtype, dtype);
          assert.deepEqual(py[1], shape);
          const flat = shape.length === 0 ? [a.get()] : a.toArray().flat(shape.length);
          assert.deepEqual(
            py[2],
            flat.map((x) =>
              typeof x === 'bigint'
                ? String(x)
                : typeof x === 'number' && a.dtype[1] === 'f'
                  ? pyFloat(x)
                  : x,
            ),
            dtype,
          );
          const back = await readNpy(p, { heap });
          assert.equal(back.dtype, a.dtype);
          assert.deepEqual(back.shape, a.shape);
          assert.deepEqual(
            Buffer.from(back.data.buffer, back.data.byteOffset, back.byteLength),
            Buffer.from(a.data.buffer, a.data.byteOffset, a.byteLength),
          );
          // Byte-identical to np.save of the same array.
          const q = p + '.np.npy';
          runPython('import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1]))', [p, q]);
          assert.deepEqual(readFileSync(p), readFileSync(q), `${dtype} file bytes`);
          back.close();
          a.close();
        }
      });
      assert.deepEqual(
        readdirSync(t.dir).filter((f) => f.includes('.tmp')),
        [],
      );
    } finally {
      t.cleanup();
    }
  },
);

test(
  'readNpy: big-endian data is swapped and Fortran order becomes C order',
  { skip: numpy },
  async () => {
    const t = tempDir();
    try {
      runPython(
        `import numpy as np, sys
np.save(sys.argv[1], np.arange(6, dtype='>i4').reshape(2, 3))
np.save(sys.argv[2], np.asfortranarray(np.arange(24, dtype='<f8').reshape(2, 3, 4)))
np.save(sys.argv[3], np.array([1.5, -2.25], dtype='>f8'))`,
        [t.path('be.npy'), t.path('f.npy'), t.path('be8.npy')],
      );
      await withHeap(async (heap) => {
        const be = await readNpy(t.path('be.npy'), { heap });
        assert.equal(be.dtype, '<i4');
        assert.deepEqual(be.toArray(), [
          [0, 1, 2],
          [3, 4, 5],
        ]);
        const f = await readNpy(t.path('f.npy'), { heap });
        assert.deepEqual(f.shape, [2, 3, 4]);
        assert.deepEqual(
          Array.from(f.data),
          Array.from({ length: 24 }, (_, i) => i),
        );
        const be8 = await readNpy(t.path('be8.npy'), { heap });
        assert.deepEqual(Array.from(be8.data), [1.5, -2.25]);
        for (const a of [be, f, be8]) a.close();
      });
    } finally {
      t.cleanup();
    }
  },
);

test('a strided view and a TypedArray are written in C order', { skip: numpy }, async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const a = SharedArray.from(
        Float64Array.from({ length: 12 }, (_, i) => i),
        { shape: [4, 3], heap },
      );
      const v = a.rows(1, 3);
      await writeNpy(t.path('v.npy'), v);
      await writeNpy(t.path('t.npy'), new Int16Array([1, -2, 3]));
      const out = runPython(
        'import numpy as np, sys; print(np.load(sys.argv[1]).tolist(), np.load(sys.argv[2]).tolist(), np.load(sys.argv[2]).dtype)',
        [t.path('v.npy'), t.path('t.npy')],
      );
      assert.equal(out.trim(), '[[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]] [1, -2, 3] int16');
      v.close();
      a.close();
    });
  } finally {
    t.cleanup();
  }
});

test('bad input: missing file, not .npy, truncated data, object dtype', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      await assert.rejects(readNpy(t.path('nope.npy'), { heap }), {
        code: 'SHMFRAME_ERR_IO',
        message: /nope\.npy.*no such file/,
      });
      writeFileSync(t.path('text.npy'), 'hello');
      await assert.rejects(readNpy(t.path('text.npy'), { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
        message: /not a \.npy file/,
      });
      const h = encodeHeader('<f8', [10]);
      writeFileSync(t.path('short.npy'), Buffer.concat([h, Buffer.alloc(16)]));
      await assert.rejects(readNpy(t.path('short.npy'), { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
        message: /truncated.*needs 80 data bytes, the file has 16/,
      });
      writeFileSync(t.path('obj.npy'), Buffer.concat([encodeHeader('|O', [1]), Buffer.alloc(8)]));
      await assert.rejects(readNpy(t.path('obj.npy'), { heap }), {
        code: 'SHMFRAME_ERR_DTYPE',
        message: /Python objects/,
      });
      await assert.rejects(writeNpy(t.path('x.npy'), [1, 2]), { code: 'SHMFRAME_ERR_INVALID_ARG' });
      await assert.rejects(writeNpy(t.path('no/such/dir/x.npy'), new Float64Array(1)), {
        code: 'SHMFRAME_ERR_IO',
      });
      assert.equal(existsSync(t.path('x.npy')), false);
    });
  } finally {
    t.cleanup();
  }
});

function unravel(i, shape) {
  const idx = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    idx.unshift(i % shape[k]);
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

function pyFloat(x) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /[.e]/.test(s) ? s.replace(/e\+?(-?)(\d)$/, 'e$10$2').replace(/e\+/, 'e+') : `${s}.0`;
}
