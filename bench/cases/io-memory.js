// Memory of a large delimited load: the frame must be the only large allocation (each worker
// reads through a 1 MiB buffer). One seed 004 file of --gb GB (1 GB; 50 MB with --quick; e.g.
// `node --expose-gc bench/cases/io-memory.js --gb 5` for a 5 GB file), loaded with 2 workers:
// this process's peak RSS (its worker threads included) above the frame's own bytes. Against the
// same file through the seed's Python child (np.loadtxt in a Pool worker, copied into
// SharedMemory): the peak PSS of its process tree above the array's bytes.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDelimited } from 'shmframe';
import { writeMethylationTsv } from '../data.js';
import {
  GiB,
  MiB,
  availableMemory,
  detectPython,
  peakRss,
  resetPeakRss,
  runCase,
  runPython,
  summarize,
} from '../lib.js';

await runCase('io-memory', async ({ quick, extra, result, log }) => {
  const gb = quick ? 0.05 : Number(extra.gb ?? 1);
  const rows = Math.round((gb * 1e9) / 24.4); // ~24.4 bytes per generated line
  const frameBytes = rows * 26; // |S10 + 4 x 4 bytes, plus validity bits (negligible)
  if (availableMemory() < 3 * frameBytes + 2 * GiB) {
    result.skip(
      `io-memory: ${gb} GB needs about ${((3 * frameBytes + 2 * GiB) / GiB).toFixed(1)} GiB of available memory`,
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'shmframe-bench-memory-'));
  try {
    // Generate 2M rows once and repeat them (the generator makes ~1M rows/s; a 5 GB file would
    // take minutes): the content does not matter for memory, only the size.
    const unitRows = Math.min(rows, 2_000_000);
    const unit = writeMethylationTsv(join(dir, 'unit.txt'), { rows: unitRows, seed: 3 });
    const copies = Math.max(1, Math.round(rows / unitRows));
    const path = join(dir, 'big.txt');
    log(`io-memory: writing ${copies} x ${unitRows} rows`);
    const chunk = readFileSync(unit.path);
    const fd = openSync(path, 'w');
    try {
      for (let i = 0; i < copies; i++) writeSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
    const file = { path, rows: copies * unitRows, bytes: copies * unit.bytes };
    const schema = 'chr:S10,pos:i4,pct:f4,c:i4,t:i4';
    resetPeakRss();
    const base = peakRss();
    const t0 = performance.now();
    const f = await readDelimited(file.path, { schema, workers: 2 });
    const ms = performance.now() - t0;
    const peak = peakRss();
    if (f.length !== file.rows) throw new Error(`loaded ${f.length} rows, expected ${file.rows}`);
    f.close();
    const beyond = (peak - base - file.rows * 26) / MiB;
    log(
      `io-memory: ${file.bytes} bytes in ${ms.toFixed(0)} ms; peak RSS +${((peak - base) / MiB).toFixed(0)} MiB`,
    );
    const py = detectPython(['numpy', 'h5py']);
    let alternative = { name: 'Python seed', error: 'skipped (see below)' };
    if (py.ok) {
      const { result: r, memory } = await runPython('seed004_load.py', [
        '--out',
        join(dir, 'seed.h5'),
        '--workers',
        1,
        file.path,
      ]);
      if (r.rows !== file.rows) throw new Error(`the Python seed loaded ${r.rows} rows`);
      alternative = {
        name: 'Python seed (np.loadtxt in a Pool child + SharedMemory + h5py): peak PSS of its processes above the array',
        stat: summarize([(memory.pss - file.rows * 26) / MiB]),
      };
    } else result.skip(`Python seed: ${py.reason}`);
    result.add({
      id: 'memory-beyond-frame',
      what: `memory beyond the frame loading one ${(file.bytes / 1e9).toFixed(2)} GB file (${file.rows} rows, frame ${((file.rows * 26) / MiB).toFixed(0)} MiB), 2 workers`,
      unit: 'MiB',
      better: 'lower',
      shmframe: summarize([beyond]),
      alternative,
      target: { text: '< 256 MiB', met: beyond < 256 },
    });
    result.note(
      `shmframe: peak RSS of this process (main thread and 2 workers) minus its RSS before the load minus the frame's bytes; load took ${(ms / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
