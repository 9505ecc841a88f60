import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as A from 'apache-arrow';
import { SharedFrame } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kSchema = {
  b: 'bool',
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
  day: 'M8[D]',
  sec: 'M8[s]',
  ms: 'M8[ms]',
  us: 'M8[us]',
  ns: 'M8[ns]',
  s3: 'S3',
  text: 'utf8',
  cat: 'category',
};
// Columns that are views of the shared memory in the Arrow table (bool and M8[D] are copies).
const kZeroCopy = [
  'i1',
  'i2',
  'i4',
  'i8',
  'u1',
  'u2',
  'u4',
  'u8',
  'f4',
  'f8',
  'sec',
  'ms',
  'us',
  'ns',
  's3',
  'text',
  'cat',
];

function rowFor(i) {
  if (i % 4 === 3) return {}; // every column null
  return {
    b: i % 2 === 0,
    i1: -i,
    i2: 300 * i,
    i4: -70000 * i,
    i8: BigInt(i) * 10n ** 12n,
    u1: i,
    u2: 60000 - i,
    u4: 4e9 - i,
    u8: 2n ** 64n - 1n - BigInt(i),
    f4: i + 0.5,
    f8: i / 3,
    day: new Date(i * 86400000),
    sec: new Date(i * 1000),
    ms: new Date(1e12 + i),
    us: new Date(i),
    ns: new Date(-i),
    s3: 'ab'.slice(0, i % 3),
    text: `t${i}é`,
    cat: ['x', 'y', 'zz'][i % 3],
  };
}

function frameWithEverything(heap, rows = 13) {
  const f = SharedFrame.create(kSchema, { capacity: rows + 3, heap });
  for (let i = 0; i < rows; i++) f.append(rowFor(i));
  return f;
}

const asJs = (v) =>
  typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v instanceof Date ? v.getTime() : v;

function arrowValue(name, v) {
  // Arrow gives FixedSizeBinary values as bytes.
  if (v === null) return null;
  if (name === 's3') return Buffer.from(v).toString().replace(/\0+$/, '');
  return v;
}

test('toArrow: every dtype and nulls, as views of the shared memory', async () => {
  await withHeap(async (heap) => {
    const f = frameWithEverything(heap);
    const t = f.toArrow();
    assert.equal(t.numRows, f.length);
    assert.deepEqual(
      t.schema.fields.map((x) => x.name),
      f.columns,
    );
    assert.deepEqual(
      t.schema.fields.map((x) => String(x.type)),
      [
        'Bool',
        'Int8',
        'Int16',
        'Int32',
        'Int64',
        'Uint8',
        'Uint16',
        'Uint32',
        'Uint64',
        'Float32',
        'Float64',
        'Date32<DAY>',
        'Timestamp<SECOND>',
        'Timestamp<MILLISECOND>',
        'Timestamp<MICROSECOND>',
        'Timestamp<NANOSECOND>',
        'FixedSizeBinary[3]',
        'Utf8',
        'Dictionary<Int32, Utf8>',
      ],
    );
    for (const name of kZeroCopy) {
      const data = t.getChild(name).data[0];
      assert.equal(data.values.buffer, heap.buffer, `${name} values are shared memory`);
      assert.equal(data.nullBitmap.buffer, heap.buffer, `${name} validity is shared memory`);
    }
    assert.equal(t.getChild('text').data[0].valueOffsets.buffer, heap.buffer);
    assert.equal(t.getChild('cat').data[0].dictionary.data[0].values.buffer, heap.buffer);
    for (let i = 0; i < f.length; i++) {
      const want = f.row(i);
      const got = t.get(i).toJSON();
      for (const name of f.columns) {
        // Arrow reads every datetime (Date32 and Timestamp of any unit) as epoch milliseconds.
        const w = want[name] instanceof Date ? want[name].getTime() : want[name];
        assert.deepEqual(asJs(arrowValue(name, got[name])), asJs(w), `row ${i} ${name}`);
      }
    }
    assert.equal(t.getChild('f8').nullCount, 3);
    // A write to the frame is visible through the table: same memory.
    f.set(0, 'f8', 42);
    assert.equal(t.getChild('f8').get(0), 42);
    f.close();
  });
});

test('Arrow round trip: toArrow -> IPC (ESM apache-arrow) -> fromArrow gives the same frame', async () => {
  await withHeap(async (heap) => {
    const f = frameWithEverything(heap);
    const t = f.toArrow();
    // The table comes from the same apache-arrow instance an ES module imports, so its
    // functions (which test `instanceof`) accept it.
    assert.ok(t instanceof A.Table);
    const back = SharedFrame.fromArrow(A.tableFromIPC(A.tableToIPC(t)), { heap });
    const direct = SharedFrame.fromArrow(t, { heap });
    for (const g of [back, direct]) {
      assert.deepEqual(g.schema, f.schema);
      assert.deepEqual([...g.rows()], [...f.rows()]);
      for (let i = 0; i < f.length; i++)
        for (const name of f.columns) assert.equal(g.isNull(i, name), f.isNull(i, name));
      g.close();
    }
    f.close();
  });
});

test('toArrow of views: slices at odd offsets and selected columns', async () => {
  await withHeap(async (heap) => {
    const f = frameWithEverything(heap, 13);
    for (const [a, b] of [
      [3, 11],
      [1, 2],
      [5, 5],
      [0, 13],
    ]) {
      const s = f.slice(a, b);
      const t = s.toArrow();
      assert.equal(t.numRows, b - a);
      const g = SharedFrame.fromArrow(t, { heap });
      assert.deepEqual([...g.rows()], [...s.rows()], `slice ${a}..${b}`);
      g.close();
      s.close();
    }
    const sel = f.select(['cat', 'f8']);
    assert.deepEqual(
      sel.toArrow().schema.fields.map((x) => x.name),
      ['cat', 'f8'],
    );
    sel.close();
    f.close();
  });
});

test('fromArrow: tables built by apache-arrow, several batches, sliced; index from metadata', async () => {
  await withHeap(async (heap) => {
    const dict = new A.Dictionary(new A.Utf8(), new A.Int8()); // one type: one dictionary id
    const t1 = A.tableFromArrays({
      x: new Float64Array([1, 2, 3]),
      n: new Int32Array([4, 5, 6]),
      s: A.vectorFromArray(['a', 'b', 'c'], new A.Utf8()),
      d: A.vectorFromArray(['p', 'q', 'p'], dict),
    });
    const t2 = A.tableFromArrays({
      x: new Float64Array([7]),
      n: new Int32Array([8]),
      s: A.vectorFromArray(['ü'], new A.Utf8()),
      d: A.vectorFromArray(['r'], dict),
    });
    const both = new A.Table(t1.schema, [
      t1.batches[0],
      new A.RecordBatch(t1.schema, t2.batches[0].data),
    ]);
    assert.equal(both.batches.length, 2);
    const f = SharedFrame.fromArrow(both, { heap, capacity: 10 });
    assert.deepEqual(f.schema, [
      ['x', '<f8'],
      ['n', '<i4'],
      ['s', 'utf8'],
      ['d', 'category'],
    ]);
    assert.deepEqual(
      [...f.rows()].map((r) => `${r.x}${r.n}${r.s}${r.d}`),
      ['14ap', '25bq', '36cp', '78ür'],
    );
    assert.equal(f.capacity, 10);
    f.append({ s: 'more', d: 'new label' });
    const sliced = SharedFrame.fromArrow(both.slice(1, 3), { heap });
    assert.deepEqual([...sliced.col('s')], ['b', 'c']);
    sliced.close();
    f.close();
    const indexed = SharedFrame.from({ id: ['k1', 'k2'], v: [1, 2] }, { heap, index: 'id' });
    const again = SharedFrame.fromArrow(indexed.toArrow(), { heap });
    assert.equal(again.index, 'id');
    assert.equal(again.loc('k2').v, 2);
    again.close();
    indexed.close();
  });
});

test('fromArrow refuses what it cannot hold, naming the column', async () => {
  await withHeap(async (heap) => {
    const list = A.tableFromArrays({ l: A.vectorFromArray([[1], [2, 3]]) });
    assert.throws(() => SharedFrame.fromArrow(list, { heap }), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /Arrow column "l" has type List/,
    });
    const half = new A.Table({
      h: A.makeVector({ type: new A.Float16(), data: new Uint16Array(2) }),
    });
    assert.throws(() => SharedFrame.fromArrow(half, { heap }), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /float16/,
    });
    assert.throws(() => SharedFrame.fromArrow({}, { heap }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /apache-arrow Table/,
    });
    const t = A.tableFromArrays({ x: new Float64Array(3) });
    assert.throws(() => SharedFrame.fromArrow(t, { heap, capacity: 2 }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /at least the 3 rows/,
    });
  });
});

test('toArrow({ arrow }) uses a given instance (here the CommonJS build)', async () => {
  await withHeap(async (heap) => {
    const cjs = createRequire(import.meta.url)('apache-arrow');
    assert.notEqual(cjs.Table, A.Table); // two builds, two sets of classes
    const f = SharedFrame.from({ x: [1, 2] }, { heap });
    const t = f.toArrow({ arrow: cjs });
    assert.ok(t instanceof cjs.Table);
    assert.equal(cjs.tableFromIPC(cjs.tableToIPC(t)).getChild('x').get(1), 2);
    f.close();
  });
});

test('toArrow without apache-arrow installed says what to install', () => {
  // A resolve hook hides apache-arrow from a child process, as if it were not installed.
  const hook = `export async function resolve(s, c, next) {
    if (s === 'apache-arrow') throw Object.assign(new Error("Cannot find package 'apache-arrow'"), { code: 'ERR_MODULE_NOT_FOUND' });
    return next(s, c);
  }`;
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
  const script = `
    import { SharedFrame } from 'shmframe';
    const f = SharedFrame.from({ a: [1] });
    let code;
    try { f.toArrow(); } catch (e) { code = e.code + ': ' + e.message; }
    // fromArrow never loads apache-arrow: it reads a table by its structure.
    const back = SharedFrame.fromArrow({ schema: { fields: [] }, batches: [], numRows: 0 });
    f.close();
    back.close();
    console.log(code);
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
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^SHMFRAME_ERR_DEPENDENCY: SharedFrame\.toArrow\(\) needs the optional peer dependency apache-arrow.*npm install apache-arrow/,
  );
});
