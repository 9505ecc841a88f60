// A Python process getting a large frame made by Node as a pandas DataFrame: shmframe (look the
// frame up in a named heap, to_pandas(): zero-copy columns) against, in the same run and the same
// Python process, pickle through a pipe from another process and seed 000's SharedMemory +
// structured array + pd.DataFrame (which copies), at 4, 40 and 400 MB (2 and 20 MB with --quick).
// The frame: 8 f8, 2 i4, 1 bool and 1 datetime64[ns] column (81 bytes per row).
// Targets (issue 13): flat in size; >= 1000x the pickle at 400 MB.
import { Heap, SharedFrame } from 'shmframe';
import { GiB, MiB, availableMemory, detectPython, runCase, runPython, summarize } from '../lib.js';

const kRowBytes = 8 * 8 + 2 * 4 + 1 + 8;
const schema = [
  ...Array.from({ length: 8 }, (_, i) => [`f${i}`, 'f8']),
  ['i0', 'i4'],
  ['i1', 'i4'],
  ['flag', 'bool'],
  ['when', 'M8[ns]'],
];

/** The frame of `rows` rows, filled with the values bench/python/attach_frame.py checks. */
function makeFrame(heap, rows) {
  const f = SharedFrame.create(schema, { capacity: rows, length: rows, heap });
  for (let k = 0; k < 8; k++) {
    const c = f.col(`f${k}`);
    for (let i = 0; i < rows; i++) c[i] = i * 0.5 + k;
  }
  for (const name of ['i0', 'i1']) {
    const c = f.col(name);
    for (let i = 0; i < rows; i++) c[i] = i % 1000;
  }
  const flag = f.col('flag');
  for (let i = 0; i < rows; i++) flag[i] = i % 2 === 0 ? 1 : 0;
  const when = f.col('when');
  for (let i = 0; i < rows; i++) when[i] = BigInt(i) * 1000n;
  return f;
}

function label(bytes) {
  return `${Math.round(bytes / 1e6)} MB`;
}

await runCase('python-attach', async ({ quick, repeats, result, log }) => {
  const py = detectPython(['numpy', 'pandas']);
  if (!py.ok) {
    result.skip(`Python attach: ${py.reason}`);
    return;
  }
  const sizes = quick ? [2e6, 20e6] : [4e6, 40e6, 400e6];
  if (quick) result.skip('400 MB: not in --quick (2 MB and 20 MB instead)');
  const n = repeats ?? (quick ? 3 : 5);
  const shm = [];
  for (const bytes of sizes) {
    // the heap, plus the pickle (bytes and the unpickled copy) and the seed's block and its copy
    if (availableMemory() < 6 * bytes + 2 * GiB) {
      result.skip(`${label(bytes)}: not enough memory available`);
      continue;
    }
    const rows = Math.floor(bytes / kRowBytes);
    const heap = Heap.create({
      size: Math.ceil(rows * kRowBytes * 1.1) + 64 * MiB,
      name: `bench-attach-${process.pid}`,
    });
    try {
      log(`python-attach: ${label(bytes)} (${rows} rows)`);
      const frame = makeFrame(heap, rows);
      heap.publish('frame', frame);
      frame.close();
      const { result: r } = await runPython('attach_frame.py', [
        '--heap',
        heap.name,
        '--key',
        'frame',
        '--rows',
        rows,
        '--repeats',
        n,
      ]);
      if (r.seed_shares_memory !== false) throw new Error('the seed recipe was expected to copy');
      const mine = summarize(r.ms.shmframe);
      shm.push([bytes, mine]);
      result.add({
        id: `vs-pickle-${label(bytes).replace(' ', '')}`,
        what: `Python gets a ${label(bytes)} frame made by Node as a pandas DataFrame: lookup + to_pandas() (zero-copy)`,
        unit: 'ms',
        better: 'lower',
        shmframe: mine,
        alternative: {
          name: 'pickle through a pipe (multiprocessing.Pipe)',
          stat: summarize(r.ms.pickle),
        },
        target: bytes === 400e6 ? { text: '>= 1000x', min: 1000 } : null,
      });
      result.add({
        id: `vs-seed-${label(bytes).replace(' ', '')}`,
        what: `the same, against seed 000's SharedMemory + structured array + pd.DataFrame (copies every column)`,
        unit: 'ms',
        better: 'lower',
        shmframe: mine,
        alternative: {
          name: 'SharedMemory(name=) + np.ndarray(buffer=) + pd.DataFrame(copy=False)',
          stat: summarize(r.ms.seed),
        },
      });
      result.note(
        `${label(bytes)}: Heap.open of the named heap (once per process) ${r.open_ms.toFixed(2)} ms`,
      );
      heap.unpublish('frame');
    } finally {
      heap.unlink();
    }
  }
  if (shm.length >= 2) {
    const [small, large] = [shm[0], shm[shm.length - 1]];
    result.add({
      id: 'flat-in-size',
      what: `shmframe at ${label(large[0])} against shmframe at ${label(small[0])} (flat in size: within 2x)`,
      unit: 'ms',
      better: 'lower',
      shmframe: large[1],
      alternative: { name: `shmframe at ${label(small[0])}`, stat: small[1] },
      target: { text: '>= 0.5x', min: 0.5 },
    });
  }
  result.note(
    'Times are taken inside the Python process (CLOCK_MONOTONIC, the same clock in both processes of the pipe), from "the data is ready in the other process" to "this process has the DataFrame".',
  );
});
