/**
 * Task functions of `shmframe demo` (seed 002). The demo's pools load this module in their
 * workers (`new URL('./demo-tasks.js', import.meta.url)`); the sequential baseline calls the same
 * functions on the main thread, so every path computes exactly the same thing.
 *
 * The row transform: draw a random matrix the size of the frame, take the mean of each of its
 * rows, and return their outer product with one row of the frame: a result the frame's size
 * (1000 x 5000 for the seed's frame). The seed's literal `np.outer(df.loc[idx],
 * data.mean(axis=0))` would give a 5000 x 5000 result; issue 4 and DESIGN.md specify one the
 * size of the frame, so the means are taken along the other axis.
 */
import { SharedArray } from '../array/shared-array.js';
import { QueueFullError } from '../errors.js';
import type { SharedFrame } from '../frame/shared-frame.js';
import type { SharedQueue } from '../sync/shared-queue.js';

/**
 * Fills `out` with uniform doubles in [0, 1) of 53 random bits each (like numpy's `random()`),
 * from xoshiro128** seeded with `seed`: the same numbers on every thread, and 4-8x faster than
 * `Math.random` here (measured by bench/workers/pool-tasks.js, which uses the same generator).
 * @example fillRandom(new Float64Array(5000), 7)
 */
export function fillRandom(out: Float64Array, seed: number): Float64Array {
  let s0 = Math.imul(seed + 1, 0x9e3779b9) | 1;
  let s1 = 0x243f6a88;
  let s2 = 0x85a308d3;
  let s3 = 0x13198a2e;
  for (let i = -8; i < out.length; i++) {
    let hi = Math.imul(s1, 5);
    hi = Math.imul((hi << 7) | (hi >>> 25), 9) >>> 0;
    let t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    let lo = Math.imul(s1, 5);
    lo = Math.imul((lo << 7) | (lo >>> 25), 9) >>> 0;
    t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    if (i >= 0) out[i] = ((hi >>> 5) * 67108864 + (lo >>> 6)) / 9007199254740992;
  }
  return out;
}

let scratchBuffer = new Float64Array(0);
/**
 * The random matrix goes into a buffer this thread keeps for its next task: a fresh 40 MB array
 * per task would measure page faults (which the threads of one process take in turn), not the
 * work. Every path (sequential, cloning pool, shmframe Pool) does the same.
 */
function scratch(n: number): Float64Array {
  if (scratchBuffer.length < n) scratchBuffer = new Float64Array(n);
  return scratchBuffer.subarray(0, n);
}

/**
 * The transform on plain memory: `values` holds the frame's n x m numbers with element strides
 * `s0` (per row) and `s1` (per column); `r` is the row. Writes the n x m result into `out`.
 * @example rowTransform(values.data, 1, 1000, 1000, 5000, 42, 0, out.data)
 */
export function rowTransform(
  values: Float64Array,
  s0: number,
  s1: number,
  n: number,
  m: number,
  r: number,
  seed: number,
  out: Float64Array,
): Float64Array {
  const drawn = fillRandom(scratch(n * m), seed);
  const row = new Float64Array(m);
  for (let j = 0; j < m; j++) row[j] = values[r * s0 + j * s1] as number;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += drawn[i * m + j] as number;
    const mean = s / m;
    for (let j = 0; j < m; j++) out[i * m + j] = mean * (row[j] as number);
  }
  return out;
}

/** Arguments of {@link transformShared}: the shared frame and its values arrive by handle. */
export interface SharedItem {
  frame: SharedFrame;
  /** `frame.values()` of the numeric columns: a zero-copy [rows, cols] view, made once. */
  values: SharedArray;
  label: string;
  seed: number;
}

/**
 * shmframe's way: the frame arrives attached (nothing copied), the row is found by its label
 * (`df.loc`), and the result is a new SharedArray, moved back to the caller (nothing copied).
 * @example for await (const out of pool.imap('transformShared', items)) out.close();
 */
export function transformShared({ frame, values, label, seed }: SharedItem): SharedArray {
  const r = frame.indexOf(label);
  const [n = 0, m = 0] = values.shape;
  const [s0 = 0, s1 = 0] = values.strides;
  const out = SharedArray.empty([n, m], 'f8');
  rowTransform(values.data as Float64Array, s0, s1, n, m, r, seed, out.data as Float64Array);
  return out;
}

/** Arguments of {@link transformCloned}: what every other Node pool sends (structured clone). */
export interface ClonedItem {
  /** The frame's numbers, row-major, in a plain (non-shared) Float64Array: cloned per task. */
  values: Float64Array;
  labels: string[];
  rows: number;
  cols: number;
  label: string;
  seed: number;
}

/**
 * The cloning pool's way: the frame's numbers and labels arrive structured-cloned into every
 * task, and the plain Float64Array result is structured-cloned back.
 * @example await pool.run('transformCloned', { values, labels, rows, cols, label, seed: 0 })
 */
export function transformCloned({ values, labels, rows, cols, label, seed }: ClonedItem) {
  const r = labels.indexOf(label);
  return rowTransform(values, cols, 1, rows, cols, r, seed, new Float64Array(rows * cols));
}

/** Arguments of {@link camera}. */
export interface CameraArgs {
  q: SharedQueue<[number, number, SharedArray]>;
  camera: number;
  frames: number;
  descriptors: number;
  features: number;
  /** Longest simulated capture, ms (the seed sleeps up to 1 s). */
  captureMs: number;
  /** How long a put waits for room before the frame is skipped, ms (the seed: 2000). */
  putTimeout: number;
  /** A shared int32 counter of frames handled (queued or skipped), for a progress display. */
  handled?: SharedArray;
}

const kPause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A camera (producer): captures `frames` frames of descriptors into new SharedArrays and puts
 * `[camera, frame, descriptors]` on the queue, skipping the frame when the queue stays full for
 * `putTimeout` ms. The array travels by handle; the camera closes its own reference at once.
 * @example await pool.run('camera', { q, camera: 0, frames: 24, descriptors: 1000, features: 250, captureMs: 40, putTimeout: 200 })
 */
export function camera(a: CameraArgs): { queued: number; skipped: number } {
  let queued = 0;
  let skipped = 0;
  for (let i = 0; i < a.frames; i++) {
    const seed = a.camera * 100_003 + i;
    Atomics.wait(kPause, 0, 0, ((seed * 2654435761) % 1000) * (a.captureMs / 1000)); // capturing
    const objects = SharedArray.empty([a.descriptors, a.features], 'f8', { heap: a.q.heap });
    fillRandom(objects.data as Float64Array, seed);
    try {
      a.q.put([a.camera, i, objects], { timeout: a.putTimeout });
      queued++;
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      skipped++; // the seed's `except Full`: this frame is skipped
    } finally {
      objects.close();
      if (a.handled) Atomics.add(a.handled.data as Int32Array, 0, 1);
    }
  }
  return { queued, skipped };
}

/** Arguments of {@link matcher}. */
export interface MatcherArgs {
  q: SharedQueue<[number, number, SharedArray]>;
  cameras: number;
  /** Descriptors of each camera compared (the first ones): bounds the matching cost. */
  compare: number;
  threshold: number;
}

/**
 * A matcher (consumer): keeps the newest descriptors per camera, closing the previous ones (which
 * frees them), and every 8 frames compares every pair of cameras. Ends when the queue is closed
 * and drained: the producers' end is signalled, not guessed from silence.
 * @example await pool.run('matcher', { q, cameras: 5, compare: 200, threshold: 0.3 })
 */
export async function matcher(a: MatcherArgs): Promise<{ taken: number; matches: number }> {
  const newest: (SharedArray | null)[] = new Array<SharedArray | null>(a.cameras).fill(null);
  let taken = 0;
  let matches = 0;
  for await (const [cam, frame, objects] of a.q) {
    taken++;
    newest[cam]?.close();
    newest[cam] = objects;
    if (frame % 8 === 0) matches += matchAll(newest, a.compare, a.threshold);
  }
  for (const o of newest) o?.close();
  return { taken, matches };
}

/** Pairs of descriptors whose mean product exceeds `threshold`, over every pair of cameras. */
function matchAll(newest: readonly (SharedArray | null)[], compare: number, threshold: number) {
  let found = 0;
  for (let a = 0; a < newest.length - 1; a++) {
    const d1 = newest[a];
    if (d1 == null) continue;
    for (let b = a + 1; b < newest.length; b++) {
      const d2 = newest[b];
      if (d2 == null) continue;
      const x = d1.data as Float64Array;
      const y = d2.data as Float64Array;
      const f = d1.shape[1] ?? 1;
      const n = Math.min(compare, d1.shape[0] ?? 0, d2.shape[0] ?? 0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let k = 0; k < f; k++) dot += (x[i * f + k] as number) * (y[j * f + k] as number);
          if (dot / f > threshold) found++;
        }
      }
    }
  }
  return found;
}
