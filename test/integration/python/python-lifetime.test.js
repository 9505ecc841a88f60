// Python processes in a heap's process table: a Python process killed with SIGKILL while holding
// references, mid-append (rows reserved, or the append lock held), or holding the allocator lock
// is released by Node, and the heap returns to where it was; killed at random points of a loop of
// reference operations, the same, with the allocator intact; a Python process that exits leaves;
// and the other way round, Python releases a Node process that was killed (its references and a
// SharedLock it held).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedArray, SharedFrame, SharedQueue } from 'shmframe';
import { core } from '../../helpers/internals.js';
import {
  noNative,
  shmEntries,
  spawnNode,
  uniqueName,
  withProcessHeap,
} from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy']);

/** Python snippet: block until stdin closes (the test kills the process first). */
const kBlock = 'sys.stdin.read()';

test(
  'a Python process killed with SIGKILL while holding references is released by Node: the heap is back where it was',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const a = SharedArray.full([1000], 1, 'f8', { heap });
        const f = SharedFrame.from({ x: [1, 2, 3], s: ['a', 'b', null] }, { heap, capacity: 10 });
        const before = heap.stats();
        const py = spawnPython(
          `
import sys, numpy as np, shmframe
a = shmframe.attach(sys.argv[1]); f = shmframe.attach(sys.argv[2])
mine = [shmframe.SharedArray.from_numpy(a.heap, np.arange(1000.0)) for _ in range(3)]
frame = shmframe.SharedFrame.create(a.heap, {'v': 'f8', 't': 'utf8'}, capacity=100)
frame.append({'v': [1.0], 't': ['held']})
df = f.to_pandas()                       # views keep the reference, as the objects do
view = a.numpy()
print('holding', a.heap.stats()['objects'], flush=True)
${kBlock}
`,
          [String(a.handle), String(f.handle)],
          { stdin: 'pipe' },
        );
        assert.equal(await py.line(/^holding/), `holding ${before.objects + 4}`);
        assert.equal(heap.processes().length, 2);
        assert.equal(heap.processes().find((p) => !p.self).runtime, 'python');
        py.child.kill('SIGKILL');
        await py.exited;
        heap.releaseDead(); // (or Node's own watchdog, or the next wait, did it already)
        assert.deepEqual(
          heap.processes().map((p) => p.pid),
          [process.pid],
          'the killed Python process is released',
        );
        const after = heap.stats();
        assert.equal(after.objects, before.objects);
        assert.equal(after.used, before.used);
        assert.equal(after.handles, before.handles);
        assert.deepEqual(core(heap).alloc.verify(), []);
        a.close();
        f.close();
      },
      { size: '64M', name: uniqueName('kill') },
    );
  },
);

const kReserve = `
import sys, shmframe
from shmframe.frame import append as appends
from shmframe.frame.stage import stage
f = shmframe.attach(sys.argv[1])
store, payload = f._store, f._ref.payload()
cols = {'x': [10.0, 20.0], 's': ['dead-1', 'dead-2']}
staged = [stage(store.column(i), cols.get(store.column(i).name), 2, lambda k: 'value') for i in range(store.ncols)]
if sys.argv[2] == 'reserve':
    appends.reserve_staged(store, staged, 2)   # rows and string bytes reserved, never published
else:
    appends.lock_append(store)               # the append lock held
print('ready', flush=True)
${kBlock}
`;

for (const where of ['reserve', 'lock']) {
  test(
    `a Python process killed mid-append (${where === 'reserve' ? 'rows reserved' : 'the append lock held'}): Node's next append publishes past it, the heap is back where it was`,
    { skip },
    async () => {
      await withProcessHeap(async (heap) => {
        const f = SharedFrame.create({ x: 'f8', s: 'utf8' }, { capacity: 16, heap });
        f.append({ x: [1, 2], s: ['a', 'b'] });
        const before = heap.stats();
        const py = spawnPython(kReserve, [String(f.handle), where], { stdin: 'pipe' });
        await py.line(/^ready/);
        py.child.kill('SIGKILL');
        await py.exited;
        // Node's append waits for the dead reservation (or lock) only until the heap has
        // released the dead process, which the waiting append itself asks for.
        const at = f.append({ x: [3, 4], s: ['ünï', 'c'] });
        if (where === 'reserve') {
          assert.equal(at, 4, 'after the two rows the dead process reserved');
          assert.equal(f.length, 6);
          assert.deepEqual(
            [2, 3].map((r) => [f.get(r, 'x'), f.get(r, 's')]),
            [
              [null, null],
              [null, null],
            ],
          );
        } else {
          assert.equal(at, 2);
          assert.equal(f.length, 4);
        }
        assert.deepEqual(
          [f.get(-2, 'x'), f.get(-2, 's'), f.get(-1, 'x'), f.get(-1, 's')],
          [3, 'ünï', 4, 'c'],
        );
        assert.equal(heap.processes().length, 1);
        const after = heap.stats();
        assert.equal(after.objects, before.objects);
        assert.equal(after.used, before.used);
        f.close();
      });
    },
  );
}

test(
  'a Python process killed holding the allocator lock: Node repairs the allocator on its next allocation',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const before = heap.stats();
        const py = spawnPython(
          `
import sys, numpy as np, shmframe
heap = shmframe.Heap.open(sys.argv[1])
a = shmframe.SharedArray.from_numpy(heap, np.zeros(100))
heap._core._enter()
heap._core.alloc.lock()                  # holds the allocator lock (identity slot * 2**21 + 0)
print('locked', flush=True)
${kBlock}
`,
          [heap.name],
          { stdin: 'pipe' },
        );
        await py.line(/^locked/);
        py.child.kill('SIGKILL');
        await py.exited;
        const b = SharedArray.zeros([100], 'f8', { heap }); // waits on the lock until the owner is found dead
        assert.equal(heap.stats().repairs, before.repairs + 1);
        b.close();
        assert.deepEqual(core(heap).alloc.verify(), []);
        assert.equal(heap.stats().objects, before.objects);
      },
      { size: '64M', name: uniqueName('alloc-lock') },
    );
  },
);

// (A handle string made and not yet attached is a reference in flight, owned by the handle, not by
// the process: one lost with its process stays until heap.releaseHandle, in Node as in Python.
// So the loop takes its extra references through lookup() and the queue, never a bare handle.)
const kLoop = `
import sys, numpy as np, shmframe
heap = shmframe.Heap.open(sys.argv[1])
f = heap.lookup('frame'); q = heap.lookup('queue')
i = 0
while True:
    b = heap.lookup('array')                                 # a fresh reference
    c = shmframe.SharedArray.from_numpy(heap, np.full(64 + i % 500, i, 'i4'))   # allocate
    g = shmframe.SharedFrame.create(heap, {'v': 'i4', 't': 'category'}, capacity=8)
    g.append({'v': [i], 't': [str(i % 3)]})
    f.append({'n': [i], 's': [f'row {i}']})
    q.put(c)                                                 # share into a slot
    d = q.get()                                              # adopt from the slot
    b.close(); c.close(); d.close(); g.close()               # release, free
    i += 1
    print(i, flush=True)
`;

test(
  'Python killed with SIGKILL at random points of a loop of reference operations: every time the heap returns to where it was and the allocator is intact',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const a = SharedArray.full([32], 7, 'f8', { heap });
        const f = SharedFrame.create(
          { n: 'i4', s: 'utf8' },
          { capacity: 100_000, heap, stringBytes: 4 << 20 },
        );
        const q = SharedQueue.create({ capacity: 2, heap });
        heap.publish('array', a);
        heap.publish('frame', f);
        heap.publish('queue', q);
        const before = heap.stats();
        for (let round = 0; round < 8; round++) {
          const py = spawnPython(kLoop, [heap.name]);
          // Kill after a random number of iterations: somewhere inside the next one.
          const k = 2 + Math.floor(Math.random() * 40);
          await py.line(new RegExp(`^${k}$`));
          py.child.kill('SIGKILL');
          await py.exited;
          heap.releaseDead();
          assert.equal(heap.processes().length, 1, `round ${round}: released`);
          // An item the dead process put and did not take back stays in the queue, like any item.
          for (let item = q.tryGet(); item !== undefined; item = q.tryGet()) item.close();
          const after = heap.stats();
          assert.equal(after.objects, before.objects, `round ${round}: objects`);
          assert.equal(after.used, before.used, `round ${round}: used bytes`);
          assert.equal(after.handles, before.handles, `round ${round}: handles`);
          assert.deepEqual(core(heap).alloc.verify(), [], `round ${round}: allocator`);
          // Rows the dead process appended are complete, or published as nulls by the next append.
          f.append({ n: [-1], s: ['node'] });
          for (let r = 0; r < f.length; r++) {
            const n = f.get(r, 'n');
            const s = f.get(r, 's');
            if (n === null) assert.equal(s, null);
            else if (n >= 0) assert.equal(s, `row ${n}`);
            else assert.equal(s, 'node');
          }
        }
        for (const key of heap.published()) heap.unpublish(key);
        a.close();
        f.close();
        q.detach();
      },
      { size: '256M', name: uniqueName('kill-loop') },
    );
  },
);

test(
  'a Python process that exits leaves the heap: its references are released without anyone reaping it',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const a = SharedArray.full([10], 1, 'f8', { heap });
        const before = heap.stats();
        const py = spawnPython(
          `
import sys, numpy as np, shmframe
a = shmframe.attach(sys.argv[1])
kept = [shmframe.SharedArray.from_numpy(a.heap, np.ones(10)) for _ in range(5)]   # never closed
`,
          [String(a.handle)],
        );
        await py.ok();
        const python = heap.processes().filter((p) => p.runtime === 'python');
        assert.ok(
          python.every((p) => p.state !== 'live'),
          JSON.stringify(python),
        );
        assert.equal(heap.stats().objects, before.objects, 'released at exit, before any reaping');
        a.close();
      },
      { size: '64M', name: uniqueName('exit') },
    );
  },
);

test(
  'Python releases a Node process that was killed: its references, and a SharedLock it held passes on',
  { skip },
  async () => {
    // The heap is a Python process's (this test process never maps it), so the release is Python's.
    const name = uniqueName('reap-node');
    const shmBefore = shmEntries();
    const owner = spawnPython(
      `
import json, sys, numpy as np, shmframe
heap = shmframe.Heap.create('64M', name=sys.argv[1])
lock = shmframe.SharedLock.create(heap)
a = shmframe.SharedArray.from_numpy(heap, np.zeros(4, 'i4'))
before = heap.stats()['objects']
print(str(lock.handle), str(a.handle), flush=True)
sys.stdin.readline()                                 # the Node process was killed
live = {p['runtime']: p['state'] for p in heap.processes() if not p['self']}
got = lock.acquire(timeout=10)                       # the dead holder's lock passes on
died = lock.previous_owner_died
lock.release()
print(json.dumps({'got': got, 'died': died, 'others': live, 'objects': [before, heap.stats()['objects']],
                  'verify': heap.verify(), 'processes': len(heap.processes())}), flush=True)
lock.detach(); a.close()
`,
      [name],
      { stdin: 'pipe' },
    );
    const [lockText, arrayText] = (await owner.line(/^shmframe:/)).split(' ');
    const node = spawnNode(
      `
    import { SharedArray, SharedLock } from 'shmframe';
    const a = SharedArray.attach(process.argv[2]);
    const lock = SharedLock.attach(process.argv[3]);
    lock.acquire();
    const mine = [1, 2, 3].map((i) => SharedArray.full([1000], i, 'f8', { heap: a.heap }));
    process.stdout.write('holding\\n');
    setInterval(() => {}, 1000);
    `,
      [arrayText, lockText],
    );
    await node.line(/^holding/);
    node.child.kill('SIGKILL');
    await node.exited;
    owner.child.stdin.write('go\n');
    const r = JSON.parse(await owner.line(/^\{/));
    owner.child.stdin.end();
    await owner.ok();
    assert.deepEqual(r, {
      got: true,
      died: true,
      others: {},
      objects: [r.objects[0], r.objects[0]],
      verify: [],
      processes: 1,
    });
    assert.deepEqual(shmEntries(), shmBefore, 'the Python owner removed the name as it left');
  },
);
