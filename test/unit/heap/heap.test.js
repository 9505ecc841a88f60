import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Heap, SharedArray, parseSize } from 'shmframe';
import { withHeap, smallHeap } from '../../helpers/heap.js';
import { blocks, collectUntil, core } from '../../helpers/internals.js';

test('create reserves the size, stats add up, and a fresh heap is empty', () => {
  const heap = Heap.create({ size: '64M' });
  const s = heap.stats();
  assert.equal(s.size, 64 * 2 ** 20);
  assert.equal(s.used, 0);
  assert.equal(s.objects, 0);
  assert.equal(s.handles, 0);
  assert.equal(s.size, s.used + s.free + s.overhead);
  assert.ok(s.overhead < 2 ** 20, `overhead ${s.overhead}`);
  assert.ok(s.largestFree > 63 * 2 ** 20);
  assert.equal(heap.buffer.byteLength, s.size);
  assert.ok(Heap.isHeap(heap));
  assert.ok(!Heap.isHeap({}));
  assert.match(String(heap), /Heap\([0-9a-f]+\) 0 B used of 64\.0 MiB, 0 objects/);
});

test('sizes parse with binary suffixes and bad sizes are refused with a clear message', () => {
  assert.equal(parseSize('8G'), 8 * 2 ** 30);
  assert.equal(parseSize('512m'), 512 * 2 ** 20);
  assert.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('2gb'), 2 * 2 ** 30);
  for (const bad of ['', 'lots', '-1G', '0', '1X']) {
    assert.throws(() => Heap.create({ size: bad }), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: /byte size like 8G|positive/,
    });
  }
  assert.throws(() => Heap.create({ size: 1000 }), {
    code: 'SHMFRAME_ERR_INVALID_ARG',
    message: /at least 1\.00 MiB, got 1000 bytes/,
  });
  assert.throws(() => Heap.create({ size: '1T' }), {
    code: 'SHMFRAME_ERR_INVALID_ARG',
    message: /at most 256 GiB|Could not reserve/,
  });
  assert.throws(() => Heap.create(null), { code: 'SHMFRAME_ERR_INVALID_ARG' });
});

test('Heap.default() takes its size from SHMFRAME_HEAP_SIZE, else half of physical memory, untouched', () => {
  const script = `import { Heap } from 'shmframe'; import os from 'node:os';
    const h = Heap.default(); console.log(JSON.stringify({ size: h.size, half: Math.floor(os.totalmem() / 2 / 64) * 64, rss: process.memoryUsage().rss, same: Heap.default() === h }));`;
  const run = (env) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const sized = run({ SHMFRAME_HEAP_SIZE: '256M' });
  assert.equal(sized.size, 256 * 2 ** 20);
  assert.ok(sized.same);
  const dflt = run({ SHMFRAME_HEAP_SIZE: '' });
  assert.equal(dflt.size, dflt.half);
  assert.ok(dflt.rss < 512 * 2 ** 20, `a fresh default heap must not be touched (rss ${dflt.rss})`);
  const bad = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SHMFRAME_HEAP_SIZE: 'big' },
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /SHMFRAME_HEAP_SIZE/);
});

test('allocations are 64-byte aligned, never overlap, and freed space is reused', async () => {
  await withHeap((heap) => {
    const arrays = [];
    for (let i = 1; i <= 50; i++) arrays.push(SharedArray.zeros([i * 7], 'u1', { heap }));
    for (const a of arrays) assert.equal(a.data.byteOffset % 64, 0);
    const spans = arrays
      .map((a) => [a.data.byteOffset, a.data.byteOffset + a.data.byteLength])
      .sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++)
      assert.ok(spans[i][0] >= spans[i - 1][1], 'blocks overlap');
    const firstOffset = arrays[0].data.byteOffset;
    for (const a of arrays) a.close();
    const again = SharedArray.zeros([7], 'u1', { heap });
    assert.equal(again.data.byteOffset, firstOffset, 'the lowest freed block is reused first');
    again.close();
    const bs = blocks(heap);
    assert.equal(bs.filter((b) => b.allocated && b.kind < 0x8000).length, 0);
  });
});

test('zeros() returns zeroed memory even where freed blocks held data', async () => {
  await withHeap((heap) => {
    const dirty = SharedArray.full([1000], 255, 'u1', { heap });
    const big = SharedArray.full([5000], 7, 'u1', { heap });
    dirty.close();
    big.close();
    const z = SharedArray.zeros([6000], 'u1', { heap });
    assert.ok(z.data.every((v) => v === 0));
    z.close();
  });
});

test('fragmentation stays low: a producer-consumer loop of same-size blocks, and mixed sizes', async () => {
  await withHeap((heap) => {
    SharedArray.zeros([1], 'u1', { heap }).close(); // this thread's ledger now exists (at the top)
    const start = heap.stats();
    const window = [];
    for (let i = 0; i < 2000; i++) {
      window.push(SharedArray.zeros([5000 * 25], 'f8', { heap })); // 1 MB frames, up to 8 in flight
      if (window.length > 8) window.shift().close();
    }
    for (const a of window.splice(0)) a.close();
    let s = heap.stats();
    assert.equal(s.largestFree, start.largestFree, 'same-size loop leaves one free block');
    const live = new Map();
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      if (live.size > 0 && rnd() < 0.5) {
        const key = [...live.keys()][Math.floor(rnd() * live.size)];
        live.get(key).close();
        live.delete(key);
      } else live.set(i, SharedArray.empty([Math.floor(rnd() * 100000) + 1], 'u1', { heap }));
    }
    s = heap.stats();
    const usedPayload = [...live.values()].reduce((n, a) => n + a.byteLength, 0);
    assert.ok(
      s.used < usedPayload * 1.1 + live.size * 192,
      `used ${s.used} for ${usedPayload} payload bytes`,
    );
    assert.ok(
      s.largestFree > s.free * 0.5,
      `mixed sizes: largest free ${s.largestFree} of ${s.free} free`,
    );
    for (const a of live.values()) a.close();
    assert.equal(heap.stats().largestFree, start.largestFree, 'all coalesced again');
  });
});

test('HEAP_FULL names the requested and free bytes and how to enlarge the heap', async () => {
  await withHeap((heap) => {
    const hold = SharedArray.zeros([6 * 2 ** 20], 'f8', { heap }); // 48 MiB of 64
    assert.throws(
      () => SharedArray.zeros([4 * 2 ** 20], 'f8', { heap }),
      (err) => {
        assert.equal(err.code, 'SHMFRAME_ERR_HEAP_FULL');
        assert.equal(err.name, 'HeapFullError');
        assert.match(
          err.message,
          /Cannot allocate 32\.0 MiB \(33554496 bytes\) for a SharedArray \[4194304\] <f8/,
        );
        assert.match(err.message, /has 1\d\.\d MiB free/);
        assert.match(err.message, /Heap\.create\(\{ size: '16G' \}\) or SHMFRAME_HEAP_SIZE=16G/);
        assert.ok(
          err.details.requested === 33554496 &&
            err.details.free > 0 &&
            err.details.largestFree <= err.details.free,
        );
        return true;
      },
    );
    hold.close();
  });
});

test('a handle carries one reference; the first attach adopts it, a second takes a fresh one', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([4], 'i4', { heap });
    const h = a.handle;
    assert.equal(a.handle, h, 'reading handle again before it is attached returns the same handle');
    assert.equal(heap.stats().handles, 1);
    assert.equal(core(heap).refCount(h.unit), 2);
    const b = SharedArray.attach(structuredClone(h));
    assert.equal(heap.stats().handles, 0);
    assert.equal(core(heap).refCount(h.unit), 2, 'attach adopted the handle reference');
    const c = SharedArray.attach(h); // the same handle again: a fresh reference
    assert.equal(core(heap).refCount(h.unit), 3);
    a.close();
    b.close();
    c.data[0] = 5; // still alive
    assert.equal(c.get(0), 5);
    c.close();
    c.close(); // idempotent
    assert.throws(() => SharedArray.attach(h), {
      code: 'SHMFRAME_ERR_CLOSED',
      message: /closed and its memory freed/,
    });
    assert.throws(() => c.data, { code: 'SHMFRAME_ERR_CLOSED' });
    assert.throws(() => c.get(0), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('a handle that will never be attached can be released', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([4], 'i4', { heap });
    const h = a.handle;
    a.close();
    assert.equal(heap.stats().objects, 1, 'the handle keeps the block alive');
    assert.equal(heap.releaseHandle(h), true);
    assert.equal(heap.releaseHandle(h), false);
    assert.throws(() => SharedArray.attach(h), { code: 'SHMFRAME_ERR_CLOSED' });
  });
});

test('forged, damaged and foreign handles are refused without reading out of bounds', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([4], 'f8', { heap });
    const h = a.handle;
    const cases = [
      [{ ...h, unit: 1e12 }, 'SHMFRAME_ERR_CORRUPT', /outside this heap's blocks/],
      [{ ...h, unit: -1 }, 'SHMFRAME_ERR_CORRUPT', /outside/],
      [{ ...h, unit: 1.5 }, 'SHMFRAME_ERR_CORRUPT', /outside/],
      [{ ...h, unit: h.unit + 1 }, 'SHMFRAME_ERR_CLOSED', /closed and its memory freed/],
      [{ ...h, generation: h.generation + 1 }, 'SHMFRAME_ERR_CLOSED', /closed/],
      [{ ...h, ticket: 1e9 }, 'SHMFRAME_ERR_CORRUPT', /ticket slot/],
      [
        { ...h, view: { offset: 2, shape: [4], strides: [1] } },
        'SHMFRAME_ERR_CORRUPT',
        /reaches element 5 of an array of 4/,
      ],
      [
        { ...h, view: { offset: 0, shape: [-1], strides: [1] } },
        'SHMFRAME_ERR_CORRUPT',
        /invalid array view/,
      ],
      [
        { ...h, heap: 999, buffer: new ArrayBuffer(8) },
        'SHMFRAME_ERR_UNKNOWN_HEAP',
        /SharedArrayBuffer/,
      ],
      [
        { ...h, heap: 12345, buffer: Heap.create({ size: '1M' }).buffer },
        'SHMFRAME_ERR_UNKNOWN_HEAP',
        /names heap/,
      ],
      [
        { ...h, heap: 999, buffer: new SharedArrayBuffer(2 ** 20) },
        'SHMFRAME_ERR_CORRUPT',
        /not a shmframe heap/,
      ],
      [{ ...h, kind: 'frame' }, 'SHMFRAME_ERR_INVALID_ARG', /handle of a SharedArray/],
      [{ hello: 1 }, 'SHMFRAME_ERR_INVALID_ARG', /Expected a SharedArray handle/],
      // A handle that went through JSON after being copied field by field (JSON of the handle
      // itself is refused: test/integration/handle-process.test.js).
      [
        { ...JSON.parse(JSON.stringify({ ...h })), heap: 999 },
        'SHMFRAME_ERR_UNKNOWN_HEAP',
        /not JSON/,
      ],
    ];
    for (const [bad, code, message] of cases) {
      assert.throws(
        () => SharedArray.attach(bad),
        { code, message },
        JSON.stringify(Object.keys(bad)),
      );
    }
    heap.releaseHandle(h);
    a.close();
  });
});

test('a damaged block header is refused with SHMFRAME_ERR_CORRUPT', async () => {
  await withHeap((heap) => {
    const a = SharedArray.zeros([4], 'f8', { heap });
    const h = a.handle;
    const words = new Int32Array(heap.buffer, h.unit * 64, 16);
    const saved = words[6];
    words[6] = 2 ** 30; // payload length no longer matches the check word
    assert.throws(() => SharedArray.attach(h), {
      code: 'SHMFRAME_ERR_CORRUPT',
      message: /inconsistent header/,
    });
    words[6] = saved;
    const meta = new Int32Array(heap.buffer, (h.unit + 1) * 64, 4);
    meta[2] = 40; // ndim beyond the limit
    assert.throws(() => SharedArray.attach(h), {
      code: 'SHMFRAME_ERR_CORRUPT',
      message: /invalid number of dimensions/,
    });
    meta[2] = 1;
    meta[0] = 99; // unknown dtype code
    assert.throws(() => SharedArray.attach(h), {
      code: 'SHMFRAME_ERR_CORRUPT',
      message: /invalid dtype/,
    });
    meta[0] = 11;
    new Float64Array(heap.buffer, (h.unit + 1) * 64 + 16, 1)[0] = 1e9; // shape larger than the block
    assert.throws(() => SharedArray.attach(h), {
      code: 'SHMFRAME_ERR_CORRUPT',
      message: /too small for shape/,
    });
    new Float64Array(heap.buffer, (h.unit + 1) * 64 + 16, 1)[0] = 4;
    const ok = SharedArray.attach(h); // the failed attaches did not consume or leak anything
    ok.close();
    a.close();
  });
});

test('views keep the block alive after the parent is closed', async () => {
  await withHeap((heap) => {
    const a = SharedArray.from([1, 2, 3, 4, 5, 6], { heap, shape: [3, 2] });
    const r = a.rows(1);
    const m = a.reshape([2, 3]);
    a.close();
    assert.deepEqual(r.toArray(), [
      [3, 4],
      [5, 6],
    ]);
    assert.deepEqual(m.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    r.close();
    assert.equal(heap.stats().objects, 1);
    m.close();
  });
});

test('the FinalizationRegistry releases what was never closed, once nothing uses it', async () => {
  const heap = smallHeap();
  const before = heap.stats();
  let kept;
  (() => {
    SharedArray.zeros([1000], 'f8', { heap });
    kept = SharedArray.zeros([1000], 'f8', { heap }).data; // the view alone keeps its block
  })();
  assert.ok(
    await collectUntil(() => heap.stats().objects === 1),
    'the unreferenced array was released',
  );
  kept[999] = 1;
  assert.equal(heap.stats().objects, 1);
  kept = undefined;
  assert.ok(
    await collectUntil(() => heap.stats().objects === before.objects),
    'released once the view is gone',
  );
  assert.equal(heap.stats().used, before.used);
});

test('one allocation can use (almost) the whole heap: anything up to largestFree succeeds', async () => {
  await withHeap((heap) => {
    SharedArray.zeros([1], 'u1', { heap }).close(); // this thread's ledger now exists
    const { largestFree } = heap.stats();
    const meta = 64; // a 1-D array's payload: 64 bytes of dtype and shape, then the data
    for (const bytes of [
      largestFree - meta,
      largestFree - meta - 64,
      Math.floor(largestFree * 0.97),
    ]) {
      const a = SharedArray.empty([bytes], 'u1', { heap });
      assert.equal(a.byteLength, bytes);
      a.close();
    }
    assert.throws(() => SharedArray.empty([largestFree - meta + 1], 'u1', { heap }), {
      code: 'SHMFRAME_ERR_HEAP_FULL',
    });
    const a = SharedArray.empty([largestFree - 4096], 'u1', { heap });
    assert.throws(() => SharedArray.empty([8192], 'u1', { heap }), {
      code: 'SHMFRAME_ERR_HEAP_FULL',
    });
    a.close();
  });
});

test('a heap nobody references is collected; re-opening its buffer reuses this thread ledger entry', async () => {
  let buffer;
  let id;
  (() => {
    const heap = Heap.create({ size: '4M' });
    buffer = heap.buffer;
    id = heap.id;
    SharedArray.zeros([10], 'f8', { heap }).close(); // this thread now has a ledger in it
  })();
  assert.ok(
    await collectUntil(() => Heap.byId(id) === undefined),
    'the unreferenced heap was collected',
  );
  const again = Heap.fromBuffer(buffer);
  assert.equal(again.id, id);
  const a = SharedArray.zeros([10], 'f8', { heap: again });
  assert.deepEqual(
    core(again).threads(),
    [0],
    'one entry for this thread, adopted, not a second one',
  );
  a.close();
  assert.equal(again.stats().objects, 0);
});
