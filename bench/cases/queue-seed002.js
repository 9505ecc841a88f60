// Seed 002's producer-consumer at full size: 5 camera threads each produce 72 frames of
// 5000 x 250 f8 descriptors (10 MB) after a random capture delay of up to 1 s, and put
// [camera, frame, descriptors] on a SharedQueue of capacity 50 with a 2 s timeout (skipping the
// frame when it stays full); 2 matcher threads keep the newest frame per camera and compare all
// camera pairs every 8 frames with the seed's similarity. Reports frames produced / skipped /
// received / matched, wall time, and peak RSS against the bound capacity x frame size + a
// constant; then runs the seed's own Python version (bench/python/seed002_producer_consumer.py)
// with the same parameters when numpy is present.
//
// Two runs:
// 1. like for like with Python: matching compares 100 rows of each camera (`--match-rows`), so
//    that neither side's matchers fall behind: wall time, memory, frames lost or skipped. The
//    seed's full 5000-row d1 @ d2.T is 12.5 GFLOP per camera pair (about 5.6 TFLOP per run):
//    that would measure numpy's BLAS against plain JS loops, not the queue.
// 2. backpressure (Node only): 500 rows (`--slow-rows`), which JS matches slower than the cameras
//    produce, so the queue fills, cameras skip frames after 2 s, and peak RSS must stay within
//    the live frames' bound: (capacity + frames in flight) x frame size x the allocator's
//    fragmentation factor + a constant, and must not grow in the second half of the run.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Heap, SharedQueue } from 'shmframe';
import {
  MiB,
  availableMemory,
  detectPython,
  peakRss,
  resetPeakRss,
  runCase,
  runPython,
  summarize,
} from '../lib.js';

const kWorker = new URL('../workers/seed002.js', import.meta.url);

function rssNow() {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function start(data) {
  const w = new Worker(kWorker, { workerData: data });
  return {
    w,
    result: new Promise((resolve, reject) => {
      let value;
      w.on('message', (m) => (value = m));
      w.on('error', reject);
      w.on('exit', (code) =>
        code === 0 ? resolve(value) : reject(new Error(`${data.role} exited with ${code}`)),
      );
    }),
  };
}

/** Resident bytes of the heap's mapping (the SharedArrayBuffer), from /proc/self/smaps. */
function heapResident(heap) {
  let text;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return 0;
  }
  const kb = heap.size / 1024;
  let best = 0;
  for (const m of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const size = Number(/^Size:\s+(\d+) kB/m.exec(m)?.[1] ?? 0);
    if (Math.abs(size - kb) <= 64)
      best = Math.max(best, Number(/^Rss:\s+(\d+) kB/m.exec(m)?.[1] ?? 0));
  }
  return best * 1024;
}

const sum = (list, k) => list.reduce((s, r) => s + r[k], 0);
const mib = (b) => `${(b / MiB).toFixed(0)} MiB`;

/** One run of the pipeline in this process; returns counts, wall time and memory. */
async function runNode({ cameras, matchers, capacity, frames, rows, cols, captureMs, matchRows }) {
  const frameBytes = rows * cols * 8;
  const inFlight = matchers * (cameras + 1) + cameras; // newest per camera + the one just taken, per matcher; one being filled per camera
  const heap = Heap.create({ size: 2 * (capacity + inFlight) * frameBytes + 64 * MiB });
  const q = SharedQueue.create({ capacity, heap });
  globalThis.gc?.();
  const base = rssNow();
  resetPeakRss();
  const samples = [];
  let heapPages = 0;
  let tick = 0;
  const sampler = setInterval(() => {
    samples.push(rssNow());
    if (tick++ % 5 === 0) heapPages = Math.max(heapPages, heapResident(heap));
  }, 100);
  const t0 = performance.now();
  const ms = Array.from({ length: matchers }, () =>
    start({ role: 'matcher', queue: q.handle, cameras, rows, matchRows }),
  );
  const cs = Array.from({ length: cameras }, (_, camera) =>
    start({ role: 'camera', queue: q.handle, camera, frames, rows, cols, captureMs }),
  );
  const made = await Promise.all(cs.map((c) => c.result));
  q.close(); // the matchers drain what is left, then end
  const seen = await Promise.all(ms.map((m) => m.result));
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const peak = peakRss();
  heapPages = Math.max(heapPages, heapResident(heap)); // pages once touched stay resident
  q.detach();
  const left = heap.stats();
  if (left.objects !== 0) throw new Error(`${left.objects} objects left in the heap after the run`);
  const out = {
    produced: sum(made, 'produced'),
    skipped: sum(made, 'skipped'),
    received: sum(seen, 'received'),
    matchEvents: sum(seen, 'matchEvents'),
    pairs: sum(seen, 'pairs'),
    wall,
    base,
    peak,
    heapPages,
    liveBound: (capacity + inFlight) * frameBytes,
    // Highest RSS sample in the middle and in the last third of the run (the first third is
    // start-up: threads, JIT, the queue filling).
    middle: Math.max(
      base,
      ...samples.slice(Math.floor(samples.length / 3), Math.floor((2 * samples.length) / 3)),
    ),
    last: Math.max(base, ...samples.slice(Math.floor((2 * samples.length) / 3))),
  };
  if (out.received !== out.produced)
    throw new Error(`${out.produced} frames put but ${out.received} received`);
  return out;
}

await runCase('queue-seed002', async ({ quick, extra, result, log }) => {
  const p = {
    cameras: 5,
    matchers: 2,
    capacity: 50,
    frames: Number(extra.frames ?? (quick ? 8 : 72)),
    rows: Number(extra.rows ?? (quick ? 500 : 5000)),
    cols: 250,
    captureMs: Number(extra['capture-ms'] ?? (quick ? 20 : 1000)),
    matchRows: Number(extra['match-rows'] ?? (quick ? 50 : 100)),
  };
  const slowRows = Number(extra['slow-rows'] ?? (quick ? 300 : 500));
  const frameBytes = p.rows * p.cols * 8;
  const need = 2 * (p.capacity + 17) * frameBytes + 1024 * MiB;
  if (availableMemory() < need) {
    result.skip(`needs ${(need / 2 ** 30).toFixed(1)} GiB available`);
    return;
  }
  const params = `${p.cameras} cameras x ${p.frames} frames of ${p.rows}x${p.cols} f8, capacity ${p.capacity}, ${p.matchers} matchers`;
  const describe = (r, rowsCompared) =>
    `produced ${r.produced}, skipped ${r.skipped}, received ${r.received}, ` +
    `match events ${r.matchEvents} (${r.pairs} camera pairs, ${rowsCompared} rows each), wall ${r.wall.toFixed(1)} s; ` +
    `RSS ${mib(r.base)} before, peak ${mib(r.peak)} (highest sample ${mib(r.middle)} in the middle third of the run, ${mib(r.last)} in the last); ` +
    `heap pages resident ${mib(r.heapPages)} (frames live at once: at most ${mib(r.liveBound)}), the rest of the peak is the threads`;

  // 1. Like for like with the Python seed.
  const node = await runNode(p);
  log(`node: ${describe(node, p.matchRows)}`);
  result.note(`node (${params}): ${describe(node, p.matchRows)}`);
  const py = detectPython(['numpy']);
  if (!py.ok) {
    result.skip(`seed 002 Python version: ${py.reason}`);
  } else {
    const run = await runPython(
      'seed002_producer_consumer.py',
      [p.cameras, p.frames, p.rows, p.cols, p.capacity, p.matchers, p.captureMs, p.matchRows],
      { timeoutMs: 60 * 60_000 },
    );
    const r = run.result;
    log(`python: ${JSON.stringify(r)}, memory ${JSON.stringify(run.memory)}`);
    result.note(
      `python seed (same parameters): produced ${r.produced}, skipped ${r.skipped}, received ${r.received}, ` +
        `lost ${r.lost} (segment unlinked when its camera process exited), unlink failures ${r.unlinkFailures}, ` +
        `match events ${r.matchEvents} (${r.pairs} pairs), wall ${r.wallSeconds.toFixed(1)} s ` +
        `(of which up to 3 s waiting for silence), peak PSS ${mib(run.memory.pss)}, ` +
        `peak RSS sum ${mib(run.memory.rss)} over ${run.memory.processes} processes, ` +
        `peak /dev/shm growth ${mib(run.memory.devShm)}`,
    );
    result.add({
      id: 'seed002-wall-vs-python',
      what: `seed 002 producer-consumer (${params}, matching ${p.matchRows} rows), wall time`,
      unit: 's',
      better: 'lower',
      shmframe: summarize([node.wall]),
      alternative: {
        name: 'Python seed (mp.Queue + SharedMemory)',
        stat: summarize([r.wallSeconds]),
      },
      target: null,
    });
    result.add({
      id: 'seed002-memory-vs-python',
      what: `seed 002 producer-consumer (${params}), peak memory: node RSS (one process, 8 threads) vs Python PSS of all processes + /dev/shm`,
      unit: 'bytes',
      better: 'lower',
      shmframe: summarize([node.peak]),
      alternative: { name: 'Python seed', stat: summarize([run.memory.pss + run.memory.devShm]) },
      target: null,
    });
  }

  // 2. Backpressure: matchers slower than the cameras.
  const slow = await runNode({ ...p, matchRows: slowRows });
  log(`node, slow matchers: ${describe(slow, slowRows)}`);
  result.note(`node with slow matchers (${params}): ${describe(slow, slowRows)}`);
  // Fragmentation: measured 1.0 (FIFO-like frees) to 1.6 (random frees of same-size frames).
  const constant = 64 * MiB + (p.cameras + p.matchers) * 32 * MiB; // + a V8 isolate per thread
  const bound = slow.base + 1.6 * slow.liveBound + constant;
  result.add({
    id: 'seed002-peak-rss-bound',
    what:
      `seed 002 with matchers slower than the cameras (${params}, matching ${slowRows} rows): peak RSS within ` +
      `RSS before + 1.6 x (capacity + frames in flight) x frame + 64 MiB + 32 MiB per thread`,
    unit: 'bytes',
    better: 'lower',
    shmframe: summarize([slow.peak]),
    alternative: null,
    target: { text: `<= ${mib(bound)}`, met: slow.peak <= bound },
  });
  result.add({
    id: 'seed002-rss-not-growing',
    what: 'seed 002 with slow matchers: highest RSS sample in the last third of the run vs the middle third',
    unit: 'bytes',
    better: 'lower',
    shmframe: summarize([slow.last]),
    alternative: { name: 'middle third', stat: summarize([slow.middle]) },
    // --quick is too short for a steady state (threads still growing their heaps).
    target: quick
      ? null
      : {
          text: 'not growing (<= middle + 1 frame + 16 MiB)',
          met: slow.last <= slow.middle + frameBytes + 16 * MiB,
        },
  });
});
