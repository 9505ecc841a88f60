// Worker side of bench/cases/queue-seed002.js: seed 002's camera and matcher, with SharedQueue
// and SharedArray. Posts its totals and exits.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedArray, SharedQueue } from 'shmframe';

const { role, queue, camera, frames, rows, cols, captureMs, cameras, matchRows } = workerData;
const q = SharedQueue.attach(queue);
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The seed's similarity: the share of (d1 @ d2.T) / cols above 0.4, over `m` rows of each. */
function matchPair(a, b, m) {
  const x = a.data;
  const y = b.data;
  const c = a.shape[1];
  let matches = 0;
  for (let i = 0; i < m; i++) {
    const xi = i * c;
    for (let j = 0; j < m; j++) {
      const yj = j * c;
      let dot = 0;
      for (let k = 0; k < c; k++) dot += x[xi + k] * y[yj + k];
      if (dot / c > 0.4) matches++;
    }
  }
  return matches;
}

if (role === 'camera') {
  let skipped = 0;
  for (let i = 0; i < frames; i++) {
    Atomics.wait(pause, 0, 0, Math.random() * captureMs); // camera_capture's sleep(random())
    const objects = SharedArray.empty([rows, cols], 'f8', { heap: q.heap });
    const d = objects.data;
    for (let k = 0; k < d.length; k++) d[k] = Math.random();
    try {
      q.put([camera, i, objects], { timeout: 2000 });
    } catch (err) {
      if (err.code !== 'SHMFRAME_ERR_QUEUE_FULL') throw err;
      skipped++; // the queue stayed full for 2 s: skip the frame, as the seed does
    } finally {
      objects.close();
    }
  }
  q.detach();
  parentPort.postMessage({ produced: frames - skipped, skipped });
} else {
  const newest = new Array(cameras).fill(null);
  let received = 0;
  let matchEvents = 0;
  let pairs = 0;
  let matches = 0;
  for (;;) {
    let item;
    try {
      item = q.get(); // close() ends the loop: no 3 s of silence to wait out
    } catch (err) {
      if (err.code === 'SHMFRAME_ERR_QUEUE_CLOSED') break;
      throw err;
    }
    const [cam, frame, objects] = item;
    received++;
    newest[cam]?.close();
    newest[cam] = objects;
    if (frame % 8 === 0) {
      matchEvents++;
      for (let i = 0; i < cameras - 1; i++) {
        for (let j = i + 1; j < cameras; j++) {
          if (newest[i] === null || newest[j] === null) continue;
          matches += matchPair(newest[i], newest[j], Math.min(matchRows, rows));
          pairs++;
        }
      }
    }
  }
  for (const o of newest) o?.close();
  q.detach();
  parentPort.postMessage({ received, matchEvents, pairs, matches });
}
