import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, isHandle } from 'shmframe';
import { encode, decode, releaseHandles, closeShareables } from '../../../dist/pool/marshal.js';
import { withHeap } from '../../helpers/heap.js';

/** Posts like a worker would: one structured clone of value and handles together. */
function roundTrip(out) {
  return structuredClone([out.value, out.handles, out.typed]);
}

test('values without shared objects are posted untouched, with no handle', async () => {
  await withHeap(async () => {
    for (const v of [
      undefined,
      null,
      1,
      'x',
      2n,
      { a: [1, 2, { b: 'c' }] },
      new Float64Array(3),
      new Map([[1, 2]]),
    ]) {
      const out = encode(v, null);
      assert.equal(out.value, v);
      assert.equal(out.handles, null);
    }
  });
});

test('shared objects anywhere become handles; the caller keeps its objects; dedupe by identity', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.from([1, 2, 3], { heap });
    const b = SharedArray.zeros([2, 2], 'i4', { heap });
    const args = {
      a,
      list: [b, 7, { deep: a }],
      map: new Map([['k', b]]),
      set: new Set([a]),
      n: 1,
    };
    const out = encode(args, null);
    assert.equal(out.handles.length, 2, 'a and b once each');
    assert.equal(heap.stats().handles, 2);
    // copy on write: the caller's structures are unchanged
    assert.equal(args.a, a);
    assert.equal(args.list[0], b);
    assert.equal(args.map.get('k'), b);
    assert.notEqual(out.value, args);
    assert.ok(isHandle(out.value.a));
    assert.equal(out.value.list[2].deep, out.value.a);
    const [value, handles, typed] = roundTrip(out);
    const attached = [];
    const got = decode(value, handles, typed, attached);
    assert.equal(attached.length, 2);
    assert.equal(heap.stats().handles, 0);
    assert.ok(SharedArray.isSharedArray(got.a));
    assert.equal(got.a, got.list[2].deep, 'same object where the same handle was');
    assert.equal(got.set.has(got.a), true);
    assert.deepEqual(got.map.get('k').shape, [2, 2]);
    assert.deepEqual(got.a.toArray(), [1, 2, 3]);
    got.a.data[0] = 42; // same memory
    assert.equal(a.get(0), 42);
    for (const o of attached) o.close();
    a.close();
    b.close();
  });
});

test('a handle the caller placed on purpose stays a handle', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([4], 'f8', { heap });
    const h = a.handle;
    const out = encode({ h }, null);
    assert.equal(out.handles, null);
    const got = decode(structuredClone(out.value), null, null, []);
    assert.ok(isHandle(got.h));
    SharedArray.attach(got.h).close();
    a.close();
  });
});

test('a top-level shared object and views travel', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.from([1, 2, 3, 4, 5, 6], { heap, shape: [3, 2] });
    const view = a.rows(1, 3);
    const out = encode(view, null);
    const [value, handles, typed] = roundTrip(out);
    const attached = [];
    const got = decode(value, handles, typed, attached);
    assert.deepEqual(got.toArray(), [
      [3, 4],
      [5, 6],
    ]);
    got.close();
    view.close();
    a.close();
  });
});

test('cycles without shared objects are fine; with shared objects they are refused cleanly', async () => {
  await withHeap(async (heap) => {
    const plain = { x: 1 };
    plain.self = plain;
    assert.equal(encode(plain, null).value, plain);
    const a = SharedArray.zeros([1], 'f8', { heap });
    const cyc = { a };
    cyc.self = cyc;
    assert.throws(() => encode(cyc, null), { code: 'SHMFRAME_ERR_INVALID_ARG', message: /cyclic/ });
    assert.equal(heap.stats().handles, 0, 'handles made before the error were released');
    a.close();
  });
});

test('a closed object in the arguments fails with SHMFRAME_ERR_CLOSED and leaks nothing', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([1], 'f8', { heap });
    const b = SharedArray.zeros([1], 'f8', { heap });
    b.close();
    assert.throws(() => encode([a, b], null), { code: 'SHMFRAME_ERR_CLOSED' });
    assert.equal(heap.stats().handles, 0);
    a.close();
  });
});

test('autoShare copies large plain TypedArrays into the heap once and rebuilds their class', async () => {
  await withHeap(async (heap) => {
    const big = new Float32Array(1000).fill(1.5);
    const clamped = new Uint8ClampedArray(2000).fill(7);
    const small = new Float64Array(2);
    const auto = { bytes: 1024, heap, copies: new Map() };
    const out = encode({ big, again: big, clamped, small }, auto);
    assert.equal(out.handles.length, 2);
    assert.equal(auto.copies.size, 2);
    assert.equal(out.value.small, small, 'small arrays are cloned as usual');
    const [value, handles, typed] = roundTrip(out);
    const attached = [];
    const got = decode(value, handles, typed, attached);
    assert.ok(got.big instanceof Float32Array);
    assert.ok(got.big.buffer instanceof SharedArrayBuffer);
    assert.equal(got.big, got.again);
    assert.equal(got.big[999], 1.5);
    assert.ok(got.clamped instanceof Uint8ClampedArray);
    assert.equal(got.clamped[1999], 7);
    for (const o of attached) o.close();
    for (const c of auto.copies.values()) c.close();
  });
});

test('releaseHandles drops unattached handles; closeShareables closes nested results', async () => {
  await withHeap(async (heap) => {
    const a = SharedArray.zeros([1], 'f8', { heap });
    const out = encode([a], null);
    releaseHandles(out.handles);
    releaseHandles(out.handles); // idempotent
    const x = SharedArray.zeros([1], 'f8', { heap });
    const y = SharedArray.zeros([1], 'f8', { heap });
    closeShareables({ list: [x, { y }], again: x });
    assert.ok(x.closed && y.closed);
    a.close();
  });
});
