/**
 * The row-transform part of `shmframe demo` (seed 002): the frame, and the transform run three
 * ways: a sequential loop, a pool fed plain Float64Arrays (structured-cloned in and out, which is
 * what every other Node pool does), and shmframe's Pool passing the shared frame by handle and
 * returning SharedArrays. Each returns a checksum of its results, so the caller can check that
 * the three computed the same thing.
 */
import type { SharedArray } from '../array/shared-array.js';
import { SharedFrame } from '../frame/shared-frame.js';
import type { Heap } from '../heap/heap.js';
import { Pool } from '../pool/pool.js';
import { formatSeconds, type Output, type Recorder } from './demo-report.js';
import { transformShared } from './demo-tasks.js';
import type * as Tasks from './demo-tasks.js';

/** Everything the three runs share. */
export interface TransformSetup {
  frame: SharedFrame;
  /** The frame's numbers as one zero-copy [rows, cols] view (column-major). */
  values: SharedArray;
  /** The row labels to transform, one per task (`df.index[np.random.choice(...)]`). */
  labels: string[];
  workers: number;
  heap: Heap;
  /** The task module: `new URL('./demo-tasks.js', import.meta.url)`. */
  module: URL;
  out: Output;
  rec: Recorder;
}

/** A small seeded generator (the same frame and rows on every run). */
export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296;
}

/**
 * The seed's frame: random numbers in columns `Col-0...`, indexed by labels `Idx-0...`, and its
 * numbers as one 2-D view of the same memory.
 * @example const { frame, values } = buildFrame(1000, 5000);
 */
export function buildFrame(
  rows: number,
  cols: number,
): { frame: SharedFrame; values: SharedArray } {
  const rnd = lcg(12345);
  const columns: Record<string, string[] | Float64Array> = {
    label: Array.from({ length: rows }, (_, i) => `Idx-${i}`),
  };
  for (let j = 0; j < cols; j++) columns[`Col-${j}`] = Float64Array.from({ length: rows }, rnd);
  const frame = SharedFrame.from(columns, { index: 'label' });
  const numeric = frame.select(frame.columns.slice(1));
  const values = numeric.values();
  numeric.close();
  return { frame, values };
}

/**
 * A pool whose workers have all started: start-up (tens of milliseconds per worker) is left out
 * of the timings, as the seed's tqdm clock starts after `mp.Pool()` was created.
 */
async function startPool(s: TransformSetup): Promise<Pool<typeof Tasks>> {
  const t0 = performance.now();
  const pool = new Pool<typeof Tasks>({ module: s.module, workers: s.workers, heap: s.heap });
  await pool.ready();
  s.out.line(
    s.out.dim(
      `  (${plural(s.workers, 'worker')} started in ${formatSeconds(performance.now() - t0)}, not timed)`,
    ),
  );
  return pool;
}

/** `1 worker`, `2 workers`. */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const checksum = (d: Float64Array): number => (d[0] as number) + (d[d.length - 1] as number);

/**
 * The baseline: the task function called in a loop on this thread.
 * @example const sum = await runSequential(setup);
 */
export async function runSequential(s: TransformSetup): Promise<number> {
  let sum = 0;
  const tasks = s.labels.length;
  await s.rec.run('sequential loop', async () => {
    const bar = s.out.progress('sequential', tasks);
    bar.start();
    for (let i = 0; i < tasks; i++) {
      const r = transformShared({
        frame: s.frame,
        values: s.values,
        label: s.labels[i] ?? '',
        seed: i,
      });
      s.rec.sample();
      sum += checksum(r.data as Float64Array);
      r.close();
      bar.tick(1);
      if (s.out.bars) await new Promise((resolve) => setImmediate(resolve)); // lets the bar redraw
    }
    bar.stop();
    return { tasks };
  });
  return sum;
}

/**
 * A cloning pool: the frame's numbers and labels as plain (non-shared) arrays in every item,
 * structured-cloned into each task, and the plain Float64Array result cloned back.
 * @example const sum = await runCloned(setup);
 */
export async function runCloned(s: TransformSetup): Promise<number> {
  const [rows = 0, cols = 0] = s.values.shape;
  const plain = new Float64Array(rows * cols); // row-major, in this thread's own memory
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) plain[i * cols + j] = s.values.get(i, j) as number;
  const labelList = [...(s.frame.col('label') as Iterable<string>)];
  const tasks = s.labels.length;
  const pool = await startPool(s);
  let sum = 0;
  try {
    await s.rec.run(`cloning pool (${plural(s.workers, 'worker')})`, async () => {
      const items = s.labels.map((label, seed) => ({
        values: plain,
        labels: labelList,
        rows,
        cols,
        label,
        seed,
      }));
      const progress = s.out.bars ? 'cloning pool' : undefined;
      // Piped: a plain line every few seconds (this phase is the slow one).
      const ticker = s.out.bars ? undefined : s.out.ticker('cloning pool', tasks);
      for await (const r of pool.imap('transformCloned', items, { progress })) {
        sum += checksum(r);
        ticker?.tick(1);
      }
      return {
        tasks,
        copied: 2 * tasks * plain.byteLength,
        note: 'the frame cloned into every task, each result cloned back',
      };
    });
  } finally {
    await pool.close();
  }
  return sum;
}

/**
 * shmframe's Pool: the shared frame and its values view in every item (by handle), each result a
 * new SharedArray moved back; closing it frees it.
 * @example const sum = await runShared(setup);
 */
export async function runShared(s: TransformSetup): Promise<number> {
  const tasks = s.labels.length;
  const pool = await startPool(s);
  let sum = 0;
  try {
    await s.rec.run(`shmframe Pool (${plural(s.workers, 'worker')})`, async () => {
      const items = s.labels.map((label, seed) => ({
        frame: s.frame,
        values: s.values,
        label,
        seed,
      }));
      const progress = s.out.bars ? 'shmframe Pool' : undefined;
      const ticker = s.out.bars ? undefined : s.out.ticker('shmframe Pool', tasks);
      for await (const r of pool.imap('transformShared', items, { progress })) {
        ticker?.tick(1);
        s.rec.sample();
        sum += checksum(r.data as Float64Array);
        r.close();
      }
      return { tasks, copied: 0, note: 'the frame and every result by handle' };
    });
  } finally {
    await pool.close();
  }
  return sum;
}
