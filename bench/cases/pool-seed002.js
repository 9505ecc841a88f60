// Seed 002's row transform at full size: a 1000 x 5000 f8 SharedFrame indexed by row label; each
// task draws a random 1000 x 5000 matrix, takes means, and returns an outer product with the
// frame's row as a new 1000 x 5000 SharedArray (bench/workers/pool-tasks.js says which outer
// product and why). In the same run, taking turns:
//   sequential   the same task function, called in a loop on the main thread
//   shmframe     Pool.imap over the row labels: the frame goes by handle, results come back moved
//   piscina      a piscina pool that structured-clones the frame into every task and the result out
//   raw          hand-written worker threads that attached the frame once and split the tasks
//                between them: no pool at all, the most this machine gives two threads right now
//                (on a shared 2-core machine, other work can take a core, and then nothing scales)
// Then the seed's own code at the seed's shape (a 5000 x 5000 result per task) through
// shmframe's Pool, against the Python seed's three versions (sequential, pickling mp.Pool,
// shared-memory mp.Pool) run by bench/python/seed002_transform.py, when numpy and pandas exist.
// Targets (DESIGN.md): Pool >= 1.7x sequential on 2 cores; >= 10x the cloning pool; >= 5x the
// Python seed's shared-memory pool.
import { once } from 'node:events';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Heap, Pool, SharedFrame } from 'shmframe';
import {
  GiB,
  MiB,
  availableMemory,
  detectPython,
  gc,
  measureInterleaved,
  runCase,
  runPython,
  summarize,
} from '../lib.js';
import { transform } from '../workers/pool-tasks.js';

const kTasks = new URL('../workers/pool-tasks.js', import.meta.url);
const kRaw = new URL('../workers/pool-raw.js', import.meta.url);

function makeFrame(rows, cols, heap) {
  // Random values, seeded (the same frame every run), labels Idx-0 ... as in the seed.
  let x = 12345;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 4294967296;
  };
  const columns = { label: Array.from({ length: rows }, (_, i) => `Idx-${i}`) };
  for (let j = 0; j < cols; j++) {
    columns[`Col-${j}`] = Float64Array.from({ length: rows }, rnd);
  }
  const frame = SharedFrame.from(columns, { index: 'label', heap });
  const numeric = frame.select(frame.columns.slice(1));
  const values = numeric.values(); // [rows, cols], column-major, over the frame's memory
  numeric.close();
  return { frame, values };
}

/** What a cloning pool sends: the frame's labels and numbers as plain JS data. */
function plainFrame(frame, values) {
  return {
    labels: [...frame.col('label')],
    values: values.data.slice(),
    strides: [...values.strides],
    rows: values.shape[0],
    cols: values.shape[1],
  };
}

await runCase('pool-seed002', async ({ quick, repeats, result, log }) => {
  const rows = quick ? 200 : 1000;
  const cols = quick ? 500 : 5000;
  const tasks = quick ? 8 : 100;
  const workers = Math.min(2, os.availableParallelism());
  const resultBytes = rows * cols * 8;
  const need = 40 * resultBytes + 2 * GiB;
  if (availableMemory() < need) {
    result.skip(
      `seed 002 transform: needs ${(need / GiB).toFixed(1)} GiB available, ${(availableMemory() / GiB).toFixed(1)} GiB are`,
    );
    return;
  }
  const heap = Heap.create({ size: 24 * resultBytes + 512 * MiB });
  Heap.setDefault(heap); // the sequential baseline allocates its results here too
  const { frame, values } = makeFrame(rows, cols, heap);
  const labels = (() => {
    let x = 99;
    return Array.from({ length: tasks }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return `Idx-${x % rows}`;
    });
  })();
  const checksum = (a) => a.data[0] + a.data[a.size - 1];

  const pool = new Pool({ module: kTasks, workers, heap });
  const piscina = new Piscina({
    filename: kTasks.href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
  });
  const plain = plainFrame(frame, values);
  const raw = Array.from({ length: workers }, () => new Worker(kRaw));
  await Promise.all(
    raw.map((w) => {
      w.postMessage({ frame: frame.handle, values: values.handle });
      return once(w, 'message');
    }),
  );
  const sums = { sequential: [], shmframe: [], piscina: [], raw: [] };
  try {
    const methods = {
      sequential: () => {
        let s = 0;
        for (let i = 0; i < tasks; i++) {
          const out = transform({ frame, values, label: labels[i], seed: i });
          s += checksum(out);
          out.close();
        }
        sums.sequential.push(s);
      },
      shmframe: async () => {
        let s = 0;
        const items = labels.map((label, seed) => ({ frame, values, label, seed }));
        for await (const out of pool.imap('transform', items)) {
          s += checksum(out);
          out.close();
        }
        sums.shmframe.push(s);
      },
      piscina: async () => {
        const outs = await Promise.all(
          labels.map((label, seed) =>
            piscina.run({ frame: plain, label, seed }, { name: 'transformCloned' }),
          ),
        );
        sums.piscina.push(outs.reduce((s, a) => s + a[0] + a[a.length - 1], 0));
      },
      raw: async () => {
        const parts = await Promise.all(
          raw.map((w, k) => {
            const mine = labels.map((_, i) => i).filter((i) => i % workers === k);
            w.postMessage({ labels: mine.map((i) => labels[i]), seeds: mine });
            return once(w, 'message').then(([v]) => v);
          }),
        );
        sums.raw.push(parts.reduce((a, b) => a + b, 0));
      },
    };
    const t = await measureInterleaved(methods, {
      warmup: 1,
      repeats: repeats ?? (quick ? 1 : 3),
      before: () => gc(),
    });
    // Every method computed the same results (same seeds): a broken path is no benchmark.
    const want = sums.sequential[0];
    for (const [name, list] of Object.entries(sums)) {
      for (const s of list) {
        if (Math.abs(s - want) > 1e-6 * Math.abs(want))
          throw new Error(`${name} computed ${s}, the sequential loop ${want}`);
      }
    }
    const perTask = (stat) => summarize(stat.samples.map((ms) => ms / tasks));
    log(
      `${rows}x${cols}, ${tasks} tasks: sequential ${t.sequential.median.toFixed(0)} ms, shmframe ${t.shmframe.median.toFixed(0)} ms, piscina ${t.piscina.median.toFixed(0)} ms, raw threads ${t.raw.median.toFixed(0)} ms`,
    );
    result.add({
      id: 'seed002-vs-sequential',
      what: `seed 002 transform (${rows}x${cols} f8, ${tasks} tasks): Pool.imap, ${workers} workers, vs a sequential loop`,
      unit: 'ms',
      shmframe: perTask(t.shmframe),
      alternative: { name: 'sequential loop', stat: perTask(t.sequential) },
      target: { text: '>= 1.7x', min: 1.7 },
    });
    result.add({
      id: 'seed002-raw-vs-sequential',
      what: `seed 002 transform: ${workers} hand-written worker threads (no pool) vs the sequential loop: what the machine gives ${workers} threads now`,
      unit: 'ms',
      shmframe: perTask(t.raw),
      alternative: { name: 'sequential loop', stat: perTask(t.sequential) },
      target: null,
    });
    result.add({
      id: 'seed002-vs-raw',
      what: `seed 002 transform: Pool.imap vs ${workers} hand-written worker threads (the pool's own cost)`,
      unit: 'ms',
      shmframe: perTask(t.shmframe),
      alternative: { name: `${workers} raw worker threads`, stat: perTask(t.raw) },
      target: null,
    });
    result.add({
      id: 'seed002-vs-piscina-clone',
      what: `seed 002 transform: Pool.imap vs piscina cloning the frame in and the result out`,
      unit: 'ms',
      shmframe: perTask(t.shmframe),
      alternative: { name: `piscina (${workers} threads, clone)`, stat: perTask(t.piscina) },
      target: { text: '>= 10x', min: 10 },
    });
    result.note(
      `seed 002 transform: ms per task; a run of ${tasks} tasks per sample, the three methods taking turns; the results of every method are checked against the sequential loop's`,
    );
  } finally {
    await piscina.destroy();
    for (const w of raw) w.postMessage({ stop: true });
    await Promise.all(raw.map((w) => once(w, 'exit')));
  }

  // ---- the seed's own shape, against the Python seed
  const pyTasks = quick ? 4 : 24;
  const py = detectPython(['numpy', 'pandas']);
  if (!py.ok) {
    result.skip(`seed 002 vs the Python seed: ${py.reason}`);
  } else {
    const seedShape = summarize(
      await (async () => {
        const samples = [];
        const items = labels
          .slice(0, pyTasks)
          .map((label, seed) => ({ frame, values, label, seed, shape: 'seed' }));
        for (let r = -1; r < (repeats ?? (quick ? 1 : 3)); r++) {
          gc();
          const t0 = performance.now();
          let n = 0;
          for await (const out of pool.imap('transform', items)) {
            if (out.shape[0] !== cols || out.shape[1] !== cols)
              throw new Error(`expected a ${cols}x${cols} result, got ${out.shape}`);
            n++;
            out.close();
          }
          if (n !== pyTasks) throw new Error(`got ${n} results of ${pyTasks}`);
          if (r >= 0) samples.push((performance.now() - t0) / pyTasks);
        }
        return samples;
      })(),
    );
    log(
      `seed shape (${cols}x${cols} results): shmframe ${seedShape.median.toFixed(1)} ms per task`,
    );
    const { result: r } = await runPython('seed002_transform.py', [
      '--rows',
      rows,
      '--cols',
      cols,
      '--tasks',
      pyTasks,
      '--workers',
      workers,
      '--modes',
      'sequential,naive,shared',
      '--repeats',
      quick ? 1 : 3,
    ]);
    const pyStat = (mode) => summarize(r.modes[mode].loop_seconds.map((s) => (s * 1000) / pyTasks));
    const names = {
      shared: 'Python seed, shared-memory mp.Pool',
      sequential: 'Python seed, sequential',
      naive: 'Python seed, pickling mp.Pool',
    };
    for (const mode of ['shared', 'sequential', 'naive']) {
      result.add({
        id: `seed002-seed-shape-vs-python-${mode}`,
        what: `seed 002 at the seed's shape (${rows}x${cols} frame, ${cols}x${cols} result per task, ${pyTasks} tasks): Pool.imap vs ${names[mode]}`,
        unit: 'ms',
        shmframe: seedShape,
        alternative: { name: names[mode], stat: pyStat(mode) },
        target: mode === 'shared' ? { text: '>= 5x', min: 5 } : null,
      });
    }
    result.note(
      `Python seed: bench/python/seed002_transform.py runs the seed's code verbatim (numpy ${r.versions.numpy}, pandas ${r.versions.pandas}); compared: its imap loops (loop_seconds, what the seed's tqdm bar timed), against Pool.imap loops over an existing pool and frame`,
    );
  }
  await pool.close();
  values.close();
  frame.close();
});
