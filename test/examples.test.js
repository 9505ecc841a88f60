// Every example in examples/ runs as its README says (`node examples/<name>/index.js` from the
// repository root), exits 0, prints its key lines, and leaves the heap as it found it: examples
// never rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

for (const name of folders) {
  test(`example ${name} runs and cleans up, and prints what its README shows`, async () => {
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
  });
}
