// Every writer path under a real write failure: a child shell with a file-size limit
// (`ulimit -f`, SIGXFSZ ignored, so write() fails with EFBIG as on a full disk) writes more than
// the limit over an existing good file. Each must fail with SHMFRAME_ERR_IO, keep the old file
// byte for byte, leave no temporary file, and leave the heap as it found it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/io.js';

const child = fileURLToPath(new URL('../fixtures/write-limit.js', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
// 4 MiB for the library's writers (every output is 16 MB or more); 1 MiB for the command's,
// whose 400,000 text lines make 9.6 MB of HDF5 (gzip keeps more than 1 MiB of it).
const kLimitKiB = 4096;
const kCliLimitKiB = 1024;
const skip = process.platform === 'win32' ? 'needs a POSIX shell with ulimit' : false;

/** Runs `argv` under the file-size limit; resolves { status, stdout, stderr }. */
function limited(argv, limitKiB = kLimitKiB) {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f ${limitKiB}; exec ${quoted}`], {
      env: { ...process.env, SHMFRAME_HEAP_SIZE: '512M' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A text file of 400,000 lines `a b c` (f8, f8, i8): its HDF5 form is 9.6 MB. */
function textInput(t) {
  const lines = [];
  let s = 1;
  for (let i = 0; i < 400_000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    lines.push(`${s / 2 ** 32}\t${(s % 1000) / 7}\t${i}`);
  }
  const path = t.path('input.tsv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** The old file: distinctive bytes, which must survive the failed write unchanged. */
function oldFile(path) {
  const bytes = Buffer.alloc(100_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  writeFileSync(path, bytes);
  return bytes;
}

function assertKept(t, out, old, extra = []) {
  assert.deepEqual(readFileSync(out), old, 'the old file was changed');
  assert.deepEqual(
    readdirSync(t.dir).sort(),
    [out.slice(t.dir.length + 1), ...extra].sort(),
    'a temporary file was left behind',
  );
}

const library = [
  ['hdf5-own', 'out.h5'],
  ['hdf5-own-frame', 'out.h5'],
  ['hdf5-own-direct', 'out.h5'],
  ['hdf5-gzip', 'out.h5'],
  ['hdf5-chunked', 'out.h5'],
  ['hdf5-compound-chunked', 'out.h5'],
  ['hdf5-columns', 'out.h5'],
  ['npy', 'out.npy'],
  ['npy-frame', 'out.npy'],
  ['npz', 'out.npz'],
  ['npz-deflate', 'out.npz'],
  ['arrow', 'out.arrow'],
  ['read-delimited-hdf5', 'out.h5'],
];

for (const [writer, name] of library)
  test(
    `${writer}: a write that fails for want of space is SHMFRAME_ERR_IO and keeps the old file`,
    { skip },
    async () => {
      const t = tempDir();
      try {
        const input = writer === 'read-delimited-hdf5' ? textInput(t) : undefined;
        const out = t.path(name);
        const old = oldFile(out);
        const r = await limited([process.execPath, child, writer, out, ...(input ? [input] : [])]);
        assert.equal(r.status, 0, r.stderr);
        const result = JSON.parse(r.stdout);
        assert.equal(result.ok, false, `${writer} reported success`);
        assert.equal(result.code, 'SHMFRAME_ERR_IO', `${result.name}: ${result.message}`);
        assert.match(result.message, /out\.(h5|npy|npz|arrow)/, 'the message names the file');
        assert.equal(result.objects[1], result.objects[0], 'heap objects left behind');
        assertKept(t, out, old, input ? ['input.tsv'] : []);
      } finally {
        t.cleanup();
      }
    },
  );

const cliCases = [
  ['h5 (own writer, while loading)', 'out.h5', []],
  ['h5 --compression (h5wasm)', 'out.h5', ['--compression', '4']],
  ['h5 --chunk-rows (h5wasm)', 'out.h5', ['--chunk-rows', '5000']],
  ['h5 --layout columns (h5wasm)', 'out.h5', ['--layout', 'columns']],
  ['npy', 'out.npy', []],
  ['npz', 'out.npz', ['--compression', '1']],
  ['arrow', 'out.arrow', []],
];

for (const [what, name, extra] of cliCases)
  test(
    `shmframe load to ${what}: a failed write exits 1 with SHMFRAME_ERR_IO and keeps the old file`,
    { skip },
    async () => {
      const t = tempDir();
      try {
        const input = textInput(t);
        const out = t.path(name);
        const old = oldFile(out);
        const r = await limited(
          [
            process.execPath,
            cli,
            'load',
            input,
            '-s',
            'a:f8,b:f8,c:i8',
            '-o',
            out,
            '-q',
            '-w',
            '2',
            ...extra,
          ],
          kCliLimitKiB,
        );
        assert.equal(r.status, 1, `exit status ${r.status}; stderr: ${r.stderr}`);
        assert.match(r.stderr, /SHMFRAME_ERR_IO|File too large|EFBIG/, r.stderr);
        assert.match(r.stderr, /out\.(h5|npy|npz|arrow)/, 'the message names the file');
        assertKept(t, out, old, ['input.tsv']);
      } finally {
        t.cleanup();
      }
    },
  );
