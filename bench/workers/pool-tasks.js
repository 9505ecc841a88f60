// Task module for the pool cases (loaded by shmframe Pool workers and by piscina workers; the
// seed 002 case also calls these functions on the main thread for its sequential baseline).
//
// Seed 002's row transform: draw a random matrix of the frame's size, take means, return an
// outer product with one row of the frame. The seed's literal code (`np.outer(df.loc[idx],
// data.mean(axis=0))`) yields a cols x cols result (5000 x 5000 for its 1000 x 5000 frame);
// issue 4 and DESIGN.md specify a result the size of the frame, which is
// outer(data.mean(axis=1), df.loc[idx]). `shape: 'frame'` computes the latter, `shape: 'seed'`
// the former (for the comparison with the Python seed, which runs the seed's code verbatim).
import { SharedArray } from 'shmframe';
// The demo's generator (xoshiro128**, seeded; 4-8x Math.random here): the bench draws the same
// numbers as `npm start`.
import { fillRandom } from '../../dist/cli/demo-tasks.js';

export { fillRandom };

export function empty() {}

let scratchBuffer = new Float64Array(0);
/**
 * The random matrix is drawn into a buffer kept for the next task of this thread (sequential
 * loop, shmframe worker or piscina worker alike): a fresh 40 MB array per task costs page faults
 * that two threads of one process take in turn, which would measure the kernel, not the pool.
 */
function scratch(n) {
  if (scratchBuffer.length < n) scratchBuffer = new Float64Array(n);
  return scratchBuffer.subarray(0, n);
}

/**
 * The transform on plain memory: `values` holds the frame's numbers with element strides
 * (s0 per row, s1 per column), `r` is the row. Writes into `out` (a TypedArray of the result
 * size) and returns it.
 */
export function compute(values, s0, s1, n, m, r, seed, shape, out) {
  const drawn = fillRandom(scratch(n * m), seed);
  const row = new Float64Array(m);
  for (let j = 0; j < m; j++) row[j] = values[r * s0 + j * s1];
  if (shape === 'seed') {
    // np.outer(df.loc[idx], data.mean(axis=0)): m x m
    const means = new Float64Array(m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) means[j] += drawn[i * m + j];
    for (let j = 0; j < m; j++) means[j] /= n;
    for (let i = 0; i < m; i++) {
      const x = row[i];
      for (let j = 0; j < m; j++) out[i * m + j] = x * means[j];
    }
  } else {
    // np.outer(data.mean(axis=1), df.loc[idx]): n x m, the frame's shape
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += drawn[i * m + j];
      const mean = s / m;
      for (let j = 0; j < m; j++) out[i * m + j] = mean * row[j];
    }
  }
  return out;
}

export function resultShape(n, m, shape) {
  return shape === 'seed' ? [m, m] : [n, m];
}

/**
 * shmframe: the frame and its numeric values (a zero-copy view, made once by the caller) arrive
 * attached, nothing copied; the result is a new SharedArray, moved back to the caller.
 */
export function transform({ frame, values, label, seed, shape = 'frame' }) {
  const r = frame.indexOf(label);
  const [n, m] = values.shape;
  const out = SharedArray.empty(resultShape(n, m, shape), 'f8');
  compute(values.data, values.strides[0], values.strides[1], n, m, r, seed, shape, out.data);
  return out;
}

/** piscina: the frame arrives structured-cloned; the result goes back structured-cloned. */
export function transformCloned({ frame, label, seed, shape = 'frame' }) {
  const r = frame.labels.indexOf(label);
  const [n, m] = [frame.rows, frame.cols];
  const [s0, s1] = frame.strides;
  const [a, b] = resultShape(n, m, shape);
  return compute(frame.values, s0, s1, n, m, r, seed, shape, new Float64Array(a * b));
}

/** A tiny task: what a message costs, not the work. */
export function square(x) {
  return x * x;
}
