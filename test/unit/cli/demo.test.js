// `shmframe demo` (npm start): the quick run, piped, prints the comparison table in plain lines,
// checks that every method computed the same results, and frees every byte it allocated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

function run(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('shmframe demo --quick, piped: one table, plain lines, same results, nothing leaked', async () => {
  const r = await run('demo', '--quick', '--workers', '2');
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  // Piped: no bars, no escape codes, on either stream.
  for (const s of [out, r.stderr]) {
    assert.ok(!s.includes('\u001b['), `escape codes in:\n${s}`);
    assert.ok(!s.includes('\u2588') && !s.includes('\u2591'), `a progress bar in:\n${s}`);
  }
  assert.match(out, /^frame: 200 rows x 1000 f8 columns indexed by label/m);
  assert.match(out, /^same results from every method: yes$/m);
  // The comparison table: a header, a rule, one row per phase.
  const table = out.slice(out.indexOf('Results\n'));
  assert.match(table, /^ {2}method +time +per task +vs sequential +peak RSS +copied$/m);
  assert.match(table, /^ {2}-+( +-+){5}$/m);
  assert.match(table, /^ {2}sequential loop +[\d.]+ m?s +[\d.]+ m?s +1\.00x +[\d.]+ [KMG]iB +-$/m);
  assert.match(
    table,
    /^ {2}cloning pool \(2 workers\) +[\d.]+ m?s +[\d.]+ m?s +[\d.]+x +[\d.]+ [KMG]iB +24\.4 MiB$/m,
  );
  assert.match(
    table,
    /^ {2}shmframe Pool \(2 workers\) +[\d.]+ m?s +[\d.]+ m?s +[\d.]+x +[\d.]+ [KMG]iB +0 B$/m,
  );
  assert.match(table, /^ {2}pipeline +[\d.]+ m?s +- +- +[\d.]+ [KMG]iB +0 B$/m);
  assert.match(
    table,
    /^ {2}shmframe Pool vs the cloning pool: [\d.]+x as fast, 24\.4 MiB less copied$/m,
  );
  // Every frame was either matched or skipped on a full queue.
  assert.match(out, /^done pipeline: .*\((\d+) frames matched, (\d+) skipped on a full queue/m);
  const [, matched, skipped] = /(\d+) frames matched, (\d+) skipped/.exec(out);
  assert.equal(Number(matched) + Number(skipped), 40);
  // Where the memory went, and that it all came back.
  assert.match(
    out,
    /^ {2}shmframe Pool \(2 workers\) +[\d.]+ MiB +the frame \+ \d+ results of 1\.53 MiB/m,
  );
  assert.match(out, /^ {2}at the end: 0 objects, 0 B used, 0 handles pending: everything freed/m);
});

test('shmframe demo piped prints a progress line every --progress-every seconds per phase', async () => {
  const r = await run(
    'demo',
    '--quick',
    '--workers',
    '2',
    '--no-pipeline',
    '--progress-every',
    '0.000001',
  );
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  for (const phase of ['sequential', 'cloning pool', 'shmframe Pool']) {
    const lines = r.stdout.split('\n').filter((l) => l.startsWith(`  ${phase}: `));
    assert.ok(lines.length >= 1, `progress lines of ${phase} in:\n${r.stdout}`);
    for (const l of lines) assert.match(l, /^ {2}[\w ]+: [1-7]\/8 tasks after [\d.]+ m?s$/);
  }
});

test('shmframe demo --help documents the options; a bad option exits 2', async () => {
  const help = await run('demo', '--help');
  assert.equal(help.code, 0);
  for (const opt of [
    '--tasks',
    '--workers',
    '--quick',
    '--full',
    '--no-clone',
    '--plain',
    '--rows',
    '--progress-every',
  ])
    assert.ok(help.stdout.includes(opt), `--help mentions ${opt}`);
  const both = await run('demo', '--quick', '--full');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--quick and --full cannot be combined/);
  const every = await run('demo', '--progress-every', '0');
  assert.equal(every.code, 2);
  assert.match(every.stderr, /--progress-every must be a positive number of seconds, got '0'/);
  const bad = await run('demo', '--tasks', 'many');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tasks must be a positive integer, got 'many'/);
  const unknown = await run('demo', '--frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /frobnicate/);
});

test('shmframe --help lists the demo', async () => {
  const r = await run('--help');
  assert.match(r.stdout, /^ {2}demo \[--quick\]/m);
});
