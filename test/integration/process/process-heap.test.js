// Process heaps: real child processes (plain node) attach arrays and frames by the string form of
// their handles, write, create and publish objects, and die; the parent sees every write, and
// every test leaves no child, nothing in /dev/shm and the heap as it found it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Heap, SharedArray, SharedFrame } from 'shmframe';
import {
  noNative,
  shmEntries,
  spawnNode,
  uniqueName,
  withProcessHeap,
} from '../../helpers/process.js';

const kChildWrites = `
import { SharedArray, SharedFrame } from 'shmframe';
const [ah, fh] = process.argv.slice(2);
const a = SharedArray.attach(ah);
const f = SharedFrame.attach(fh);
process.stdout.write(JSON.stringify({ a: a.toArray(), rows: [...Array(f.length).keys()].map((i) => f.row(i)) }) + '\\n');
for (let i = 0; i < a.size; i++) a.data[i] *= 10;
const x = f.col('x');
for (let i = 0; i < f.length; i++) x[i] += 0.5;
f.set(1, 'code', 'zz');
f.set(0, 'tag', 'green');
f.append({ x: 7, name: 'ünïcode ✓', tag: 'blue', code: null });
a.close();
f.close();
`;

for (const kind of ['memfd', 'named']) {
  test(
    `a child process attaches an array and a frame of a ${kind} heap by string handle; the parent sees its writes`,
    { skip: noNative },
    async () => {
      const options =
        kind === 'memfd'
          ? { size: '64M', shared: 'process' }
          : { size: '64M', name: uniqueName('attach') };
      await withProcessHeap(async (heap) => {
        const a = SharedArray.from([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: 'f8', heap });
        const f = SharedFrame.create(
          { x: 'f8', name: 'utf8', tag: 'category', code: '|S4' },
          { capacity: 8, heap },
        );
        f.append({ x: 1, name: 'a', tag: 'red', code: 'ab' });
        f.append({ x: 2, name: null, tag: 'blue', code: 'cd' });
        f.append({ x: 3, name: 'c', tag: null, code: null });
        const child = spawnNode(kChildWrites, [String(a.handle), String(f.handle)]);
        const seen = JSON.parse(await child.line(/^\{/));
        await child.ok();
        assert.deepEqual(seen.a, [
          [1, 2, 3],
          [4, 5, 6],
        ]);
        assert.deepEqual(seen.rows, [
          { x: 1, name: 'a', tag: 'red', code: 'ab' },
          { x: 2, name: null, tag: 'blue', code: 'cd' },
          { x: 3, name: 'c', tag: null, code: null },
        ]);
        assert.deepEqual(a.toArray(), [
          [10, 20, 30],
          [40, 50, 60],
        ]);
        assert.equal(f.length, 4);
        assert.deepEqual([...f.col('x').slice(0, 4)], [1.5, 2.5, 3.5, 7]);
        assert.equal(f.get(1, 'code'), 'zz');
        assert.equal(f.get(0, 'tag'), 'green');
        assert.equal(f.get(3, 'name'), 'ünïcode ✓');
        assert.equal(f.isNull(3, 'code'), true);
        assert.equal(f.get(3, 'tag'), 'blue');
        a.close();
        f.close();
      }, options);
    },
  );
}

test(
  'a child creates objects in the heap and hands them back: as a string on stdout and published under a key',
  { skip: noNative },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const child = spawnNode(
          `
      import { Heap, SharedArray, SharedFrame } from 'shmframe';
      const heap = Heap.open(process.argv[2]);
      const a = SharedArray.full([1000], 2.5, 'f8', { heap });
      const f = SharedFrame.from({ id: [1, 2, 3], s: ['x', 'y', null] }, { heap });
      heap.publish('result', f);
      f.close();
      // The string form carries one reference: this process may exit right after.
      process.stdout.write(String(a.handle) + '\\n');
      a.close();
      `,
          [heap.name],
        );
        const text = await child.line(/^shmframe:/);
        await child.ok();
        const a = SharedArray.attach(text);
        assert.equal(a.size, 1000);
        assert.equal(a.get(999), 2.5);
        assert.deepEqual(heap.published(), ['result']);
        const f = heap.lookup('result');
        assert.equal(SharedFrame.isSharedFrame(f), true);
        assert.deepEqual([...f.col('id')], [1, 2, 3]);
        assert.equal(f.get(2, 's'), null);
        f.close();
        const g = heap.lookup('result', { remove: true });
        assert.deepEqual(heap.published(), []);
        assert.equal(heap.lookup('result'), undefined);
        g.close();
        a.close();
      },
      { size: '64M', name: uniqueName('publish') },
    );
  },
);

test(
  'a memfd heap reaches children through an inherited fd and through /proc/<pid>/fd; SIGKILL of the children leaves nothing behind',
  { skip: noNative },
  async () => {
    const shmBefore = shmEntries();
    await withProcessHeap(async (heap) => {
      const a = SharedArray.zeros([4], 'i4', { heap });
      // Inherited: fd 3 of the child is the heap's memfd (its number in this process is in the
      // string form of a handle: m<pid>.<fd>).
      const fd = Number(/:m\d+\.(\d+):/.exec(String(a.handle))[1]);
      const inherited = spawnNode(
        `
      import { Heap, SharedArray } from 'shmframe';
      const heap = Heap.open({ fd: 3 });
      const h = process.argv[2];
      const a = SharedArray.attach(h);
      a.data[0] = heap.processes().length;
      a.data[1] = 11;
      a.close();
      `,
        [String(a.handle)],
        { fds: [fd] },
      );
      await inherited.ok();
      assert.equal(a.data[1], 11);
      assert.equal(a.data[0], 2, 'the child saw two processes: the parent and itself');
      // Through /proc: the child opens the heap from the handle string alone.
      const viaProc = spawnNode(
        `
      import { SharedArray } from 'shmframe';
      const a = SharedArray.attach(process.argv[2]);
      a.data[2] = 22;
      const keep = SharedArray.zeros([1 << 16], 'f8', { heap: a.heap });
      keep.data.fill(1);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
      `,
        [String(a.handle)],
      );
      await viaProc.line(/ready/);
      assert.equal(a.data[2], 22);
      assert.equal(heap.processes().length, 2);
      viaProc.child.kill('SIGKILL');
      await viaProc.exited;
      // Released now, or already by the heap's once-a-second check if it ran in between.
      assert.ok(heap.releaseDead() <= 1);
      assert.equal(heap.processes().length, 1, 'the killed child is released');
      assert.equal(heap.stats().objects, 1, "the child's array went with it");
      a.close();
    });
    assert.deepEqual(shmEntries(), shmBefore);
  },
);

test(
  'the last process to leave a named heap removes it; Heap.sweep removes one whose processes were all killed',
  { skip: noNative },
  async () => {
    const before = shmEntries();
    const name = uniqueName('last');
    // Two children share a named heap; the one that leaves last removes the name.
    const a = spawnNode(
      `
    import { Heap, SharedArray } from 'shmframe';
    const heap = Heap.create({ size: '8M', name: process.argv[2] });
    const x = SharedArray.full([10], 3, 'f8', { heap });
    heap.publish('x', x);
    x.close();
    process.stdout.write('created\\n');
    process.stdin.once('data', () => process.exit(0));
    `,
      [name],
      { stdin: 'pipe' },
    );
    await a.line(/created/);
    assert.ok(shmEntries().includes(`shmframe-${name}`));
    const b = spawnNode(
      `
    import { Heap } from 'shmframe';
    const heap = Heap.open(process.argv[2]);
    const x = heap.lookup('x');
    process.stdout.write(String(x.get(9)) + '\\n');
    x.close();
    `,
      [name],
    );
    assert.equal(await b.line(/^\d/), '3');
    await b.ok();
    assert.ok(shmEntries().includes(`shmframe-${name}`), 'a is still there');
    a.child.stdin.end('bye\n');
    await a.ok();
    assert.deepEqual(shmEntries(), before, 'the last process removed the name');

    // Every process killed: the name stays until a sweep (every Heap.create({ name }) runs one).
    const name2 = uniqueName('killed');
    const c = spawnNode(
      `
    import { Heap } from 'shmframe';
    Heap.create({ size: '8M', name: process.argv[2] });
    process.stdout.write('created\\n');
    setInterval(() => {}, 1000);
    `,
      [name2],
    );
    await c.line(/created/);
    c.child.kill('SIGKILL');
    await c.exited;
    assert.ok(shmEntries().includes(`shmframe-${name2}`));
    const report = Heap.sweep();
    assert.ok(report.removed.includes(name2), JSON.stringify(report));
    assert.deepEqual(shmEntries(), before);
  },
);

test(
  'a file heap persists: published objects are there after every process left, and a corrupt header is refused',
  { skip: noNative },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmframe-file-'));
    const file = join(dir, 'heap.bin');
    try {
      const writer = spawnNode(
        `
      import { Heap, SharedFrame } from 'shmframe';
      const heap = Heap.create({ size: '4M', file: process.argv[2] });
      const f = SharedFrame.from({ day: [1, 2, 3], temp: [20.5, 21.25, NaN] }, { heap });
      heap.publish('weather', f);
      f.close();
      `,
        [file],
      );
      await writer.ok();
      assert.ok(existsSync(file));
      const heap = Heap.open({ file });
      assert.equal(heap.file, file);
      const f = heap.lookup('weather');
      assert.deepEqual([...f.col('day')], [1, 2, 3]);
      assert.ok(Number.isNaN(f.get(2, 'temp')));
      f.close();
      assert.equal(heap.unpublish('weather'), true);
      assert.equal(heap.stats().objects, 0);
      assert.throws(() => Heap.create({ size: '4M', file }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
        message: /exists/,
      });
      // A damaged file: magic overwritten.
      const bad = join(dir, 'bad.bin');
      const bytes = readFileSync(file);
      bytes.writeUInt32LE(0xdeadbeef, 0);
      writeFileSync(bad, bytes);
      assert.throws(() => Heap.open({ file: bad }), { code: 'SHMFRAME_ERR_CORRUPT' });
      assert.throws(() => Heap.open({ file: join(dir, 'missing.bin') }), {
        code: 'SHMFRAME_ERR_UNKNOWN_HEAP',
        message: /does not exist/,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'bad string handles and names get coded errors, never another object',
  { skip: noNative },
  async () => {
    await withProcessHeap(async (heap) => {
      const a = SharedArray.zeros([3], 'f8', { heap });
      const good = String(a.handle);
      const parts = good.split(':');
      const withField = (i, v) => parts.map((p, k) => (k === i ? v : p)).join(':');
      const cases = [
        ['shmframe:1:array', 'SHMFRAME_ERR_INVALID_ARG', /wrong number of fields/],
        [withField(1, '9'), 'SHMFRAME_ERR_INVALID_ARG', /version/],
        [withField(5, 'x1'), 'SHMFRAME_ERR_INVALID_ARG', /not a number/],
        [withField(5, '999999999'), 'SHMFRAME_ERR_CORRUPT', /outside this heap/],
        [withField(6, '12345'), 'SHMFRAME_ERR_CLOSED', /closed/],
        [withField(2, 'frame'), 'SHMFRAME_ERR_INVALID_ARG', /handle of a SharedArray/],
        [withField(3, 'abcdef123'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /names heap abcdef123/],
        [withField(4, 'nno-such-heap-here'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /does not exist/],
        [withField(4, 't'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /thread heap/],
      ];
      for (const [text, code, message] of cases) {
        // In a child process, which has never seen the heap.
        const child = spawnNode(
          `
        import { SharedArray } from 'shmframe';
        try { SharedArray.attach(process.argv[2]); console.log('attached'); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        `,
          [text],
        );
        const out = await child.line(/./);
        await child.ok();
        assert.notEqual(out, 'attached', text);
        const e = JSON.parse(out);
        assert.equal(e.code, code, `${text}: ${e.message}`);
        assert.match(e.message, message, text);
      }
      assert.throws(() => Heap.open('no-such-heap-here'), { code: 'SHMFRAME_ERR_UNKNOWN_HEAP' });
      assert.throws(() => Heap.open('../etc/passwd'), { code: 'SHMFRAME_ERR_INVALID_ARG' });
      assert.throws(() => Heap.create({ size: '4M', name: 'x', file: '/tmp/x' }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
      });
      assert.throws(() => Heap.create({ size: '4M', shared: 'yes' }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
      });
      assert.throws(() => Heap.create({ file: '/tmp/x' }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
        message: /explicit `size`/,
      });
      // The heap's first handle is still good after all that.
      const b = SharedArray.attach(good);
      b.close();
      a.close();
    });
  },
);

test('a thread heap handle cannot leave its process: JSON throws a coded error and releases the reference', async () => {
  const heap = Heap.create({ size: '4M' });
  const a = SharedArray.zeros([2], 'f8', { heap });
  const h = a.handle;
  assert.equal(heap.stats().handles, 1);
  assert.throws(() => JSON.stringify({ h }), {
    code: 'SHMFRAME_ERR_INVALID_ARG',
    message: /thread heap/,
  });
  assert.equal(heap.stats().handles, 0);
  assert.match(String(h), /^shmframe:1:array:[0-9a-f]+:t:/);
  a.close();
  assert.equal(heap.stats().objects, 0);
});

test(
  'child.send carries a process heap handle as its string form',
  { skip: noNative },
  async () => {
    await withProcessHeap(async (heap) => {
      const a = SharedArray.full([5], 4, 'i4', { heap });
      const { fork } = await import('node:child_process');
      const { once } = await import('node:events');
      const child = fork('--input-type=module', [], {
        execArgv: [
          '--input-type=module',
          '-e',
          `import { SharedArray } from 'shmframe';
           process.once('message', (m) => { const a = SharedArray.attach(m.handle); a.data[0] = 42; a.close(); process.send('done', () => process.exit(0)); });`,
        ],
      });
      child.send({ handle: a.handle });
      const [msg] = await once(child, 'message');
      assert.equal(msg, 'done');
      await once(child, 'exit');
      assert.equal(a.data[0], 42);
      a.close();
    });
  },
);

test('without the native backend thread heaps work and process heaps say how to build it', async () => {
  const child = spawnNode(
    `
    import { Heap, SharedArray } from 'shmframe';
    const a = SharedArray.full([3], 1, 'f8', { heap: Heap.create({ size: '4M' }) });
    let err;
    try { Heap.create({ size: '4M', shared: 'process' }); } catch (e) { err = e; }
    console.log(JSON.stringify({ sum: a.data.reduce((s, x) => s + x, 0), code: err?.code, message: err?.message }));
    `,
    [],
    { env: { ...process.env, SHMFRAME_NO_NATIVE: '1' } },
  );
  const r = JSON.parse(await child.line(/^\{/));
  await child.ok();
  assert.equal(r.sum, 3);
  assert.equal(r.code, 'SHMFRAME_ERR_NATIVE');
  assert.match(r.message, /npm run build:native/);
});
