import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { needPython, runPython } from '../../helpers/python.js';
import { tempDir } from '../../helpers/io.js';

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const run = (...args) =>
  spawnSync(process.execPath, [cli, 'load', ...args], {
    encoding: 'utf8',
    env: { ...process.env, SHMFRAME_HEAP_SIZE: '256M' },
  });
const schema = 'chr:S10,pos:i4,pct:f4,c:i4,t:i4';
const h5py = needPython(['numpy', 'h5py']);

function seedFiles(t) {
  const a = t.path('data1.txt');
  const b = t.path('data2.txt');
  writeFileSync(a, 'chr1\t1\t0.5\t1\t2\nchr2\t2\t0.25\t3\t4\n');
  writeFileSync(b, 'chrX\t3\t0.125\t5\t6\n');
  return [a, b];
}

test(
  'shmframe load writes HDF5 and prints a summary; --per-file names datasets after the files',
  { skip: h5py },
  () => {
    const t = tempDir();
    try {
      const [a, b] = seedFiles(t);
      const r = run(a, b, '--schema', schema, '--out', t.path('c.h5'), '--workers', '0');
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        /^loaded 3 rows from 2 files \(.*\) in \d+\.\d\d s: [\d.]+ MB\/s, 0 workers, 0 bad lines\n/,
      );
      // Written by shmframe's own writer while loading (no chunks, no compression).
      assert.match(r.stdout, /wrote .*c\.h5 \(compound dataset "data", .*\) while loading\n/);
      assert.equal(r.stderr, '');
      // Chunked: written by h5wasm after the load.
      const r3 = run(a, b, '-s', schema, '-o', t.path('k.h5'), '--chunk-rows', '2', '-w', '0');
      assert.equal(r3.status, 0, r3.stderr);
      assert.match(r3.stdout, /wrote .*k\.h5 \(compound dataset "data", .*\) in \d+\.\d\d s\n/);
      // One dataset per file, direct I/O asked for, 2 workers.
      const r4 = run(a, b, '-s', schema, '-o', t.path('d.h5'), '--per-file', '--direct', '-w', '2');
      assert.equal(r4.status, 0, r4.stderr);
      assert.match(r4.stdout, /compound datasets "data1", "data2", .*\) while loading\n/);
      const r2 = run(
        a,
        b,
        '-s',
        schema,
        '-o',
        t.path('p.h5'),
        '--per-file',
        '--layout',
        'columns',
        '-w',
        '0',
        '-q',
      );
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(r2.stdout, '');
      const out = runPython(
        `import h5py, sys, json
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2]) as g, h5py.File(sys.argv[3]) as k, h5py.File(sys.argv[4]) as d:
    print(json.dumps([str(f['data'].dtype), f['data']['pos'].tolist(), sorted(g.keys()), g['data2/chr'][:].tolist() == [b'chrX'],
      [f['data'].chunks, list(k['data'].chunks)], k['data']['pos'].tolist(), [d['data1']['pos'].tolist(), d['data2']['chr'].tolist() == [b'chrX']]]))`,
        [t.path('c.h5'), t.path('p.h5'), t.path('k.h5'), t.path('d.h5')],
      );
      assert.deepEqual(JSON.parse(out), [
        "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
        [1, 2, 3],
        ['data1', 'data2'],
        true,
        [null, [2]],
        [1, 2, 3],
        [[1, 2], true],
      ]);
    } finally {
      t.cleanup();
    }
  },
);

test('shmframe load: arrow, npy and npz outputs; bad lines skipped and reported', () => {
  const t = tempDir();
  try {
    const [a] = seedFiles(t);
    writeFileSync(t.path('bad.txt'), 'chr1\t1\t0.5\t1\t2\nchr1\tx\t0.5\t1\t2\n');
    for (const out of ['o.arrow', 'o.npy', 'o.npz']) {
      const r = run(a, '-s', schema, '-o', t.path(out), '-w', '0', '-q');
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(t.path(out)), out);
    }
    const r = run(
      t.path('bad.txt'),
      '-s',
      schema,
      '-o',
      t.path('b.npy'),
      '-w',
      '0',
      '--on-bad-line',
      'skip',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /loaded 1 rows .* 1 bad line\n/);
    assert.match(r.stderr, /skipped .*bad\.txt:2:6: expected <i4 for column "pos"/);
    // -d auto: a comma file named .txt
    writeFileSync(t.path('comma.txt'), 'chr1,1,0.5,1,2\nchr2,2,0.25,3,4\n');
    const auto = run(
      t.path('comma.txt'),
      '-s',
      schema,
      '-o',
      t.path('c.npy'),
      '-w',
      '0',
      '-d',
      'auto',
    );
    assert.equal(auto.status, 0, auto.stderr);
    assert.match(auto.stdout, /loaded 2 rows /);
  } finally {
    t.cleanup();
  }
});

test('shmframe load: exit 1 for bad input (message on stderr), 2 for usage, 0 for --help', () => {
  const t = tempDir();
  try {
    const [a] = seedFiles(t);
    writeFileSync(t.path('bad.txt'), 'chr1\t1\t0.5\t1\n');
    let r = run(t.path('bad.txt'), '-s', schema, '-o', t.path('x.h5'), '-w', '0');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^shmframe load: SHMFRAME_ERR_PARSE: .*bad\.txt:1:13: expected 5 fields, got 4/,
    );
    assert.equal(existsSync(t.path('x.h5')), false);
    r = run(t.path('missing.txt'), '-s', schema, '-o', t.path('x.h5'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SHMFRAME_ERR_IO: Cannot read ".*missing\.txt": no such file/);
    r = run(a, '-s', 'chr:U10', '-o', t.path('x.h5'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SHMFRAME_ERR_DTYPE/);
    for (const args of [
      [a, '-o', t.path('x.h5')],
      [a, '-s', schema],
      ['-s', schema, '-o', t.path('x.h5')],
      [a, '-s', schema, '-o', t.path('x.xyz')],
      [a, '-s', schema, '-o', t.path('x.npy'), '--per-file'],
      [a, '-s', schema, '-o', t.path('x.h5'), '--workers', 'two'],
      [a, '-s', schema, '-o', t.path('x.h5'), '--bogus'],
      [a, '-s', schema, '-o', t.path('x.npy'), '--layout', 'columns'],
    ]) {
      r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Run 'shmframe load --help'/);
    }
    r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: shmframe load FILE\.\.\. --schema SCHEMA --out OUT/);
    assert.match(
      r.stdout,
      /Examples:\n {2}shmframe load data\/\*\.txt --schema 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' --out combined\.h5/,
    );
  } finally {
    t.cleanup();
  }
});
