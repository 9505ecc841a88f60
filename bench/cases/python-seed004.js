// Seed 004 across languages at full size (4 TSV files x 1M rows, 2 workers): Node's readDelimited
// loads the files into frames of a named process heap and publishes one per file; a Python process
// (started beforehand, heap open) takes them by key and writes one HDF5 compound dataset per file
// with h5py from the frames' numpy views. Timed from the start of the load to the Python process
// reporting the file written, against the Python seed in the same run: Pool(2) + np.loadtxt +
// SharedMemory + h5py (bench/python/seed004_load.py).
// Target (issue 13): >= 3x the Python seed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { Heap, readDelimited } from 'shmframe';
import { writeMethylationTsv } from '../data.js';
import {
  GiB,
  MiB,
  availableMemory,
  benchDir,
  detectPython,
  measure,
  pythonEnv,
  pythonPath,
  runCase,
  runPython,
  summarize,
} from '../lib.js';

const schema = [
  ['chr', 'S10'],
  ['pos', '<i4'],
  ['pct', '<f4'],
  ['c', '<i4'],
  ['t', '<i4'],
];

/** The Python writer, started once: send it keys, get a JSON line back per request. */
function startWriter(heapName, out) {
  const child = spawn(
    pythonPath,
    [join(benchDir, 'python/seed004_write.py'), '--heap', heapName, '--out', out],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: pythonEnv(),
    },
  );
  let buf = '';
  let err = '';
  const waiting = [];
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiting.shift()?.resolve(line);
    }
  });
  child.stderr.on('data', (d) => (err += d));
  child.on('exit', (code) => {
    for (const w of waiting.splice(0))
      w.reject(new Error(`seed004_write.py exited with ${code}: ${err}`));
  });
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  return {
    ready: next(),
    request(keys) {
      const p = next();
      child.stdin.write(`${keys.join(' ')}\n`);
      return p.then((line) => JSON.parse(line));
    },
    async close() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

await runCase('python-seed004', async ({ quick, repeats, result, log }) => {
  const py = detectPython(['numpy', 'h5py']);
  if (!py.ok) {
    result.skip(`seed 004 across languages: ${py.reason}`);
    return;
  }
  if (availableMemory() < 3 * GiB) {
    result.skip('seed 004 across languages: needs 3 GiB of available memory');
    return;
  }
  const rowsPerFile = quick ? 50_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'shmframe-bench-py004-'));
  const heap = Heap.create({ size: (quick ? 64 : 512) * MiB, name: `bench-py004-${process.pid}` });
  let writer;
  try {
    const files = [];
    let bytesIn = 0;
    for (let i = 0; i < 4; i++) {
      const r = writeMethylationTsv(join(dir, `data${i + 1}.txt`), {
        rows: rowsPerFile,
        seed: i + 1,
      });
      files.push(r.path);
      bytesIn += r.bytes;
    }
    const keys = files.map((f) => basename(f, extname(f)));
    writer = startWriter(heap.name, join(dir, 'shmframe.h5'));
    await writer.ready;
    const loadMs = [];
    const writeMs = [];
    const run = async () => {
      const t0 = performance.now();
      const frames = await readDelimited(files, { schema, workers: 2, concat: false, heap });
      frames.forEach((f, i) => {
        heap.publish(keys[i], f);
        f.close();
      });
      loadMs.push(performance.now() - t0);
      const r = await writer.request(keys);
      if (r.rows !== 4 * rowsPerFile) throw new Error(`Python wrote ${r.rows} rows`);
      writeMs.push(r.write_seconds * 1000);
      if (heap.stats().objects !== 0) throw new Error('the frames were not freed after the write');
    };
    const n = repeats ?? (quick ? 2 : 5);
    const mine = await measure(run, { warmup: 1, repeats: n });
    const seedRuns = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const { result: r } = await runPython('seed004_load.py', [
        '--out',
        join(dir, 'seed.h5'),
        '--workers',
        2,
        ...files,
      ]);
      if (r.rows !== 4 * rowsPerFile) throw new Error(`the seed loaded ${r.rows} rows`);
      seedRuns.push(r.seconds * 1000);
    }
    result.add({
      id: 'node-load-python-h5py-vs-seed',
      what: `seed 004 across languages: ${4} x ${rowsPerFile} rows (${(bytesIn / 1e6).toFixed(0)} MB); Node readDelimited (2 workers) into a process heap, Python h5py from the views`,
      unit: 'ms',
      better: 'lower',
      shmframe: mine,
      alternative: {
        name: 'Python seed: Pool(2) + np.loadtxt + SharedMemory + h5py',
        stat: summarize(seedRuns),
      },
      target: { text: '>= 3x', min: 3 },
    });
    result.note(
      `split (medians): Node load + publish ${summarize(loadMs.slice(-n)).median.toFixed(0)} ms, Python lookup + records + h5py ${summarize(writeMs.slice(-n)).median.toFixed(0)} ms (the rest is the request round trip)`,
    );
    result.note(
      'The Python writer is started (interpreter, imports, Heap.open) before the timing, as the seed script times itself after its imports.',
    );
    log(
      `python-seed004: ${mine.median.toFixed(0)} ms vs seed ${summarize(seedRuns).median.toFixed(0)} ms`,
    );
  } finally {
    await writer?.close();
    heap.unlink();
    rmSync(dir, { recursive: true, force: true });
  }
});
