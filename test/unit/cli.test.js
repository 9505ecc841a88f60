import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = (...args) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('shmframe --help lists the commands and exits 0', () => {
  const r = run('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage:\n {2}shmframe <command>/);
  assert.match(r.stdout, /inspect-heap/);
});

test('shmframe with no command prints usage and exits 2; an unknown command exits 2', () => {
  assert.equal(run().status, 2);
  const r = run('frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('shmframe inspect-heap prints the stats of a fresh heap', () => {
  const r = run('inspect-heap', '--size', '64M');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^heap [0-9a-f]+\n/);
  for (const key of ['size', 'used', 'free', 'objects', 'largestFree'])
    assert.match(r.stdout, new RegExp(`\\n  ${key} +\\d+`));
  assert.match(r.stdout, /size +67108864 +\(64\.0 MiB\)/);
  assert.match(r.stdout, /objects +0\n/);
});

test('shmframe inspect-heap with a bad size exits 1 with the error code on stderr', () => {
  const r = run('inspect-heap', '--size', 'huge');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /SHMFRAME_ERR_INVALID_ARG: Expected `size` to be a byte size/);
});

test('shmframe --version prints the package version', () => {
  const r = run('--version');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});
