// Seed 002's row transform at full size: a 1000 x 5000 f8 SharedFrame indexed by row label; each
// task draws a random 1000 x 5000 matrix, takes means, and returns an outer product with the
// frame's row as a new 1000 x 5000 SharedArray (bench/workers/pool-tasks.js says which outer
// product and why). In the same run, taking turns:
//   sequential   the same task function, called in a loop on the main thread
//   shmframe     Pool.imap over the row labels: the frame goes by handle, results come back moved
//   piscina      a piscina pool that structured-clones the frame into every task and the result out
//   raw          hand-written worker threads that attached the frame once and split the tasks
//                between them, each result handed back by handle as it is made (the main thread
//                attaches it, reads it, closes it): the Pool's work with no pool at all, the most
//                this machine gives two threads right now (on a shared 2-core machine, other work
//                can take a core, and then nothing scales)
//   rawLocal     the same threads keeping their results: each worker reads and closes its own, so
//                nothing goes back to the main thread (less work than the Pool does; shown too,
//                because it was the baseline before)
// Then the seed's own code at the seed's shape (a 5000 x 5000 result per task) through
// shmframe's Pool, against the Python seed's three versions (sequential, pickling mp.Pool,
// shared-memory mp.Pool) run by bench/python/seed002_transform.py, when numpy and pandas exist.
// Targets (DESIGN.md): Pool >= 1.7x sequential on 2 cores; >= 10x the cloning pool; >= 5x the
// Python seed's shared-memory pool; issue 12: Pool >= 0.95x the hand-written threads.
//
// `node --expose-gc bench/cases/pool-seed002.js --pool-only [--repeats n]` times only the Pool and
// the two hand-written variants (no sequential loop, piscina or Python: a run takes seconds rather
// than minutes), for the Pool's own cost on a busy machine where many samples are needed.
import { once } from 'node:events';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Heap, Pool, SharedArray } from 'shmframe';
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
import { checksum, makeFrame, pickLabels, touchHeap } from '../seed002.js';
import { transform } from '../workers/pool-tasks.js';

const kTasks = new URL('../workers/pool-tasks.js', import.meta.url);
const kRaw = new URL('../workers/pool-raw.js', import.meta.url);

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

await runCase('pool-seed002', async ({ quick, repeats, result, log, extra }) => {
  const poolOnly = extra['pool-only'] === true;
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
  const labels = pickLabels(tasks, rows);

  const pool = new Pool({ module: kTasks, workers, heap });
  const piscina = new Piscina({
    filename: kTasks.href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
  });
  const plain = plainFrame(frame, values);
  const raw = Array.from({ length: workers }, () => new Worker(kRaw));
  const rawLocal = Array.from({ length: workers }, () => new Worker(kRaw));
  await Promise.all(
    [...raw, ...rawLocal].map((w) => {
      w.postMessage({ frame: frame.handle, values: values.handle });
      return once(w, 'message');
    }),
  );
  const touched = touchHeap(heap, [rows, cols]);
  const sums = { sequential: [], shmframe: [], piscina: [], raw: [], rawLocal: [] };
  /** Item i goes to worker i % workers, all at once: a fixed split, no scheduling at all. */
  const split = (k) => {
    const mine = labels.map((_, i) => i).filter((i) => i % workers === k);
    return { labels: mine.map((i) => labels[i]), seeds: mine };
  };
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
        // Each result comes back by handle as soon as it is made, like the Pool's.
        let s = 0;
        let got = 0;
        await new Promise((resolve, reject) => {
          const onMessage = (m) => {
            const out = SharedArray.attach(m.result);
            s += checksum(out);
            out.close();
            if (++got === tasks) {
              for (const w of raw) w.off('message', onMessage).off('error', reject);
              resolve();
            }
          };
          raw.forEach((w, k) => {
            w.on('message', onMessage).on('error', reject);
            w.postMessage({ ...split(k), reply: 'each' });
          });
        });
        sums.raw.push(s);
      },
      rawLocal: async () => {
        const parts = await Promise.all(
          rawLocal.map((w, k) => {
            w.postMessage(split(k));
            return once(w, 'message').then(([v]) => v);
          }),
        );
        sums.rawLocal.push(parts.reduce((a, b) => a + b, 0));
      },
    };
    if (poolOnly) {
      delete methods.sequential;
      delete methods.piscina;
    }
    const t = await measureInterleaved(methods, {
      warmup: 1,
      repeats: repeats ?? (quick ? 1 : 3),
      before: () => gc(),
    });
    // Every method computed the same results (same seeds): a broken path is no benchmark.
    const reference = poolOnly ? 'shmframe' : 'sequential';
    const want = sums[reference][0];
    for (const [name, list] of Object.entries(sums)) {
      for (const s of list) {
        if (Math.abs(s - want) > 1e-6 * Math.abs(want))
          throw new Error(`${name} computed ${s}, ${reference} ${want}`);
      }
    }
    const perTask = (stat) => summarize(stat.samples.map((ms) => ms / tasks));
    log(
      `${rows}x${cols}, ${tasks} tasks: ${Object.entries(t)
        .map(([name, stat]) => `${name} ${stat.median.toFixed(0)} ms`)
        .join(', ')}`,
    );
    if (!poolOnly) {
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
        what: `seed 002 transform: ${workers} hand-written worker threads (no pool, results handed back by handle) vs the sequential loop: what the machine gives ${workers} threads now`,
        unit: 'ms',
        shmframe: perTask(t.raw),
        alternative: { name: 'sequential loop', stat: perTask(t.sequential) },
        target: null,
      });
    }
    result.add({
      id: 'seed002-vs-raw',
      what: `seed 002 transform: Pool.imap vs ${workers} hand-written worker threads handing each result back by handle (the pool's own cost)`,
      unit: 'ms',
      shmframe: perTask(t.shmframe),
      alternative: { name: `${workers} raw worker threads`, stat: perTask(t.raw) },
      target: { text: '>= 0.95x', min: 0.95 },
    });
    result.add({
      id: 'seed002-vs-raw-local',
      what: `seed 002 transform: Pool.imap vs ${workers} hand-written worker threads that keep their results (read and close them in the worker: less work than the Pool's)`,
      unit: 'ms',
      shmframe: perTask(t.shmframe),
      alternative: { name: `${workers} raw threads, results kept`, stat: perTask(t.rawLocal) },
      target: null,
    });
    if (!poolOnly) {
      result.add({
        id: 'seed002-vs-piscina-clone',
        what: `seed 002 transform: Pool.imap vs piscina cloning the frame in and the result out`,
        unit: 'ms',
        shmframe: perTask(t.shmframe),
        alternative: { name: `piscina (${workers} threads, clone)`, stat: perTask(t.piscina) },
        target: { text: '>= 10x', min: 10 },
      });
    }
    result.note(
      `seed 002 transform: ms per task; a run of ${tasks} tasks per sample, the ${Object.keys(methods).length} methods taking turns; the results of every method are checked against the ${reference === 'sequential' ? 'sequential loop' : 'Pool'}'s; the heap's pages were touched once before timing (${touched} result-sized blocks), so that no method pays first-touch page faults for another`,
    );
  } finally {
    await piscina.destroy();
    for (const w of [...raw, ...rawLocal]) w.postMessage({ stop: true });
    await Promise.all([...raw, ...rawLocal].map((w) => once(w, 'exit')));
  }

  // ---- the seed's own shape, against the Python seed
  const pyTasks = quick ? 4 : 24;
  const py = poolOnly
    ? { ok: false, reason: 'not run with --pool-only' }
    : detectPython(['numpy', 'pandas']);
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
