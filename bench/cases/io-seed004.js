// Seed 004 at full size: 4 TSV files x 1M rows (chr pos pct c t), loaded into shared memory and
// written to one HDF5 file with one compound dataset per input file (named after the file), as
// the seed's Pool script does. In the same run:
// - shmframe: readDelimited(files, { workers: 2, concat: false, hdf5: { path, direct } }), which
//   writes each file's dataset as soon as it is parsed (2 worker threads), with direct I/O and
//   without, and the two-call form readDelimited + writeHDF5;
// - the seed's Python pipeline: Pool(2).map(np.loadtxt -> SharedMemory) + h5py (bench/python/seed004_load.py);
// - the same with pandas.read_csv (C parser) instead of np.loadtxt.
// Also the parse rate of one thread on one file (the DESIGN.md target is per core), against
// np.loadtxt's per-file parse rate from the seed script.
// Targets (DESIGN.md): parse >= 300 MB/s per core; whole pipeline >= 3x the Python seed.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { Heap, readDelimited, readHDF5, writeHDF5 } from 'shmframe';
import { writeMethylationTsv } from '../data.js';
// Internals, to time two steps of the pipeline on their own (see the split note below).
import { frameColumns } from '../../dist/io/frame-columns.js';
import { fillRecords, planRecords } from '../../dist/io/records.js';
import { scanFileRange } from '../../dist/io/text/scan.js';
import {
  GiB,
  MiB,
  availableMemory,
  detectPython,
  measure,
  runCase,
  runPython,
  summarize,
  toRate,
} from '../lib.js';

const schema = [
  ['chr', 'S10'],
  ['pos', '<i4'],
  ['pct', '<f4'],
  ['c', '<i4'],
  ['t', '<i4'],
];

await runCase('io-seed004', async ({ quick, repeats, result, log }) => {
  const rowsPerFile = quick ? 50_000 : 1_000_000;
  const nFiles = 4;
  if (availableMemory() < 3 * GiB) {
    result.skip(
      `seed 004: needs 3 GiB of available memory, ${(availableMemory() / GiB).toFixed(1)} GiB free`,
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'shmframe-bench-seed004-'));
  try {
    log(`io-seed004: writing ${nFiles} x ${rowsPerFile} rows`);
    const files = [];
    let bytesIn = 0;
    for (let i = 0; i < nFiles; i++) {
      const r = writeMethylationTsv(join(dir, `data${i + 1}.txt`), {
        rows: rowsPerFile,
        seed: i + 1,
      });
      files.push(r.path);
      bytesIn += r.bytes;
    }
    const mb = bytesIn / 1e6;
    const heap = Heap.create({ size: 8 * bytesIn + 256 * MiB });
    const stem = (p) => basename(p, extname(p));
    const out = join(dir, 'shmframe.h5');

    // ---- shmframe: the whole pipeline, 2 workers. Three ways:
    // - one call: readDelimited writes each file's frame to the HDF5 file as soon as it is
    //   parsed, while the workers parse the next (the `hdf5` option), data with direct I/O;
    // - the same with ordinary (page cache) writes, writeHDF5's default;
    // - two calls: readDelimited, then writeHDF5 (ordinary writes).
    let rows = 0;
    let loadMs = [];
    let writeMs = [];
    let cpuMs = [];
    const oneCall = (direct) => async () => {
      const c0 = process.cpuUsage();
      const frames = await readDelimited(files, {
        schema,
        workers: 2,
        concat: false,
        heap,
        hdf5: { path: out, names: files.map(stem), direct },
      });
      rows = frames.reduce((s, f) => s + f.length, 0);
      for (const f of frames) f.close();
      const c = process.cpuUsage(c0); // this process: the main thread and the worker threads
      if (direct) cpuMs.push((c.user + c.system) / 1000);
    };
    const twoCalls = async () => {
      const t0 = performance.now();
      const frames = await readDelimited(files, { schema, workers: 2, concat: false, heap });
      const t1 = performance.now();
      try {
        await writeHDF5(out, Object.fromEntries(files.map((f, i) => [stem(f), frames[i]])));
      } finally {
        rows = frames.reduce((s, f) => s + f.length, 0);
        for (const f of frames) f.close();
      }
      loadMs.push(t1 - t0);
      writeMs.push(performance.now() - t1);
    };
    // The first load of a process starts the workers (readDelimited keeps them for the next
    // loads, stopping them after 5 s idle): timed apart, then the steady state.
    const coldStart = performance.now();
    await oneCall(true)();
    const coldMs = performance.now() - coldStart;
    const n = repeats ?? (quick ? 2 : 5);
    cpuMs = [];
    const pipeline = await measure(oneCall(true), { warmup: 0, repeats: n });
    const buffered = await measure(oneCall(false), { warmup: 0, repeats: n });
    const separate = await measure(twoCalls, { warmup: 0, repeats: n });
    loadMs = loadMs.slice(-separate.n);
    writeMs = writeMs.slice(-separate.n);
    cpuMs = cpuMs.slice(-pipeline.n);
    // Check what was measured: every row landed, and the last file's last record reads back.
    if (rows !== nFiles * rowsPerFile)
      throw new Error(`loaded ${rows} rows, expected ${nFiles * rowsPerFile}`);
    const back = await readHDF5(out, stem(files[3]), { heap });
    if (back.length !== rowsPerFile) throw new Error(`HDF5 dataset has ${back.length} rows`);
    back.close();
    log(
      `io-seed004: shmframe ${pipeline.median.toFixed(0)} ms in one call (${buffered.median.toFixed(0)} ms with page cache writes; two calls ${separate.median.toFixed(0)} ms: load ${summarize(loadMs).median.toFixed(0)} ms, write ${summarize(writeMs).median.toFixed(0)} ms), ${statSync(out).size} bytes of HDF5`,
    );

    // ---- two steps inside the pipeline, timed alone: the line scan the calling thread does
    // before the workers parse, and the interleaving of columns into records that precedes the
    // HDF5 writes (the rest of the write is h5wasm and the kernel).
    const scanMs = [];
    const fillMs = [];
    const writeAlone = { cache: [], direct: [] };
    {
      const frames = await readDelimited(files, { schema, workers: 2, concat: false, heap });
      try {
        const buf = new Uint8Array(8 << 20);
        for (let rep = 0; rep < (quick ? 2 : 5); rep++) {
          let t = performance.now();
          for (const f of files)
            scanFileRange(f, 0, statSync(f).size, { quote: -1, comment: 35 /* # */ });
          scanMs.push(performance.now() - t);
          t = performance.now();
          for (const frame of frames) {
            const fc = frameColumns(frame, 'bench');
            try {
              const { fields, itemsize } = planRecords(fc.cols, fc.start, fc.length, 'utf8');
              const per = Math.floor(buf.length / itemsize);
              for (let r = 0; r < fc.length; r += per) {
                const n = Math.min(per, fc.length - r);
                fillRecords(fields, itemsize, fc.start + r, fc.start + r + n, buf);
              }
            } finally {
              fc.release();
            }
          }
          fillMs.push(performance.now() - t);
        }
        // The HDF5 write alone (writeHDF5 of the 4 frames), page cache vs direct I/O: wall time
        // and the kernel's CPU time (system time of this process). Each write makes a new file,
        // removed after the timing (replacing a file would add the old one's release).
        for (let rep = 0; rep < (quick ? 1 : 3); rep++)
          for (const direct of [false, true]) {
            const path = join(dir, `alone-${rep}-${direct}.h5`);
            const c0 = process.cpuUsage();
            const t = performance.now();
            await writeHDF5(path, Object.fromEntries(files.map((f, i) => [stem(f), frames[i]])), {
              direct,
            });
            const ms = performance.now() - t;
            writeAlone[direct ? 'direct' : 'cache'].push({
              ms,
              sys: process.cpuUsage(c0).system / 1000,
            });
            rmSync(path);
          }
      } finally {
        for (const f of frames) f.close();
      }
    }

    // ---- parse rate of one thread (no pool) over the 4 files: the per-core figure, also by CPU
    // time (the machine is shared; wall time counts the other work's share of the cores too)
    const oneFile = statSync(files[0]).size / 1e6;
    const allFiles = mb;
    const parseCpu = [];
    const perCore = await measure(
      async () => {
        const c0 = process.cpuUsage();
        const f = await readDelimited(files, { schema, workers: 0, heap });
        const c = process.cpuUsage(c0);
        parseCpu.push((c.user + c.system) / 1000);
        f.close();
      },
      { warmup: 1, repeats: repeats ?? (quick ? 3 : 7) },
    );

    // ---- what two workers give over one on this machine: the load alone (no write), 1 worker
    // then 2 (each pool warmed by one untimed load first)
    const loadWith = (w) => async () => {
      const frames = await readDelimited(files, { schema, workers: w, concat: false, heap });
      for (const f of frames) f.close();
    };
    const load1 = await measure(loadWith(1), { warmup: 1, repeats: repeats ?? (quick ? 2 : 5) });
    const load2 = await measure(loadWith(2), { warmup: 1, repeats: repeats ?? (quick ? 2 : 5) });

    // ---- Python: the seed (np.loadtxt) and pandas.read_csv, both with h5py
    const py = detectPython(['numpy', 'h5py']);
    const pd = detectPython(['numpy', 'h5py', 'pandas']);
    const seedRuns = [];
    const pandasRuns = [];
    const pyRepeats = quick ? 1 : 3;
    if (py.ok) {
      for (let i = 0; i < pyRepeats; i++) {
        const { result: r } = await runPython('seed004_load.py', [
          '--out',
          join(dir, 'seed.h5'),
          '--workers',
          2,
          ...files,
        ]);
        if (r.rows !== rows)
          throw new Error(`the Python seed loaded ${r.rows} rows, expected ${rows}`);
        seedRuns.push(r);
      }
    } else result.skip(`Python seed (np.loadtxt + h5py): ${py.reason}`);
    if (pd.ok) {
      for (let i = 0; i < pyRepeats; i++) {
        const { result: r } = await runPython('seed004_load.py', [
          '--out',
          join(dir, 'pandas.h5'),
          '--workers',
          2,
          '--parser',
          'pandas',
          ...files,
        ]);
        pandasRuns.push(r);
      }
    } else result.skip(`pandas.read_csv + h5py: ${pd.reason}`);

    const secondsStat = (runs) => summarize(runs.map((r) => r.seconds * 1000));
    const seedAlt = (name) =>
      seedRuns.length
        ? { name, stat: secondsStat(seedRuns) }
        : { name: 'Python seed', error: 'skipped (see below)' };
    const seedName = 'Python seed: Pool(2) + np.loadtxt + SharedMemory + h5py';
    result.add({
      id: 'pipeline-vs-seed',
      what: `seed 004 load + HDF5: ${nFiles} x ${rowsPerFile} rows (${mb.toFixed(0)} MB), 2 workers; one readDelimited call writing each file as it is parsed, direct I/O`,
      unit: 'ms',
      better: 'lower',
      shmframe: pipeline,
      alternative: seedAlt(seedName),
      target: { text: '>= 3x', min: 3 },
    });
    result.add({
      id: 'pipeline-buffered-vs-seed',
      what: 'the same, page cache writes (the default)',
      unit: 'ms',
      better: 'lower',
      shmframe: buffered,
      alternative: seedAlt(seedName),
    });
    result.add({
      id: 'pipeline-two-calls-vs-seed',
      what: 'the same in two calls: readDelimited, then writeHDF5 (page cache writes)',
      unit: 'ms',
      better: 'lower',
      shmframe: separate,
      alternative: seedAlt(seedName),
    });
    result.add({
      id: 'pipeline-cold-vs-seed',
      what: 'one call with direct I/O, first load of the process (starting 2 workers)',
      unit: 'ms',
      better: 'lower',
      shmframe: summarize([coldMs]),
      alternative: seedRuns.length
        ? { name: 'Python seed (starts its Pool each run)', stat: secondsStat(seedRuns) }
        : { name: 'Python seed', error: 'skipped (see below)' },
    });
    result.add({
      id: 'pipeline-vs-pandas',
      what: `seed 004 load + HDF5 (${mb.toFixed(0)} MB), 2 workers, one call, direct I/O`,
      unit: 'ms',
      better: 'lower',
      shmframe: pipeline,
      alternative: pandasRuns.length
        ? { name: 'Pool(2) + pandas.read_csv + SharedMemory + h5py', stat: secondsStat(pandasRuns) }
        : { name: 'pandas.read_csv', error: 'skipped (see below)' },
    });
    const cpuStat = (runs) => summarize(runs.map((r) => r.cpu_seconds * 1000));
    result.add({
      id: 'pipeline-cpu-vs-seed',
      what: 'one call with direct I/O, CPU time (all threads / all processes)',
      unit: 'ms',
      better: 'lower',
      shmframe: summarize(cpuMs),
      alternative:
        seedRuns.length && seedRuns[0].cpu_seconds !== undefined
          ? { name: 'Python seed (self + children)', stat: cpuStat(seedRuns) }
          : { name: 'Python seed', error: 'skipped (see below)' },
    });
    // np.loadtxt's per-core rate: each child's parse time is wall time under the same load, so
    // it is the comparable figure to shmframe's wall-time rate below.
    const loadtxtRate = seedRuns.length
      ? summarize(seedRuns.flatMap((r) => r.parse_seconds.map((s) => oneFile / s)))
      : null;
    const rate = toRate(perCore, allFiles);
    const cpuRate = summarize(parseCpu.slice(-perCore.n).map((ms) => allFiles / (ms / 1000)));
    result.add({
      id: 'load-2-vs-1-worker',
      what: `the load alone (${mb.toFixed(0)} MB into 4 frames): 2 workers vs 1 worker (what 2 threads give here)`,
      unit: 'ms',
      better: 'lower',
      shmframe: load2,
      alternative: { name: '1 worker', stat: load1 },
    });
    result.add({
      id: 'parse-per-core',
      what: `parse the ${allFiles.toFixed(0)} MB on one thread (scan + parse into a frame), wall; np.loadtxt per file`,
      unit: 'MB/s',
      better: 'higher',
      shmframe: rate,
      alternative: loadtxtRate
        ? { name: 'np.loadtxt (per file, in the seed)', stat: loadtxtRate }
        : { name: 'np.loadtxt', error: 'skipped (see below)' },
    });
    result.add({
      id: 'parse-per-core-cpu',
      what: `the same, per second of CPU time`,
      unit: 'MB/s',
      better: 'higher',
      shmframe: cpuRate,
      target: { text: '>= 300 MB/s', met: cpuRate.median >= 300 },
    });
    result.note(
      `shmframe in two calls: load ${summarize(loadMs).median.toFixed(0)} ms (a line scan of all files on one thread, timed alone: ${summarize(scanMs).median.toFixed(0)} ms), ` +
        `HDF5 write ${summarize(writeMs).median.toFixed(0)} ms (of which interleaving records, timed alone: ${summarize(fillMs).median.toFixed(0)} ms) (medians); ` +
        (seedRuns.length
          ? `Python seed: load ${summarize(seedRuns.map((r) => r.load_seconds * 1000)).median.toFixed(0)} ms, write ${summarize(seedRuns.map((r) => r.write_seconds * 1000)).median.toFixed(0)} ms`
          : ''),
    );
    const alone = (runs) =>
      `${summarize(runs.map((r) => r.ms)).median.toFixed(0)} ms (kernel CPU ${summarize(runs.map((r) => r.sys)).median.toFixed(0)} ms)`;
    result.note(
      `writeHDF5 of the 4 frames alone (104 MB of records), medians: page cache writes ${alone(writeAlone.cache)}, direct I/O ${alone(writeAlone.direct)}`,
    );
    result.note(
      'Python times are measured inside the scripts (interpreter start-up and imports excluded); shmframe includes starting its 2 workers.',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
