// Values compared exactly across languages, for every dtype both sides support: a frame and
// arrays made in Node are read by a real Python process (numpy views, pandas, cells), and the
// same values written back by Python (into new objects) are read by Node, byte for byte and cell
// for cell (NaN, -0, infinities, subnormals, int64/uint64 extremes, datetime64 in every unit,
// |S<n>, utf8 with non-ASCII, categories, nulls in every column).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedFrame } from 'shmframe';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy', 'pandas']);

const schema = {
  i1: 'i1',
  i2: 'i2',
  i4: 'i4',
  i8: 'i8',
  u1: 'u1',
  u2: 'u2',
  u4: 'u4',
  u8: 'u8',
  f4: 'f4',
  f8: 'f8',
  b: 'bool',
  d: 'M8[D]',
  s: 'M8[s]',
  ms: 'M8[ms]',
  us: 'M8[us]',
  ns: 'M8[ns]',
  code: 'S6',
  text: 'utf8',
  tag: 'category',
};

/** Five rows; row 3 is null in every column. */
function fill(f) {
  f.append({
    i1: [-128, 127, 0, null, -1],
    i2: [-32768, 32767, 0, null, 7],
    i4: [-2147483648, 2147483647, 0, null, 42],
    i8: [-(2n ** 63n), 2n ** 63n - 1n, 0n, null, 123456789012345678n],
    u1: [0, 255, 1, null, 128],
    u2: [0, 65535, 1, null, 300],
    u4: [0, 4294967295, 1, null, 70000],
    u8: [0n, 2n ** 64n - 1n, 1n, null, 2n ** 53n + 1n],
    f4: [1.5, -0, Infinity, null, NaN],
    f8: [Math.PI, -0, -Infinity, null, NaN],
    b: [true, false, true, null, false],
    d: [new Date(0), new Date('1969-12-31'), new Date('2024-02-29'), null, new Date('9999-12-31')],
    s: [
      new Date(0),
      new Date(-1000),
      new Date('2024-02-29T12:34:56Z'),
      null,
      new Date(2 ** 40 * 1000),
    ],
    ms: [new Date(0), new Date(-1), new Date('2024-02-29T12:34:56.789Z'), null, new Date(8.64e15)],
    us: [null, null, null, null, null],
    ns: [null, null, null, null, null],
    code: ['ab', '', 'héllo', null, 'xyz\u00e9'],
    text: ['a', '', 'ünïcödé ✓ 日本', null, '😀 emoji'],
    tag: ['red', 'blue', 'red', null, 'grün'],
  });
  // Sub-millisecond datetimes: rows marked valid with set(), then counts written straight into
  // the BigInt64Array views.
  const counts = {
    us: [1n, -1n, 1709210096789123n, 0n, 253402300799999999n],
    ns: [1n, -1n, 1709210096789123456n, 0n, 2n ** 62n],
  };
  for (const [name, values] of Object.entries(counts)) {
    for (const r of [0, 1, 2, 4]) f.set(r, name, new Date(0));
    const view = f.col(name);
    values.forEach((v, i) => {
      if (i !== 3) view[i] = v; // row 3 stays null (NaT)
    });
  }
}

/** Raw bytes of a fixed-width column's rows (or the int32 codes of a category column). */
function columnBytes(f, name) {
  const c = f.col(name);
  const view = ArrayBuffer.isView(c) ? c : name === 'tag' ? c.codes : c.data;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

const kReadFrame = `
import base64, json, sys, math
import numpy as np, pandas as pd, shmframe
f = shmframe.attach(sys.argv[1])
out = {'length': f.length, 'schema': f.schema, 'bytes': {}, 'valid': {}, 'cells': {}, 'dtypes': {}, 'views': {}}
df = f.to_pandas()
for name, dtype in f.schema:
    out['valid'][name] = f.valid(name).tolist()
    out['dtypes'][name] = str(df[name].dtype)
    if dtype == 'utf8':
        out['cells'][name] = f.strings(name)
        continue
    view = f.col(name)
    out['bytes'][name] = base64.b64encode(view.tobytes()).decode()
    arr = df[name].array
    for a in ('_data', '_ndarray'):
        if hasattr(arr, a): arr = getattr(arr, a); break
    out['views'][name] = bool(np.shares_memory(np.asarray(arr), view)) if dtype != 'category' else None
    if dtype == 'category':
        out['cells'][name] = f.strings(name)
        out['categories'] = f.categories(name)
    else:
        cells = []
        for r in range(f.length):
            v = f.get(r, name)
            if v is None: cells.append(None)
            elif isinstance(v, float): cells.append('nan' if math.isnan(v) else v.hex())
            elif isinstance(v, bytes): cells.append(v.decode('utf-8'))
            elif isinstance(v, np.datetime64): cells.append(str(v.astype('<i8').item()))
            elif isinstance(v, bool): cells.append(v)
            else: cells.append(str(v))
        out['cells'][name] = cells
out['isna'] = {n: df[n].isna().tolist() for n, _ in f.schema}
print(json.dumps(out))
# Write the same values back, through Python's own append, into a new frame.
cols = {}
for name, dtype in f.schema:
    if dtype in ('utf8', 'category'):
        cols[name] = f.strings(name)
    else:
        vals = np.empty(f.length, dtype=object)
        vals[:] = list(f.col(name))
        vals[~f.valid(name)] = None
        cols[name] = vals
g = shmframe.SharedFrame.create(f.heap, f.schema, capacity=f.capacity)
g.append(cols)
print(str(g.handle))
g.close()
f.close()
`;

function hexOf(x) {
  if (Number.isNaN(x)) return 'nan';
  return x;
}

test(
  'a frame with every dtype made in Node reads the same in Python, and Python writes the same values back',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const f = SharedFrame.create(schema, { capacity: 8, heap });
        fill(f);
        const py = spawnPython(kReadFrame, [String(f.handle)]);
        const json = JSON.parse(await py.line(/^\{/));
        const text = await py.line(/^shmframe:/);
        await py.ok();
        assert.equal(json.length, 5);
        assert.deepEqual(
          json.schema,
          f.schema.map(([n, d]) => [n, d]),
        );
        for (const [name] of f.schema) {
          // Validity: row 3 null everywhere.
          assert.deepEqual(
            json.valid[name],
            [0, 1, 2, 3, 4].map((r) => !f.isNull(r, name)),
            name,
          );
          assert.deepEqual(json.isna[name].slice(0, 3), [false, false, false], `${name} isna`);
          assert.equal(json.isna[name][3], true, `${name} row 3 isna`);
          if (name !== 'text')
            assert.equal(json.bytes[name], columnBytes(f, name), `${name}: the same bytes`);
        }
        // Cells as Python reads them, against Node's cells.
        for (const name of ['i1', 'i2', 'i4', 'u1', 'u2', 'u4']) {
          assert.deepEqual(
            json.cells[name],
            [0, 1, 2, 3, 4].map((r) => (f.isNull(r, name) ? null : String(f.get(r, name)))),
            name,
          );
        }
        for (const name of ['i8', 'u8']) {
          assert.deepEqual(
            json.cells[name],
            [0, 1, 2, 3, 4].map((r) => (f.isNull(r, name) ? null : String(f.get(r, name)))),
            name,
          );
        }
        assert.deepEqual(json.cells.b, [true, false, true, null, false]);
        assert.equal(json.cells.f8[4], 'nan');
        assert.equal(json.cells.f8[1], '-0x0.0p+0');
        assert.equal(json.cells.f8[2], '-inf');
        assert.equal(json.cells.f4[2], 'inf');
        assert.equal(json.cells.f8[0], '0x1.921fb54442d18p+1');
        for (const name of ['d', 's', 'ms', 'us', 'ns']) {
          const counts = f.col(name);
          assert.deepEqual(
            json.cells[name],
            [0, 1, 2, 3, 4].map((r) => (r === 3 ? null : String(counts[r]))),
            name,
          );
        }
        assert.deepEqual(json.cells.code, ['ab', '', 'héllo', null, 'xyz\u00e9']);
        assert.deepEqual(json.cells.text, ['a', '', 'ünïcödé ✓ 日本', null, '😀 emoji']);
        assert.deepEqual(json.cells.tag, ['red', 'blue', 'red', null, 'grün']);
        assert.deepEqual(json.categories, ['red', 'blue', 'grün']);
        // pandas dtypes: views where pandas keeps them.
        assert.equal(json.dtypes.f8, 'float64');
        assert.equal(json.dtypes.i4, 'Int32');
        assert.equal(json.dtypes.u8, 'UInt64');
        assert.equal(json.dtypes.b, 'boolean');
        assert.equal(json.dtypes.ns, 'datetime64[ns]');
        assert.equal(json.dtypes.tag, 'category');
        assert.equal(json.dtypes.text, 'object');
        for (const name of ['i1', 'i4', 'i8', 'u8', 'f4', 'f8', 'b', 'ns'])
          assert.equal(json.views[name], true, `${name} is a view`);
        assert.equal(json.views.ms, false, 'datetime64[ms]: pandas 1.5 converts to ns');

        // Python's copy, read in Node: every cell and every byte the same.
        const g = SharedFrame.attach(text);
        assert.deepEqual(g.schema, f.schema);
        assert.equal(g.length, f.length);
        for (const [name] of f.schema) {
          for (let r = 0; r < f.length; r++) {
            const a = f.get(r, name);
            const b = g.get(r, name);
            if (a instanceof Date) assert.equal(b?.getTime(), a.getTime(), `${name}[${r}]`);
            else
              assert.ok(
                Object.is(a, b) || (typeof a === 'number' && Object.is(hexOf(a), hexOf(b))),
                `${name}[${r}]: ${String(a)} vs ${String(b)}`,
              );
          }
          if (name !== 'text')
            assert.equal(columnBytes(g, name), columnBytes(f, name), `${name} bytes`);
        }
        g.close();
        f.close();
      },
      { size: '64M', name: uniqueName('values') },
    );
  },
);

const kArrays = `
import base64, json, sys
import numpy as np, shmframe
out = []
for text in sys.argv[1:]:
    a = shmframe.attach(text)
    v = a.numpy()
    out.append({'dtype': v.dtype.str, 'shape': list(v.shape), 'strides': list(v.strides),
                'bytes': base64.b64encode(np.ascontiguousarray(v).tobytes()).decode()})
    a.close()
print(json.dumps(out))
heap = shmframe.attach(sys.argv[1]).heap
made = []
for dt, values in [('<i8', [-(2**63), 2**63 - 1]), ('<u8', [0, 2**64 - 1]), ('|b1', [True, False]),
                   ('<f4', [float('nan'), -0.0]), ('<M8[us]', [1, -1]), ('|S3', [b'ab', b'xyz']),
                   ('<i2', [-32768, 32767])]:
    arr = np.array(values, dtype=dt) if dt[1] != 'M' else np.array(values, dtype='<i8').view(dt)
    a = shmframe.SharedArray.from_numpy(heap, arr.reshape(2, 1))
    made.append(str(a.handle))
    a.close()
print(json.dumps(made))
`;

test(
  'arrays and array views of every dtype cross both ways with their dtype, shape and strides',
  { skip },
  async () => {
    await withProcessHeap(async (heap) => {
      const arrays = [
        SharedArray.from([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: 'f8', heap }),
        SharedArray.from([-1, 0, 1, 127, -128, 5], { shape: [3, 2], dtype: 'i1', heap }),
        SharedArray.from([1n, -(2n ** 63n), 2n ** 63n - 1n, 0n], { dtype: 'i8', heap }),
        SharedArray.from([0n, 2n ** 64n - 1n], { dtype: 'u8', heap }),
        SharedArray.from([true, false, true], { dtype: 'bool', heap }),
        SharedArray.from([new Date(0), new Date(-86400000)], { dtype: 'M8[D]', heap }),
        SharedArray.from(['ab', 'xyz', ''], { dtype: 'S3', heap }),
        SharedArray.from([NaN, -0, Infinity, 1e-310], { dtype: 'f8', heap }),
      ];
      const big = SharedArray.from(
        Float64Array.from({ length: 24 }, (_, i) => i),
        { shape: [4, 6], heap },
      );
      const reshaped = big.reshape([6, 4]);
      const views = [big.rows(1, 3), reshaped.rows(2, 5)];
      const frame = SharedFrame.from({ a: [1, 2, 3], b: [4, 5, 6], c: [7, 8, 9] }, { heap });
      const values = frame.values();
      const all = [...arrays, ...views, values];
      const py = spawnPython(
        kArrays,
        all.map((a) => String(a.handle)),
      );
      const seen = JSON.parse(await py.line(/^\[\{/));
      const made = JSON.parse(await py.line(/^\["shmframe:/));
      await py.ok();
      all.forEach((a, k) => {
        const s = seen[k];
        assert.equal(s.dtype, a.dtype, `array ${k} dtype`);
        assert.deepEqual(s.shape, a.shape, `array ${k} shape`);
        const itemsize = a.dtype.startsWith('|S')
          ? Number(a.dtype.slice(2))
          : Number(a.dtype.match(/\d+/)[0]);
        assert.deepEqual(
          s.strides,
          a.strides.map((x) => x * itemsize),
          `array ${k} strides (numpy's are in bytes)`,
        );
        const copy = a.copy();
        const d = copy.data;
        assert.equal(
          s.bytes,
          Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64'),
          `array ${k} bytes`,
        );
        copy.close();
      });
      assert.equal(seen[10].strides[0], 8, 'values(): column-major');
      const expected = [
        ['<i8', [[-(2n ** 63n)], [2n ** 63n - 1n]]],
        ['<u8', [[0n], [2n ** 64n - 1n]]],
        ['|b1', [[true], [false]]],
        ['<f4', [[NaN], [-0]]],
        ['<M8[us]', [[1n], [-1n]]],
        ['|S3', [['ab'], ['xyz']]],
        ['<i2', [[-32768], [32767]]],
      ];
      made.forEach((text, k) => {
        const a = SharedArray.attach(text);
        assert.equal(a.dtype, expected[k][0]);
        assert.deepEqual(a.shape, [2, 1]);
        if (a.dtype === '<M8[us]') assert.deepEqual([...a.data], [1n, -1n]);
        else if (a.dtype === '|b1') assert.deepEqual([a.get(0, 0), a.get(1, 0)], [true, false]);
        else if (a.dtype === '<f4') {
          assert.ok(Number.isNaN(a.get(0, 0)));
          assert.ok(Object.is(a.get(1, 0), -0));
        } else assert.deepEqual(a.toArray(), expected[k][1]);
        a.close();
      });
      for (const a of [...all, big, reshaped, frame]) a.close();
    });
  },
);
