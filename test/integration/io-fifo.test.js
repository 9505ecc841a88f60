// Readers on a named pipe (issue 15): a synchronous open of a FIFO with no writer blocked the
// whole process for ever (timers stopped, `signal` never fired). Every reader now opens without
// blocking and refuses what is not a regular file with SHMFRAME_ERR_IO, while the event loop runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/io.js';

const child = fileURLToPath(new URL('../fixtures/fifo-read.js', import.meta.url));
const skip =
  process.platform === 'win32' || spawnSync('mkfifo', ['--version']).error !== undefined
    ? 'needs mkfifo'
    : false;

/** Runs the child; a child that does not finish (a blocked open) is killed after `watchdog` ms. */
function run(args, watchdog = 60_000) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args]);
    let stdout = '';
    let stderr = '';
    const dog = setTimeout(() => p.kill('SIGKILL'), watchdog);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (status, signal) => {
      clearTimeout(dog);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

for (const writer of [false, true])
  test(
    `every reader refuses a named pipe ${writer ? 'held open by a writer' : 'with no writer'} with SHMFRAME_ERR_IO, and the event loop keeps running`,
    { skip },
    async () => {
      const t = tempDir();
      try {
        const fifo = t.path('data.tsv');
        assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
        const r = await run(writer ? [fifo, 'writer'] : [fifo]);
        assert.equal(r.signal, null, `the child blocked and was killed; stderr: ${r.stderr}`);
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.ok(out.ticks >= 3);
        assert.equal(out.objects, 0, 'a reader left objects in the heap');
        for (const [reader, res] of Object.entries(out.results)) {
          assert.equal(res.ok, false, `${reader} succeeded on a FIFO`);
          if (reader === 'readDelimitedSignal') {
            // Aborted before or refused at the open: either way it settles at once, coded.
            assert.ok(['SHMFRAME_ERR_ABORTED', 'SHMFRAME_ERR_IO'].includes(res.code), res.message);
            continue;
          }
          assert.equal(res.code, 'SHMFRAME_ERR_IO', `${reader}: ${res.message}`);
          assert.match(res.message, /named pipe \(FIFO\), not a regular file/, reader);
          assert.match(res.message, /data\.tsv/, reader);
        }
      } finally {
        t.cleanup();
      }
    },
  );
