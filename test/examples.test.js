// Every example in examples/ runs as its README says (`node examples/<name>/index.js` from the
// repository root), exits 0, prints its key lines, and leaves the heap as it found it: examples
// never rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noNative } from './helpers/process.js';
import { needPython } from './helpers/python.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'examples');

/** What each example must print (regular expressions over its stdout). */
const expected = {
  '000-frame-mutation': [
    /^the main thread sees the same frame: true$/m,
    /^both threads see both writes: true$/m,
    /^9 +18\.0 +27\.0$/m,
    /^values\(\): shape \[10,2\], strides \[1,16\] \(column-major\), dtype <f8, same memory as the frame: true$/m,
    /^\.\.\.and the worker reads it too: -1$/m,
    /^0 +101 +19\.00 +AAA\.X +null +false$/m,
    /^3 +104 +7\.75 +DDD\.X +2024-02-29 +false$/m,
    /^mixed\.values\(\) -> SHMFRAME_ERR_DTYPE: /m,
  ],
  '001-workers-write-strings': [
    /^df\.set\(0, 'w1', \.\.\.\) -> SHMFRAME_ERR_INVALID_ARG: /m,
    /^category and \|S<n> cells are written in place: w2=rock tag=edited$/m,
    /^a worker filled 1 missing d2 value\(s\) in place: d2\[1\] = 3$/m,
    /^the workers appended 4 x 50 rows at rows \d+, \d+, \d+, \d+: length 202$/m,
    /^203 rows; d2: 69 nulls, sum of the others 823\.00$/m,
    /^w2 categories: obstacle, rock(, kind-[1-4]){4}$/m,
    /^202 +parent row +obstacle +-1\.0 +null +parent$/m,
    /^values\(\): shape \[203,2\], row 1 = \[2, 3\]$/m,
  ],
  '002-pool-and-pipeline': [
    /^imap: 40 results of \[200, 1000\] f8, each a SharedArray moved back/m,
    /^camera [0-4] done capturing, skipped \d+ frames$/m,
    /^160 frames captured: \d+ queued, \d+ skipped \(queue full\), \d+ taken by the matchers/m,
    /^no frame lost: true$/m,
    /^peak heap use [\d.]+ MiB, bounded by/m,
  ],
  '002-pool-processes': [
    /^2 worker processes, not threads: true; a task ran in one of them: true$/m,
    /^imap: 40 results of \[200, 1000\] f8, each a SharedArray moved back from a worker process$/m,
    /^killed worker: SHMFRAME_ERR_WORKER_CRASHED, signal SIGKILL$/m,
    /^workers replaced: 1$/m,
    /^heap: 0 objects, 0 bytes used, 0 handles pending: back to where it began/m,
  ],
  '003-command-queue': [
    /^\[10\]\n\[(\d+)(?: \1){9}\]$/m,
    /^counters after 20 x 1000 locked increments by 2 workers: \[20000,20000,20000,20000\]$/m,
    /^no increment lost: true$/m,
  ],
  '003-command-queue-processes': [
    /^\[10\]\n\[(\d+)(?: \1){9}\]$/m,
    /^counters after 20 x 1000 locked increments by 2 processes: \[20000,20000,20000,20000\]$/m,
    /^no increment lost: true$/m,
  ],
  '004-load-and-hdf5-processes': [
    /^4 child processes loaded their files and exited$/m,
    /^published in the heap: data1, data2, data3, data4$/m,
    /^rows per file: 50000 \+ 50000 \+ 50000 \+ 50000$/m,
    /^wrote combined\.h5: datasets data1, data2, data3, data4/m,
    /^(read back data3: 50000 rows, identical: true|HDF5 read-back skipped: .*h5wasm.*)$/m,
  ],
  'python-000-frame-views': [
    /^columns that are views of the heap: col1, col2, n, flag, when$/m,
    /^node sees col1 = \[0, 2, 4, 6, 8, 10, 12, 14, 16, 18\]$/m,
    /^python \(second process\) sees col1 = \[0\.0, 2\.0, 4\.0, 6\.0, 8\.0, 10\.0, 12\.0, 14\.0, 16\.0, 18\.0\]$/m,
    /^node sees col2 = \[0, 3, 6, 9, 12, 15, 18, 21, 24, 27\]$/m,
  ],
  'python-001-pool-writes': [
    /^4 workers appended 50 rows each at rows 2, 52, 102, 152: length 202$/m,
    /^python parent: d2 has 40 missing values, row 1 d2 = 3\.0$/m,
    /^node reads 202 rows; schema w1:utf8 w2:category d1:<i8 d2:<f8$/m,
    /^node: d2 has 40 nulls; categories of w2: obstacle(, kind-[0-3]){4}$/m,
  ],
  'python-002-queue-producer': [
    /^node consumed 80 frames of 480x640 u1 \(camera 1: 40, camera 2: 40\), in order$/m,
    /^node got: camera 1 done, skipped 0$/m,
  ],
  'python-004-load-to-hdf5': [
    /^node loaded 20000 \+ 20000 \+ 20000 rows and published data1, data2, data3$/m,
    /^data3: 20000 rows, equal to np\.loadtxt: True$/m,
    /^wrote seed004\.h5: datasets data1, data2, data3, 60000 rows$/m,
  ],
  '004-load-and-hdf5': [
    /^loaded 200000 rows from 4 files with 2 workers \(50000 \+ 50000 \+ 50000 \+ 50000 rows\)/m,
    /^0 +chr1 +10000 +57\.7/m,
    /^22 chromosomes; most rows: /m,
    /^(read back 200000 rows, identical: true|HDF5 read-back skipped: .*h5wasm.*)$/m,
    /^wrote per-file\.h5 while loading: datasets data1, data2, data3, data4 \(50000 \+ 50000 \+ 50000 \+ 50000 rows, [\d.]+ MiB\)$/m,
    /shmframe load data\*\.txt --schema 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' --out combined\.h5/,
  ],
};

const folders = readdirSync(dir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

test('every example folder has an index.js, a README.md and expectations here', () => {
  assert.deepEqual(folders, Object.keys(expected).sort());
  for (const name of folders) {
    assert.ok(existsSync(join(dir, name, 'index.js')), `${name}/index.js`);
    const readme = readFileSync(join(dir, name, 'README.md'), 'utf8');
    assert.ok(readme.includes(`node examples/${name}/index.js`), `${name}/README.md run command`);
  }
});

function run(name) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join('examples', name, 'index.js')],
      { cwd: root, timeout: 60_000, env: { ...process.env, SHMFRAME_HEAP_SIZE: '1G' } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Examples whose output is the same on every run: their README shows it exactly. */
const kDeterministic = new Set(['004-load-and-hdf5']);

/** The block after "Prints" in an example's README. */
function printsBlock(name) {
  const readme = readFileSync(join(dir, name, 'README.md'), 'utf8');
  const m = /^Prints[^\n]*\n\n```\w*\n([\s\S]*?)^```$/m.exec(readme);
  assert.ok(m, `${name}/README.md shows what the example prints`);
  return m[1];
}

// The Python examples need /usr/bin/python3 with these modules (and skip, saying so, without).
const pythonNeeds = {
  'python-000-frame-views': ['numpy', 'pandas'],
  'python-001-pool-writes': ['numpy', 'pandas'],
  'python-002-queue-producer': ['numpy'],
  'python-004-load-to-hdf5': ['numpy', 'h5py'],
};

for (const name of folders) {
  const skip = pythonNeeds[name] ? noNative || needPython(pythonNeeds[name]) : false;
  test(
    `example ${name} runs and cleans up, and prints what its README shows`,
    { skip },
    async () => {
      const r = await run(name);
      assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      const shown = printsBlock(name);
      if (kDeterministic.has(name)) assert.equal(r.stdout, shown);
      // Elsewhere numbers vary from run to run; the README's lines without numbers are printed as is.
      const printed = new Set(r.stdout.split('\n'));
      for (const line of shown.split('\n'))
        if (!/\d|\.\.\./.test(line))
          assert.ok(printed.has(line), `${name} prints ${JSON.stringify(line)}`);
      for (const re of expected[name] ?? []) assert.match(r.stdout, re);
      // Every example ends by comparing the heap with where it began.
      assert.match(
        r.stdout,
        /^heap: 0 objects, 0 bytes used, 0 handles pending: back to where it began$/m,
      );
      // Piped output carries no progress bars or escape codes.
      assert.ok(!(r.stdout + r.stderr).includes('\u001b['), 'no escape codes');
      assert.ok(!(r.stdout + r.stderr).includes('\u2588'), 'no progress bar');
    },
  );
}
