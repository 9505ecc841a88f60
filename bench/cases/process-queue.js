// Small items (an integer) from a child process to this one through a SharedQueue in a process
// heap (every wake crosses processes: futexes, and the relay for getAsync), one item per call and
// in batches of 256, against the same numbers sent with process.send, in the same run. Every run
// checks that all n items arrived, in order. Targets (issue 12): >= 1M items/s, >= 10x process.send.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { Heap, SharedQueue } from 'shmframe';
import { runCase, summarize, toRate } from '../lib.js';
import { queueVariants } from '../queue-variants.js';

await runCase('process-queue', async ({ quick, repeats, result, log }) => {
  const n = quick ? 100_000 : 1_000_000;
  const heap = Heap.create({ size: '16M', shared: 'process' });
  const q = SharedQueue.create({ capacity: 1024, maxItemBytes: 16, heap });
  const child = fork(
    new URL('../workers/process-queue-producer.js', import.meta.url),
    [String(q.handle)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  await once(child, 'message');
  const all = queueVariants(q, n, {
    send: (m) => child.send(m),
    on: (fn) => child.on('message', fn),
  });
  const variants = {
    sync: all.sync,
    getAsync: all.getAsync,
    batch: all.batch,
    batchAsync: all.batchAsync,
    send: all.copy,
  };
  const rounds = repeats ?? (quick ? 2 : 5);
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = -1; r < rounds; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const t0 = performance.now();
      await run();
      if (r >= 0) samples[name].push(performance.now() - t0);
    }
  }
  child.send({ kind: 'exit' });
  await once(child, 'exit');
  q.detach();
  const rate = (name) => toRate(summarize(samples[name]), n);
  const sendRate = rate('send');
  log(`process.send: ${(sendRate.median / 1e6).toFixed(3)} M items/s`);
  for (const [id, what, target] of [
    ['sync', 'put (child) -> get (parent): blocking calls', { text: '>= 10x', min: 10 }],
    ['getAsync', 'put (child) -> getAsync (parent)', null],
    ['batch', 'putMany (child) -> getMany (parent), batches of 256', { text: '>= 10x', min: 10 }],
    ['batchAsync', 'putMany (child) -> getManyAsync (parent), batches of 256', null],
  ]) {
    const r = rate(id);
    log(`SharedQueue ${id}: ${(r.median / 1e6).toFixed(2)} M items/s`);
    result.add({
      id: `process-queue-${id}-vs-send`,
      what: `${n.toLocaleString('en')} small items between two processes, ${what}`,
      unit: 'items/s',
      better: 'higher',
      shmframe: r,
      alternative: { name: 'process.send (IPC)', stat: sendRate },
      target,
    });
  }
  for (const id of ['sync', 'batch']) {
    const s = rate(id);
    result.add({
      id: `process-queue-${id}-rate`,
      what: `${id === 'sync' ? 'blocking put/get' : 'putMany/getMany'} between two processes, absolute rate (target >= 1M items/s)`,
      unit: 'items/s',
      better: 'higher',
      shmframe: s,
      alternative: null,
      target: { text: '>= 1M/s', met: s.median >= 1e6 },
    });
  }
  result.note(
    `capacity 1024, maxItemBytes 16; variants run round-robin; load average at start ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`,
  );
});
