import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { SharedArray } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';

const kViews = {
  '|b1': Uint8Array,
  '|i1': Int8Array,
  '<i2': Int16Array,
  '<i4': Int32Array,
  '<i8': BigInt64Array,
  '|u1': Uint8Array,
  '<u2': Uint16Array,
  '<u4': Uint32Array,
  '<u8': BigUint64Array,
  '<f4': Float32Array,
  '<f8': Float64Array,
  '<M8[s]': BigInt64Array,
  '<M8[ms]': BigInt64Array,
  '<M8[us]': BigInt64Array,
  '<M8[ns]': BigInt64Array,
  '<M8[D]': BigInt64Array,
  '|S7': Uint8Array,
};

test('every dtype gets the right TypedArray view, size and strides', async () => {
  await withHeap((heap) => {
    for (const [dtype, View] of Object.entries(kViews)) {
      const a = SharedArray.zeros([3, 4], dtype, { heap });
      assert.equal(a.dtype, dtype);
      assert.ok(a.data instanceof View, `${dtype}: ${a.data.constructor.name}`);
      assert.deepEqual(a.shape, [3, 4]);
      assert.deepEqual(a.strides, [4, 1]);
      assert.equal(a.ndim, 2);
      assert.equal(a.size, 12);
      const itemsize = dtype === '|S7' ? 7 : View.BYTES_PER_ELEMENT;
      assert.equal(a.itemsize, itemsize);
      assert.equal(a.byteLength, 12 * itemsize);
      assert.equal(a.data.byteLength, 12 * itemsize);
      assert.equal(a.data.buffer, heap.buffer, 'a view of the heap, not a copy');
      a.close();
    }
  });
});

test('dtype aliases resolve to numpy typestrs', async () => {
  await withHeap((heap) => {
    const cases = {
      f8: '<f8',
      float64: '<f8',
      float: '<f8',
      double: '<f8',
      d: '<f8',
      f4: '<f4',
      float32: '<f4',
      f: '<f4',
      int32: '<i4',
      i4: '<i4',
      i: '<i4',
      int64: '<i8',
      int: '<i8',
      int8: '|i1',
      uint8: '|u1',
      u1: '|u1',
      B: '|u1',
      uint16: '<u2',
      uint32: '<u4',
      uint64: '<u8',
      bool: '|b1',
      '?': '|b1',
      '=f8': '<f8',
      '<f8': '<f8',
      'datetime64[ms]': '<M8[ms]',
      'M8[us]': '<M8[us]',
      S10: '|S10',
      a4: '|S4',
      '|S3': '|S3',
      int16: '<i2',
      h: '<i2',
    };
    for (const [alias, str] of Object.entries(cases)) {
      const a = SharedArray.zeros([1], alias, { heap });
      assert.equal(a.dtype, str, alias);
      a.close();
    }
  });
});

test('unsupported dtypes are refused with SHMFRAME_ERR_DTYPE naming the dtype and what is supported', () => {
  const cases = [
    ['>f8', /big-endian/],
    ['!i4', /big-endian/],
    ['O', /object arrays/],
    ['object', /object arrays/],
    ['U10', /utf8/],
    ['f2', /float16/],
    ['c16', /complex/],
    ['m8[s]', /timedelta64/],
    ['M8', /needs a unit/],
    ['M8[h]', /unit 'h'/],
    ['S', /positive width/],
    ['S0', /positive width/],
    ['quux', /unknown dtype/],
  ];
  for (const [dtype, why] of cases) {
    assert.throws(
      () => SharedArray.zeros([1], dtype),
      (err) => {
        assert.equal(err.code, 'SHMFRAME_ERR_DTYPE');
        assert.match(
          err.message,
          new RegExp(`Unsupported dtype ${JSON.stringify(dtype).replace(/[[\]]/g, '\\$&')}`),
        );
        assert.match(err.message, why);
        assert.match(err.message, /Supported: \|b1 \|i1 <i2/);
        return true;
      },
    );
  }
  assert.throws(() => SharedArray.zeros([1], 42), {
    code: 'SHMFRAME_ERR_DTYPE',
    message: /Expected a dtype name such as 'f8' or '<i4', got 42 \(number\)/,
  });
});

test('bad shapes and indices get SHMFRAME_ERR_SHAPE with what was expected and what came', async () => {
  await withHeap((heap) => {
    assert.throws(() => SharedArray.zeros([2, -1], 'f8', { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: 'Expected `shape` to be non-negative integers (at most 32 of them), got [2,-1]',
    });
    assert.throws(() => SharedArray.zeros([1.5], 'f8', { heap }), { code: 'SHMFRAME_ERR_SHAPE' });
    assert.throws(() => SharedArray.zeros('3', 'f8', { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /got "3" \(string\)/,
    });
    assert.throws(() => SharedArray.zeros(new Array(33).fill(1), 'f8', { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /at most 32/,
    });
    assert.throws(() => SharedArray.zeros([2 ** 32 + 1], 'u1', { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /more than the 2\^32 \(4294967296\) a TypedArray can address on Node 20. Split it/,
    });
    assert.throws(() => SharedArray.zeros([2 ** 29], '|S16', { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /needs 8589934592 bytes/,
    });
    const a = SharedArray.zeros([2, 3], 'f8', { heap });
    assert.throws(() => a.get(2, 0), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: 'Index 2 is out of bounds for axis 0 with size 2',
    });
    assert.throws(() => a.get(0, -4), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: 'Index -4 is out of bounds for axis 1 with size 3',
    });
    assert.throws(() => a.get(0), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: 'Expected 2 indices for an array of shape [2,3], got 1',
    });
    assert.throws(() => a.set([0, 0.5], 1), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /index 1 to be an integer, got 0.5/,
    });
    assert.throws(() => a.reshape([4, 2]), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /shape \[2,3\] \(6 elements\) to \[4,2\]/,
    });
    assert.throws(() => a.reshape([-1, -1]), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /Only one dimension/,
    });
    assert.throws(() => a.reshape([-1, 4]), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /Cannot reshape 6 elements/,
    });
    assert.throws(() => SharedArray.from([1, 2, 3], { heap, shape: [2, 2] }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /Cannot view 3 elements as shape \[2,2\]/,
    });
    assert.throws(() => SharedArray.from([[1, 2], [3]], { heap }), {
      code: 'SHMFRAME_ERR_SHAPE',
      message: /Ragged nested array: source\[1\] has 1 elements, expected 2/,
    });
    assert.throws(() => a.rows(0.5), { code: 'SHMFRAME_ERR_SHAPE' });
    a.close();
  });
});

test('values that do not fit their dtype are refused (no silent wrap or truncation)', async () => {
  await withHeap((heap) => {
    const check = (dtype, value, message) => {
      const a = SharedArray.zeros([1], dtype, { heap });
      assert.throws(
        () => a.set(0, value),
        { code: 'SHMFRAME_ERR_INVALID_ARG', message },
        `${dtype} ${String(value)}`,
      );
      assert.equal(a.toArray()[0], a.get(0), 'unchanged');
      a.close();
    };
    check('|u1', 256, /Value 256 is out of range \[0, 255\] for index \[0\] \(\|u1\)/);
    check('|i1', -129, /out of range \[-128, 127\]/);
    check('<i4', 1.5, /Expected an integer for index \[0\] \(<i4\), got 1.5 \(number\)/);
    check('<i4', '3', /Expected an integer/);
    check('<u8', -1n, /out of range/);
    check('<i8', 2n ** 63n, /out of range/);
    check('<i8', 2 ** 60, /Expected a bigint or a safe integer/);
    check('|b1', 2, /Expected a boolean/);
    check('<f8', 'x', /Expected a number/);
    check('<M8[ms]', 'yesterday', /Expected a Date or a bigint count of ms/);
    check(
      '|S3',
      'four',
      /is 4 bytes long, wider than its dtype \|S3: "four" \(string\). Use a wider \|S<n>/,
    );
    check('|S3', 'é!!', /is 4 bytes long/);
    assert.throws(() => SharedArray.from([1, 'a'], { heap }), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /Elements mix numbers and "a"/,
    });
    assert.throws(() => SharedArray.from([{}], { heap }), {
      code: 'SHMFRAME_ERR_DTYPE',
      message: /Cannot store/,
    });
    assert.throws(() => SharedArray.from('abc', { heap }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /Expected `source` to be a TypedArray, an array or a SharedArray, got "abc"/,
    });
    assert.throws(() => SharedArray.zeros([1], 'f8', { heap: {} }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /Expected `heap` to be a Heap/,
    });
    assert.throws(() => SharedArray.full([2], 300, 'u1', { heap }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
    });
  });
});

test('from() infers dtypes and shapes, converts across dtypes, and copies SharedArrays', async () => {
  await withHeap((heap) => {
    const cases = [
      [new Float32Array([1.5, 2]), '<f4'],
      [new Int16Array([1, -2]), '<i2'],
      [new BigInt64Array([1n]), '<i8'],
      [new BigUint64Array([1n]), '<u8'],
      [new Uint8ClampedArray([1]), '|u1'],
      [[1, 2.5], '<f8'],
      [[1n, 2n], '<i8'],
      [[true, false], '|b1'],
      [[new Date(0)], '<M8[ms]'],
      [['ab', 'c'], '|S2'],
    ];
    for (const [src, dtype] of cases) {
      const a = SharedArray.from(src, { heap });
      assert.equal(a.dtype, dtype);
      a.close();
    }
    const nested = SharedArray.from(
      [
        [[1], [2]],
        [[3], [4]],
      ],
      { heap },
    );
    assert.deepEqual(nested.shape, [2, 2, 1]);
    const asInt = SharedArray.from(new Float64Array([1, 2, 3]), { heap, dtype: 'i4' });
    assert.deepEqual(asInt.toArray(), [1, 2, 3]);
    assert.throws(() => SharedArray.from(new Float64Array([1.5]), { heap, dtype: 'i4' }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
    });
    const big = SharedArray.from(new Int32Array([1, -2]), { heap, dtype: 'i8' });
    assert.deepEqual(big.toArray(), [1n, -2n]);
    const copy = SharedArray.from(nested, { shape: [4] });
    assert.deepEqual(copy.toArray(), [1, 2, 3, 4]);
    for (const x of [nested, asInt, big, copy]) x.close();
  });
});

test('rows, reshape, copy, fill and toArray', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from(
      Int32Array.from({ length: 12 }, (_, i) => i),
      { heap, shape: [4, 3] },
    );
    const r = a.rows(-3, -1);
    assert.deepEqual(r.toArray(), [
      [3, 4, 5],
      [6, 7, 8],
    ]);
    assert.equal(r.data.byteOffset, a.data.byteOffset + 3 * 4);
    r.data[0] = 99;
    assert.equal(a.get(1, 0), 99, 'views share memory');
    for (const v of [a.rows(10), a.rows(3, 1)]) {
      assert.deepEqual(v.shape, [0, 3]);
      v.close();
    }
    const m = a.reshape([2, -1]);
    assert.deepEqual(m.shape, [2, 6]);
    const c = a.copy();
    c.fill(0);
    assert.equal(a.get(0, 1), 1, 'copy does not share');
    const scalar = SharedArray.full([], 5, 'i4', { heap });
    assert.equal(scalar.ndim, 0);
    assert.equal(scalar.size, 1);
    assert.equal(scalar.get(), 5);
    assert.deepEqual(scalar.toArray(), 5);
    const empty = SharedArray.zeros([0, 5], 'f8', { heap });
    assert.deepEqual(empty.toArray(), []);
    assert.equal(empty.data.length, 0);
    const s = SharedArray.from(['x', 'yz'], { heap });
    const sc = s.copy();
    assert.deepEqual(sc.toArray(), ['x', 'yz']);
    sc.close();
    s.set(0, 'Q');
    assert.equal(s.get(0), 'Q');
    assert.deepEqual(Array.from(s.data), [81, 0, 121, 122], 'NUL-padded bytes like numpy');
    const d = SharedArray.full([2], new Date('2024-01-02T03:04:05.678Z'), 'M8[s]', { heap });
    assert.equal(d.get(0), 1704164645n);
    for (const x of [r, m, c, scalar, empty, s, d, a]) x.close();
  });
});

test('toString and util.inspect show dtype, shape and the elements as numpy lays them out', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from(
      Float64Array.from({ length: 100 }, (_, i) => i / 4),
      { heap, shape: [10, 10] },
    );
    const text = inspect(a);
    // 100 elements: all shown (numpy summarises only above 1000), one row per line.
    // Every element padded to one width, right-aligned, as numpy pads numbers.
    assert.ok(
      text.startsWith('SharedArray(<f8, [10,10])\n[[    0,  0.25,   0.5,  0.75,     1, '),
      text,
    );
    assert.doesNotMatch(text, /\.\.\./);
    assert.equal(text.split('\n').length, 11);
    assert.match(text, /^ \[ 22\.5, 22\.75, .* 24\.75\]\]$/m);
    const d = SharedArray.full([2], new Date('2024-01-02'), undefined, { heap });
    assert.match(String(d), /\[2024-01-02, 2024-01-02\]/);
    d.close();
    a.close();
    assert.equal(String(a), 'SharedArray(<f8, closed)');
  });
});

test('using disposes the array; isSharedArray works on any copy', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([2], 'f8', { heap });
    assert.ok(SharedArray.isSharedArray(a));
    assert.ok(!SharedArray.isSharedArray(new Float64Array(2)));
    a[Symbol.dispose]();
    assert.ok(a.closed);
  });
});

test('detach() drops the reference like close(), on every shared class', async () => {
  const { SharedFrame, SharedLock, SharedQueue } = await import('shmframe');
  await withHeap((heap) => {
    const objects = [
      SharedArray.zeros([2], 'f8', { heap }),
      SharedFrame.create({ x: 'f8' }, { capacity: 2, heap }),
      SharedLock.create({ heap }),
      SharedQueue.create({ capacity: 2, heap }),
    ];
    assert.equal(heap.stats().objects, 4);
    for (const o of objects) o.detach();
    assert.equal(heap.stats().objects, 0);
  });
});
