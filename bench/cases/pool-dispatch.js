// Task dispatch overhead: empty tasks per second through Pool.run (many calls in flight), map and
// imap, against piscina's run with the same number of threads, in the same run, taking turns.
// Target (issue 4): at least piscina's throughput.
import os from 'node:os';
import { Piscina } from 'piscina';
import { Pool } from 'shmframe';
import { measureInterleaved, runCase, toRate } from '../lib.js';

const kTasks = new URL('../workers/pool-tasks.js', import.meta.url);

await runCase('pool-dispatch', async ({ quick, repeats, result, log }) => {
  const workers = Math.min(2, os.availableParallelism());
  const n = quick ? 5_000 : 100_000;
  const items = Array.from({ length: n }, (_, i) => i);
  const pool = new Pool({ module: kTasks, workers });
  const piscina = new Piscina({
    filename: kTasks.href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
  });
  const check = (got, what) => {
    if (got !== n) throw new Error(`${what}: ${got} results, expected ${n}`);
  };
  try {
    const methods = {
      run: async () => {
        const all = [];
        for (let i = 0; i < n; i++) all.push(pool.run('empty', i));
        check((await Promise.all(all)).length, 'run');
      },
      map: async () => check((await pool.map('empty', items)).length, 'map'),
      mapChunked: async () =>
        check((await pool.map('empty', items, { chunkSize: 64 })).length, 'map chunkSize 64'),
      imap: async () => {
        let k = 0;
        for await (const _ of pool.imap('empty', items)) k++;
        check(k, 'imap');
      },
      imapWindow: async () => {
        let k = 0;
        for await (const _ of pool.imap('empty', items, { window: 256 })) k++;
        check(k, 'imap window 256');
      },
      piscina: async () => {
        const all = [];
        for (let i = 0; i < n; i++) all.push(piscina.run(i, { name: 'empty' }));
        check((await Promise.all(all)).length, 'piscina');
      },
    };
    const t = await measureInterleaved(methods, {
      warmup: quick ? 1 : 2,
      repeats: repeats ?? (quick ? 2 : 5),
    });
    const rate = (name) => toRate(t[name], n);
    const theirs = { name: `piscina run (${workers} threads)`, stat: rate('piscina') };
    const rows = [
      ['run', `Pool.run x ${n} in flight`],
      ['map', `Pool.map over ${n} items`],
      ['mapChunked', `Pool.map over ${n} items, chunkSize 64`],
      ['imap', `Pool.imap over ${n} items (default window: 3 x workers)`],
      ['imapWindow', `Pool.imap over ${n} items, window 256`],
    ];
    for (const [name, what] of rows) {
      log(`${what}: ${Math.round(rate(name).median)} tasks/s`);
      result.add({
        id: `dispatch-${name}-vs-piscina`,
        what: `empty tasks, ${workers} workers: ${what} vs piscina`,
        unit: 'tasks/s',
        better: 'higher',
        shmframe: rate(name),
        alternative: theirs,
        target: { text: '>= 1x', min: 1 },
      });
    }
    log(`piscina: ${Math.round(rate('piscina').median)} tasks/s`);
    result.note(
      `dispatch: ${n} empty tasks per sample (the task returns undefined), all methods taking turns; piscina ${JSON.parse((await import('node:fs')).readFileSync(new URL('../../node_modules/piscina/package.json', import.meta.url), 'utf8')).version} with its defaults (atomics 'sync')`,
    );
  } finally {
    await piscina.destroy();
    await pool.close();
  }
});
