// Small items (an integer) from a worker to the main thread: items/s through a SharedQueue one
// item per call (blocking get, getAsync, for await, a producer using putAsync) and in batches of
// 256 (putMany -> getMany / getManyAsync: DESIGN.md's "batched publishing"), against the same
// numbers posted on a MessagePort, in the same run. Every run checks that all n items arrived,
// in order. Targets (DESIGN.md): >= 1M items/s, >= 5x a MessagePort.
import { once } from 'node:events';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Heap, SharedQueue } from 'shmframe';
import { runCase, summarize, toRate } from '../lib.js';
import { queueVariants } from '../queue-variants.js';

await runCase('queue-throughput', async ({ quick, repeats, result, log }) => {
  const n = quick ? 100_000 : 1_000_000;
  const heap = Heap.create({ size: '16M' });
  const q = SharedQueue.create({ capacity: 1024, maxItemBytes: 16, heap });
  const worker = new Worker(new URL('../workers/queue-producer.js', import.meta.url), {
    workerData: { queue: q.handle },
  });
  heap.watch(worker);
  await once(worker, 'online');

  const { copy: port, ...queue } = queueVariants(q, n, {
    send: (m) => worker.postMessage(m),
    on: (fn) => worker.on('message', fn),
  });
  const variants = { ...queue, port };
  // Round-robin: one run of each variant per round, so that the (shared, busy) machine's load
  // changes affect them alike; the first round is warm-up.
  const rounds = repeats ?? (quick ? 3 : 7);
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = -1; r < rounds; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      if (r < 0) continue;
      samples[name].push(performance.now() - t0);
      const c = process.cpuUsage(c0); // both threads: this process
      cpu[name].push(((c.user + c.system) * 1000) / n);
    }
  }
  const cpuPerItem = Object.entries(cpu)
    .map(([k, v]) => `${k} ${summarize(v).median.toFixed(0)} ns`)
    .join(', ');
  result.note(`CPU time per item (both threads, median): ${cpuPerItem}`);
  result.note(`load average at start ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  worker.postMessage({ kind: 'exit' });
  await once(worker, 'exit');
  q.detach();

  const rate = (name) => toRate(summarize(samples[name]), n);
  const portRate = rate('port');
  log(`MessagePort: ${(portRate.median / 1e6).toFixed(2)} M items/s`);
  for (const [id, what, target] of [
    ['sync', 'put (worker) -> get (main): blocking calls', { text: '>= 5x', min: 5 }],
    ['getAsync', 'put (worker) -> getAsync (main)', null],
    ['forAwait', 'put (worker) -> for await (main)', null],
    ['putAsync', 'putAsync (worker) -> getAsync (main)', null],
    ['batch', 'putMany (worker) -> getMany (main), batches of 256', { text: '>= 5x', min: 5 }],
    ['batchAsync', 'putMany (worker) -> getManyAsync (main), batches of 256', null],
  ]) {
    const r = rate(id);
    log(`SharedQueue ${id}: ${(r.median / 1e6).toFixed(2)} M items/s`);
    result.add({
      id: `queue-${id}-vs-port`,
      what: `${n.toLocaleString('en')} small items between two threads, ${what}`,
      unit: 'items/s',
      better: 'higher',
      shmframe: r,
      alternative: { name: 'MessagePort postMessage', stat: portRate },
      target,
    });
  }
  const s = rate('sync');
  result.add({
    id: 'queue-sync-rate',
    what: 'blocking put/get between two threads, absolute rate (target >= 1M items/s)',
    unit: 'items/s',
    better: 'higher',
    shmframe: s,
    alternative: null,
    target: { text: '>= 1M/s', met: s.median >= 1e6 },
  });
  result.note(
    'capacity 1024, maxItemBytes 16; variants run round-robin (one of each per round) so load changes hit all alike',
  );
});
