// Task functions of example 002. They run in Pool worker threads: shared objects in their
// arguments arrive attached (not copied), shared objects they return are moved to the caller.
import { SharedArray, QueueFullError } from 'shmframe';

/** A small seeded generator of uniform doubles in [0, 1) (mulberry32), like np.random.random. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Seed 002's `do_work`: a random matrix the size of the frame, its row means, and their outer
 * product with the frame's row `label` (`df.loc[idx]`): a new rows x cols result, returned as a
 * SharedArray (the seed's `return SharedNumpyArray(result)`, without the copy).
 */
export function transform({ frame, values, label, seed }) {
  const [n, m] = values.shape;
  const [s0, s1] = values.strides; // values is column-major: strides [1, n]
  const r = frame.indexOf(label); // the row of that label (df.loc's lookup)
  const rnd = random(seed);
  const out = SharedArray.empty([n, m], 'f8'); // in the pool's heap: the caller can read it
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += rnd();
    const mean = s / m;
    for (let j = 0; j < m; j++) out.data[i * m + j] = mean * values.data[r * s0 + j * s1];
  }
  return out;
}

/** Blocks this worker thread for `ms` milliseconds (a camera taking its time). */
function pause(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A camera (producer): captures `frames` frames of `descriptors` x `features` object descriptors
 * into shared arrays and puts each on the queue, skipping the frame when the queue stays full
 * for `putTimeout` ms. Returns what it did.
 */
export function camera({ q, camera, frames, descriptors, features, putTimeout }) {
  const rnd = random(1000 + camera);
  let queued = 0;
  let skipped = 0;
  for (let i = 0; i < frames; i++) {
    pause(rnd() * 10); // capture and detection take 0-10 ms
    const objects = SharedArray.empty([descriptors, features], 'f8', { heap: q.heap });
    for (let k = 0; k < objects.size; k++) objects.data[k] = rnd();
    try {
      q.put([camera, i, objects], { timeout: putTimeout }); // the array goes by handle
      queued++;
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      skipped++; // still full after the timeout: skip this frame (as the seed does)
    } finally {
      objects.close(); // always: the queue item holds its own reference
    }
  }
  console.log(`camera ${camera} done capturing, skipped ${skipped} frames`);
  return { queued, skipped };
}

/**
 * A matcher (consumer): keeps the newest descriptors of each camera (closing the older ones,
 * which frees them once nobody else holds them) and compares every pair every 8 frames.
 * It ends when the queue is closed and drained: no timeout guessing that producers are done.
 */
export async function matcher({ q, cameras, threshold }) {
  const newest = new Array(cameras).fill(null);
  let taken = 0;
  let found = 0;
  for await (const [camera, frame, objects] of q) {
    taken++;
    newest[camera]?.close();
    newest[camera] = objects;
    if (frame % 8 === 0) found += match(frame, newest, threshold);
  }
  for (const o of newest) o?.close();
  return { taken, found };
}

/** Cosine-like similarity of every descriptor pair between every two cameras (seed 002). */
function match(frame, newest, threshold) {
  let total = 0;
  for (let a = 0; a < newest.length - 1; a++) {
    for (let b = a + 1; b < newest.length; b++) {
      const d1 = newest[a];
      const d2 = newest[b];
      if (d1 === null || d2 === null) continue;
      const [n, f] = d1.shape;
      let matches = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let k = 0; k < f; k++) dot += d1.data[i * f + k] * d2.data[j * f + k];
          if (dot / f > threshold) matches++;
        }
      }
      if (matches > 0)
        console.log(`found ${matches} matches at frame ${frame} between cameras ${a} and ${b}`);
      total += matches;
    }
  }
  return total;
}
