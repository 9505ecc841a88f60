// SharedFrame (issue 3). A mixed 6-column frame (f8, i4, bool, utf8, category, M8[ms]):
// - build it from JS columns with SharedFrame.from, vs building the same Arrow table with
//   apache-arrow's builders, vs structured-cloning the equivalent array of row objects to a worker;
// - hand it to a worker that sums one column: flat in size (10k to 4M rows), vs structured-cloning
//   the columns to the worker;
// - toArrow(): microseconds, independent of the row count.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as A from 'apache-arrow';
import { Heap, SharedFrame } from 'shmframe';
import {
  GiB,
  MiB,
  availableMemory,
  gc,
  measure,
  measureSync,
  rootDir,
  runCase,
  summarize,
} from '../lib.js';

const kWorker = new URL('../workers/frame.js', import.meta.url);
const kCities = Array.from({ length: 40 }, (_, i) => `city-${i}`);
const kSchema = { city: 'category' };

/** The input columns of an n-row frame, as a JS program would have them. */
function columns(n) {
  return {
    x: Float64Array.from({ length: n }, (_, i) => i * 0.25),
    n: Int32Array.from({ length: n }, (_, i) => i),
    flag: Array.from({ length: n }, (_, i) => i % 3 === 0),
    name: Array.from({ length: n }, (_, i) => `name-${(i * 7919) % 1000003}`),
    city: Array.from({ length: n }, (_, i) => kCities[i % kCities.length]),
    when: Array.from({ length: n }, (_, i) => new Date(1.6e12 + i * 1000)),
  };
}

function rowsOf(cols, n) {
  const rows = new Array(n);
  for (let i = 0; i < n; i++)
    rows[i] = {
      x: cols.x[i],
      n: cols.n[i],
      flag: cols.flag[i],
      name: cols.name[i],
      city: cols.city[i],
      when: cols.when[i],
    };
  return rows;
}

/** The same table with apache-arrow's builders (one append per value). */
function arrowBuild(cols, n) {
  const types = {
    x: new A.Float64(),
    n: new A.Int32(),
    flag: new A.Bool(),
    name: new A.Utf8(),
    city: new A.Dictionary(new A.Utf8(), new A.Int32()),
    when: new A.TimestampMillisecond(),
  };
  const vectors = {};
  for (const [k, type] of Object.entries(types)) {
    const b = A.makeBuilder({ type, nullValues: [null, undefined] });
    const src = cols[k];
    if (k === 'when') for (let i = 0; i < n; i++) b.append(src[i].getTime());
    else for (let i = 0; i < n; i++) b.append(src[i]);
    vectors[k] = b.finish().toVector();
  }
  return new A.Table(vectors);
}

/** Milliseconds `code` takes in a fresh node process (without code: the first toArrow() call). */
function importCost(code) {
  const script =
    code === undefined
      ? `const { SharedFrame } = await import('shmframe'); const f = SharedFrame.from({ x: [1] }); const t0 = performance.now(); f.toArrow(); console.log(performance.now() - t0); f.close();`
      : `const t0 = performance.now(); ${code}; console.log(performance.now() - t0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: rootDir,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

const label = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
const sumOf = (n) => (0.25 * (n - 1) * n) / 2; // sum of x = i * 0.25

await runCase('frame', async ({ quick, repeats, result, log }) => {
  const n = quick ? 50_000 : 1_000_000;
  const need = quick ? 0.5 * GiB : 4 * GiB;
  if (availableMemory() < need) {
    result.skip(
      `needs ${need / GiB} GiB available, ${(availableMemory() / GiB).toFixed(1)} GiB are`,
    );
    return;
  }
  const heap = Heap.create({ size: quick ? 256 * MiB : 2 * GiB });
  const worker = new Worker(kWorker);
  await once(worker, 'online');
  let pending;
  worker.on('message', (m) => pending.resolve(m));
  worker.on('error', (err) => pending?.reject(err));
  const ask = (msg) =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject };
      worker.postMessage(msg);
    });
  const slow = repeats ?? (quick ? 3 : 5);
  const fast = repeats ?? (quick ? 5 : 9);

  // ---- build a 1M x 6 frame
  let cols = columns(n);
  const from = await measure(
    () => {
      const f = SharedFrame.from(cols, { schema: kSchema, heap });
      if (f.length !== n || f.get(n - 1, 'name') !== cols.name[n - 1]) throw new Error('bad frame');
      f.close();
    },
    { warmup: 1, repeats: slow, before: gc },
  );
  log(`SharedFrame.from ${label(n)} x 6: ${from.median.toFixed(1)} ms`);
  const arrow = await measure(
    () => {
      const t = arrowBuild(cols, n);
      if (t.numRows !== n || t.getChild('name').get(n - 1) !== cols.name[n - 1])
        throw new Error('bad table');
    },
    { warmup: 1, repeats: slow, before: gc },
  );
  log(`apache-arrow builders: ${arrow.median.toFixed(1)} ms`);
  result.add({
    id: 'from-vs-arrow-builders',
    what: `build a ${label(n)}-row frame (f8 i4 bool utf8 category M8[ms]) from JS columns, vs apache-arrow builders`,
    unit: 'ms',
    shmframe: from,
    alternative: { name: 'apache-arrow makeBuilder', stat: arrow },
  });
  let rows = rowsOf(cols, n);
  const clone = await measure(
    async () => {
      const s = await ask({ k: 'rows', rows });
      if (s !== sumOf(n)) throw new Error(`worker summed ${s}`);
    },
    { warmup: 1, repeats: slow, before: gc },
  );
  log(`structured clone of ${label(n)} row objects to a worker: ${clone.median.toFixed(1)} ms`);
  result.add({
    id: 'from-vs-clone-rows',
    what: `build a ${label(n)}-row frame from JS columns, vs structured-cloning the row objects to a worker`,
    unit: 'ms',
    shmframe: from,
    alternative: { name: 'postMessage(rows)', stat: clone },
  });
  rows = undefined;
  cols = undefined;
  gc();

  // ---- hand a frame to a worker that sums one column: flat in size
  const sizes = quick ? [10_000, 50_000] : [10_000, 1_000_000, 4_000_000];
  const peeks = new Map();
  for (const size of sizes) {
    let c = columns(size);
    const f = SharedFrame.from(c, { schema: kSchema, heap });
    // Measure the hand-off without millions of input objects alive in this thread: a large JS
    // heap slows every garbage collection, which is not what this row is about.
    c = undefined;
    gc();
    const peek = await measure(
      async () => {
        if ((await ask({ k: 'peek', h: f.handle })) !== 0) throw new Error('bad peek');
      },
      { warmup: 2, warmupMs: 300, repeats: fast, inner: quick ? 100 : 300 },
    );
    peeks.set(size, peek);
    const handSum = await measure(
      async () => {
        if ((await ask({ k: 'sum', h: f.handle, col: 'x' })) !== sumOf(size))
          throw new Error('bad sum');
      },
      { warmup: 2, warmupMs: 200, repeats: fast, inner: size > 1e6 ? 3 : 20 },
    );
    c = columns(size);
    // Cloning 4M rows takes tens of seconds: fewer samples there.
    const cloneCols = await measure(
      async () => {
        if ((await ask({ k: 'columns', columns: c })) !== sumOf(size)) throw new Error('bad sum');
      },
      { warmup: size > 1e6 ? 0 : 1, repeats: size > 1e6 ? Math.min(slow, 2) : slow, before: gc },
    );
    log(
      `${label(size)} rows: hand-off ${(peek.median * 1000).toFixed(1)} µs, hand-off + sum ${handSum.median.toFixed(2)} ms, clone ${cloneCols.median.toFixed(1)} ms`,
    );
    result.add({
      id: `handoff-sum-${label(size)}-vs-clone`,
      what: `hand a ${label(size)}-row frame to a worker that sums column x, vs structured-cloning the columns to it`,
      unit: 'ms',
      shmframe: handSum,
      alternative: { name: 'postMessage(columns)', stat: cloneCols },
    });
    f.close();
    c = undefined;
    gc();
  }
  const small = peeks.get(sizes[0]);
  for (const size of sizes.slice(1)) {
    result.add({
      id: `handoff-flat-${label(size)}`,
      what: `flat in size: hand a ${label(size)}-row frame to a worker (attach, read a cell, close, reply) vs a ${label(sizes[0])}-row one`,
      unit: 'ms',
      shmframe: peeks.get(size),
      alternative: { name: `${label(sizes[0])}-row hand-off`, stat: small },
      target: { text: 'flat (>= 0.5x)', min: 0.5 },
    });
  }

  // ---- toArrow(): independent of the row count
  const arrowSizes = quick ? [10_000, 50_000] : [10_000, 1_000_000];
  const views = new Map();
  for (const size of arrowSizes) {
    const f = SharedFrame.from(columns(size), { schema: kSchema, heap });
    const zeroCopy = f.select(['x', 'n', 'name', 'city', 'when']);
    const t0 = zeroCopy.toArrow();
    if (t0.getChild('x').data[0].values.buffer !== heap.buffer) throw new Error('toArrow copied');
    const stat = measureSync(() => zeroCopy.toArrow(), {
      warmup: 3,
      warmupMs: 300,
      repeats: fast,
      inner: 200,
      before: gc,
    });
    const full = measureSync(() => f.toArrow(), {
      warmup: 2,
      repeats: fast,
      inner: size > 1e5 ? 5 : 50,
      before: gc,
    });
    views.set(size, stat);
    log(
      `${label(size)} rows: toArrow (5 zero-copy columns) ${(stat.median * 1000).toFixed(1)} µs; with the bool column (bit-packed copy) ${(full.median * 1000).toFixed(1)} µs`,
    );
    result.add({
      id: `toarrow-bool-${label(size)}`,
      what: `toArrow of all 6 columns at ${label(size)} rows (bool is bit-packed: a copy) vs the 5 zero-copy ones`,
      unit: 'ms',
      shmframe: full,
      alternative: { name: '5 zero-copy columns', stat },
    });
    zeroCopy.close();
    f.close();
  }
  const [a0, a1] = arrowSizes;
  result.add({
    id: `toarrow-flat-${label(a1)}`,
    what: `toArrow (f8 i4 utf8 category M8, zero-copy) at ${label(a1)} rows vs ${label(a0)} rows`,
    unit: 'ms',
    shmframe: views.get(a1),
    alternative: { name: `${label(a0)} rows`, stat: views.get(a0) },
    target: { text: 'flat (>= 0.5x)', min: 0.5 },
  });
  // ---- what loading costs: shmframe alone (it never loads apache-arrow), apache-arrow, and the
  // first toArrow() (which loads it), each in a fresh process.
  const importTimes = {};
  const probes = [
    ['shmframe', "await import('shmframe')"],
    ['arrow', "await import('apache-arrow')"],
    ['firstToArrow', undefined], // times the first toArrow() call alone
  ];
  for (const [key, code] of probes) {
    const samples = [];
    for (let i = 0; i < (quick ? 3 : 7); i++) samples.push(importCost(code));
    importTimes[key] = summarize(samples);
  }
  log(
    `fresh process: import shmframe ${importTimes.shmframe.median.toFixed(1)} ms, import apache-arrow ${importTimes.arrow.median.toFixed(1)} ms, first toArrow() ${importTimes.firstToArrow.median.toFixed(1)} ms`,
  );
  result.add({
    id: 'import-shmframe-vs-arrow',
    what: "import 'shmframe' (which does not load apache-arrow) vs import 'apache-arrow', in a fresh process",
    unit: 'ms',
    shmframe: importTimes.shmframe,
    alternative: { name: "import 'apache-arrow'", stat: importTimes.arrow },
  });
  result.add({
    id: 'import-first-toarrow',
    what: 'the first toArrow() in a process (loads apache-arrow synchronously) vs importing shmframe',
    unit: 'ms',
    shmframe: importTimes.firstToArrow,
    alternative: { name: "import 'shmframe'", stat: importTimes.shmframe },
  });

  result.note(
    'from() copies every value into shared memory (utf8 encoded, categories coded); the Arrow builders build unshared buffers',
  );
  await worker.terminate();
  if (heap.stats().objects !== 0)
    throw new Error(`the case left ${heap.stats().objects} objects in its heap`);
});
