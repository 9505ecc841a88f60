// Seed 002 reversed across languages: two Python "camera" processes put 480x640 frames (numpy
// arrays in shared memory) into a SharedQueue of capacity 4; the Node consumer takes them with
// getAsync, checks every frame and closes it. Items are handles: nothing is pickled or copied,
// and the queue's capacity bounds the memory in flight.
// Run: node examples/python-002-queue-producer/index.js
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Heap, SharedArray, SharedQueue } from 'shmframe';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.SHMFRAME_PYTHON || '/usr/bin/python3';
const env = { ...process.env, PYTHONPATH: fileURLToPath(new URL('../../python', import.meta.url)) };

const heap = Heap.create({ size: '64M', name: `example-python-002-${process.pid}` });
const start = heap.stats();
const queue = SharedQueue.create({ capacity: 4, heap });
const frames = 40;
const cameras = [1, 2].map((camera) => {
  const child = spawn(
    python,
    [`${here}producer.py`, String(queue.handle), String(camera), String(frames)],
    {
      env,
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return { child, exit: once(child, 'exit'), err: () => err };
});

const seen = new Map([
  [1, 0],
  [2, 0],
]);
let done = 0;
let peak = 0;
try {
  while (done < cameras.length) {
    const item = await queue.getAsync({ timeout: 30_000 });
    if (typeof item === 'string') {
      console.log(`node got: ${item}`);
      done++;
      continue;
    }
    peak = Math.max(peak, heap.stats().used);
    const camera = item.get(0, 0);
    const index = item.get(0, 1) * 256 + item.get(0, 2);
    if (!SharedArray.isSharedArray(item) || item.dtype !== '|u1' || index !== seen.get(camera))
      throw new Error('a frame out of order');
    seen.set(camera, index + 1);
    item.close(); // the consumer's reference: the frame's memory is reused for the next one
  }
  console.log(
    `node consumed ${[...seen.values()].reduce((a, b) => a + b, 0)} frames of 480x640 u1 (${[...seen].map(([c, n]) => `camera ${c}: ${n}`).join(', ')}), in order`,
  );
  console.log(
    `peak heap use ${(peak / 2 ** 20).toFixed(1)} MiB for a queue of 4 frames of ${((480 * 640) / 2 ** 20).toFixed(2)} MiB`,
  );
} catch (err) {
  for (const c of cameras) c.child.kill();
  console.log(
    `python producers could not run (${err.message}; ${cameras.map((c) => c.err().trim().split('\n').pop()).join(' ')}): needs numpy`,
  );
}
await Promise.all(cameras.map((c) => c.exit));
heap.releaseDead();
queue.detach();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
