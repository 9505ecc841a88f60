// Reference operations from Python, per second, ctypes calls included (bench/python/refs.py),
// against the same operations in Node on the same heap in the same run: what attaching per row
// would cost, and how far the Python package is from Node's engine. No target: a figure for users.
import { Heap, SharedArray } from 'shmframe';
import { MiB, detectPython, measureSync, runCase, runPython, summarize, toRate } from '../lib.js';

await runCase('python-refs', async ({ quick, repeats, result }) => {
  const py = detectPython(['numpy']);
  if (!py.ok) {
    result.skip(`Python reference operations: ${py.reason}`);
    return;
  }
  const heap = Heap.create({ size: 64 * MiB, name: `bench-refs-${process.pid}` });
  try {
    const a = SharedArray.zeros([16], 'f8', { heap });
    heap.publish('a', a);
    const n = quick ? 2000 : 20000;
    const r = repeats ?? (quick ? 3 : 7);
    const { result: pyRates } = await runPython('refs.py', [
      '--heap',
      heap.name,
      '--key',
      'a',
      '--n',
      n,
      '--repeats',
      r,
    ]);
    // Node's equivalents, timed the same way (calls per sample as in Python).
    const nodeOps = {
      retain_release: () => {
        const v = a.rows(0, 16); // a view: one reference taken (retain) ...
        v.close(); // ... and dropped (release)
      },
      lookup_close: () => heap.lookup('a').close(),
      handle_attach_close: () => SharedArray.attach(a.handle).close(),
      allocate_free: () => SharedArray.zeros([16], 'f8', { heap }).close(),
    };
    const names = {
      retain_release:
        'take and drop one reference (Python: HeapCore.retain + release; Node: a view + close)',
      lookup_close: 'heap.lookup(key) + close',
      handle_attach_close: 'make a handle, attach it, close',
      allocate_free: 'SharedArray.zeros(16 f8) + close (allocate + free)',
    };
    for (const [id, what] of Object.entries(names)) {
      const calls = id === 'retain_release' ? n : n / 4;
      const t = measureSync(nodeOps[id], { warmup: 1, warmupMs: 200, repeats: r, inner: calls });
      result.add({
        id,
        what: `${what}: Python, per second`,
        unit: 'ops/s',
        better: 'higher',
        shmframe: summarize(pyRates[id]),
        alternative: { name: 'the same in Node', stat: toRate(t, 1) },
      });
    }
    result.add({
      id: 'numpy_view',
      what: 'SharedArray.numpy(): a numpy view of an attached array, per second',
      unit: 'ops/s',
      better: 'higher',
      shmframe: summarize(pyRates.numpy_view),
    });
    result.note(
      'ratio < 1: Python is that fraction of Node; every Python operation makes 3-6 ctypes calls (about 0.2-0.4 µs each).',
    );
    heap.unpublish('a');
    a.close();
  } finally {
    heap.unlink();
  }
});
