// The ideal parallel version of seed 002's transform, for the pool-seed002 case: a hand-written
// worker that attaches the frame and its values once, then runs the tasks it is told to, with no
// pool in between. `{ frame, values }` handles first, then `{ labels, seeds, reply? }` batches.
// With `reply: 'each'` every result goes back by handle as soon as it is made (`{ result }`, the
// receiver attaches and closes it), as a Pool's results do; without, the worker reads and closes
// its results itself and replies once with their checksum.
import { parentPort } from 'node:worker_threads';
import { SharedArray, SharedFrame } from 'shmframe';
import { transform } from './pool-tasks.js';

let frame;
let values;
parentPort.on('message', (m) => {
  if (m.frame !== undefined) {
    frame = SharedFrame.attach(m.frame);
    values = SharedArray.attach(m.values);
    parentPort.postMessage('ready');
    return;
  }
  if (m.stop) {
    values.close();
    frame.close();
    parentPort.close();
    return;
  }
  let s = 0;
  for (let i = 0; i < m.labels.length; i++) {
    const out = transform({ frame, values, label: m.labels[i], seed: m.seeds[i] });
    if (m.reply === 'each') {
      parentPort.postMessage({ result: out.handle }); // the handle carries its own reference
    } else {
      s += out.data[0] + out.data[out.size - 1];
    }
    out.close();
  }
  if (m.reply !== 'each') parentPort.postMessage(s);
});
