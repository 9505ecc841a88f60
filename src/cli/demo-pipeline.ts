/**
 * The producer-consumer part of `shmframe demo` (seed 002): camera tasks put descriptor arrays on
 * a bounded SharedQueue with a put timeout (skipping frames when it stays full), matcher tasks
 * keep the newest per camera and compare every pair every 8 frames; `q.close()` tells the
 * matchers the cameras are done. Cameras and matchers are tasks of one Pool, one worker each.
 */
import type { Heap } from '../heap/heap.js';
import { Pool } from '../pool/pool.js';
import { SharedQueue } from '../sync/shared-queue.js';
import { SharedArray } from '../array/shared-array.js';
import type { Output } from './demo-report.js';
import type * as Tasks from './demo-tasks.js';

/** The pipeline's dimensions (the seed: 5 cameras x 72 frames of 5000 x 250, queue of 50). */
export interface PipelineSize {
  cameras: number;
  matchers: number;
  frames: number;
  descriptors: number;
  features: number;
  capacity: number;
  /** Descriptors per camera compared in each match (bounds the matching cost). */
  compare: number;
  /** Longest simulated capture, ms. */
  captureMs: number;
  /** Put timeout, ms: a frame still without room after it is skipped. */
  putTimeout: number;
}

/** What the pipeline did. */
export interface PipelineReport {
  queued: number;
  skipped: number;
  taken: number;
  matches: number;
  /** Skipped frames per camera. */
  skippedBy: number[];
  /** Largest heap use the design allows: every frame that can be alive at once. */
  bound: number;
  /** Every frame captured was either taken by a matcher or skipped on a full queue. */
  complete: boolean;
}

/**
 * Runs the pipeline; `sample` is called while it runs (the caller tracks the heap's peak).
 * @example const r = await runPipeline(new URL('./demo-tasks.js', import.meta.url), heap, size, () => {}, out);
 */
export async function runPipeline(
  module: URL,
  heap: Heap,
  size: PipelineSize,
  sample: () => void,
  out: Output,
): Promise<PipelineReport> {
  const q = SharedQueue.create<[number, number, SharedArray]>({ capacity: size.capacity, heap });
  const pool = new Pool<typeof Tasks>({ module, workers: size.cameras + size.matchers, heap });
  // Random descriptors' mean products cluster around 0.25 with a spread of sqrt(7/144/features);
  // a "match" is 4.3 spreads above that: a handful per comparison, as in the seed's output.
  const threshold = 0.25 + 4.3 * Math.sqrt(7 / 144 / size.features);
  // Cameras count the frames they handled in a shared int32 (Atomics.add); the bar reads it.
  const handled = SharedArray.zeros([1], 'i4', { heap });
  const total = size.cameras * size.frames;
  const bar = out.progress('frames', total, 'frames');
  bar.start();
  const timer = setInterval(() => {
    sample();
    const done = Atomics.load(handled.data as Int32Array, 0);
    if (done > bar.done) bar.tick(done - bar.done);
  }, 20);
  try {
    const matching = Array.from({ length: size.matchers }, () =>
      pool.run('matcher', { q, cameras: size.cameras, compare: size.compare, threshold }),
    );
    const capturing = Array.from({ length: size.cameras }, (_, camera) =>
      pool.run('camera', {
        q,
        camera,
        frames: size.frames,
        descriptors: size.descriptors,
        features: size.features,
        captureMs: size.captureMs,
        putTimeout: size.putTimeout,
        handled,
      }),
    );
    const cams = (await Promise.all(capturing)) as { queued: number; skipped: number }[];
    q.close(); // the cameras are done: matchers drain the queue and stop
    const found = (await Promise.all(matching)) as { taken: number; matches: number }[];
    const queued = cams.reduce((s, c) => s + c.queued, 0);
    const skipped = cams.reduce((s, c) => s + c.skipped, 0);
    const took = found.reduce((s, m) => s + m.taken, 0);
    const frameBytes = size.descriptors * size.features * 8;
    return {
      queued,
      skipped,
      taken: took,
      matches: found.reduce((s, m) => s + m.matches, 0),
      skippedBy: cams.map((c) => c.skipped),
      bound: (size.capacity + size.matchers * size.cameras + size.cameras) * frameBytes,
      complete: queued + skipped === total && took === queued,
    };
  } finally {
    clearInterval(timer);
    bar.stop();
    handled.close();
    await pool.close();
    q.detach();
  }
}
