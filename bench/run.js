#!/usr/bin/env node
// npm run bench [-- [name filters...] [--quick] [--json <file>] [--md <file>] [--repeats <n>]
//                   [--timeout <seconds>] [--list]]
//
// Runs every bench/cases/<name>.js (or those whose name contains one of the filters), one after
// the other, each in its own node process, collects the JSON each writes, and prints one table.
// Exits 1 when a case errors (crashes, times out, or reports an error); never because of a timing
// or a missed target.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { benchDir, describeMachine, log, machine } from './lib.js';
import { formatMarkdown, formatTable } from './table.js';

const kUsage = `usage: npm run bench -- [filter...] [--quick] [--json <file>] [--md <file>] [--doc <file>] [--repeats <n>] [--timeout <s>] [--list]
  filter        run only cases whose name contains one of these substrings
  --quick       smoke run: small sizes, few repeats (the whole suite in under a minute)
  --json <file> write every case's result, with the machine description, to <file>
  --md <file>   write the table as Markdown to <file>
  --doc <file>  replace the table between the bench-table markers in <file> (docs/benchmarks.md)
  --repeats <n> samples per measurement (default: each case's own)
  --timeout <s> kill a case after <s> seconds (default 120 with --quick, 1800 otherwise)
  --list        list the cases and exit`;

const kDocStart = '<!-- bench-table:start -->';
const kDocEnd = '<!-- bench-table:end -->';

function parse(argv) {
  const o = {
    filters: [],
    quick: false,
    json: undefined,
    md: undefined,
    doc: undefined,
    repeats: undefined,
    timeout: undefined,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--list') o.list = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--md') o.md = argv[++i];
    else if (a === '--doc') o.doc = argv[++i];
    else if (a === '--repeats') o.repeats = argv[++i];
    else if (a === '--timeout') o.timeout = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(kUsage);
      process.exit(0);
    } else if (a.startsWith('--')) {
      console.error(`Unknown option ${a}\n${kUsage}`);
      process.exit(2);
    } else o.filters.push(a);
  }
  if (o.doc && (o.quick || o.filters.length > 0)) {
    console.error('--doc writes the published table: run every case, without --quick or filters');
    process.exit(2);
  }
  if (o.timeout !== undefined && !(o.timeout > 0)) {
    console.error(`Expected --timeout to be a positive number of seconds\n${kUsage}`);
    process.exit(2);
  }
  return o;
}

function runOne(name, file, opts, tmp) {
  const out = join(tmp, `${name}.json`);
  const args = ['--expose-gc', file, '--json', out];
  if (opts.quick) args.push('--quick');
  if (opts.repeats) args.push('--repeats', String(opts.repeats));
  const timeoutMs = (opts.timeout ?? (opts.quick ? 120 : 1800)) * 1000;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, SHMFRAME_BENCH_CHILD: '1' },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      let result;
      try {
        result = JSON.parse(readFileSync(out, 'utf8'));
      } catch {
        result = { case: name, rows: [], skipped: [], notes: [] };
      }
      if (code !== 0 && !result.error) {
        result.error = {
          message: timedOut
            ? `timed out after ${timeoutMs / 1000} s`
            : `exited with ${signal ?? `code ${code}`} without reporting an error`,
        };
      }
      result.seconds = seconds;
      resolve(result);
    });
  });
}

async function main() {
  const opts = parse(process.argv.slice(2));
  const casesDir = join(benchDir, 'cases');
  const all = readdirSync(casesDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
  const selected = all.filter(
    (n) => opts.filters.length === 0 || opts.filters.some((f) => n.includes(f)),
  );
  if (opts.list) {
    console.log(all.join('\n'));
    return 0;
  }
  if (selected.length === 0) {
    console.error(`No bench case matches ${opts.filters.join(' ')}; cases: ${all.join(', ')}`);
    return 2;
  }
  const m = machine();
  log(`bench: ${selected.length} case(s)${opts.quick ? ' (quick)' : ''} on ${describeMachine(m)}`);
  const tmp = mkdtempSync(join(os.tmpdir(), 'shmframe-bench-'));
  const results = [];
  const t0 = performance.now();
  try {
    for (const name of selected) {
      log(`bench: ${name} ...`);
      const r = await runOne(name, join(casesDir, `${name}.js`), opts, tmp);
      log(`bench: ${name} ${r.error ? 'FAILED' : 'done'} in ${r.seconds.toFixed(1)} s`);
      results.push(r);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const command = `npm run bench --${opts.filters.length ? ` ${opts.filters.join(' ')}` : ''}${opts.quick ? ' --quick' : ''}${opts.repeats ? ` --repeats ${opts.repeats}` : ''}`;
  console.log(`\n${formatTable(results)}\n`);
  console.log(`${describeMachine(m)}\n${command}: ${seconds.toFixed(1)} s`);
  if (opts.json) {
    writeFileSync(
      opts.json,
      `${JSON.stringify({ date: new Date().toISOString(), command, quick: opts.quick, seconds, machine: m, cases: results }, null, 2)}\n`,
    );
  }
  const markdown = `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` (${seconds.toFixed(0)} s) on ${describeMachine(m)}.\n\n${formatMarkdown(results)}\n`;
  if (opts.md) writeFileSync(opts.md, markdown);
  if (opts.doc) {
    const doc = readFileSync(opts.doc, 'utf8');
    const start = doc.indexOf(kDocStart);
    const end = doc.indexOf(kDocEnd);
    if (start < 0 || end < start) {
      console.error(
        `bench: ${opts.doc} has no ${kDocStart} ... ${kDocEnd} markers; table not written`,
      );
      return 1;
    }
    writeFileSync(
      opts.doc,
      `${doc.slice(0, start + kDocStart.length)}\n\n${markdown}\n${doc.slice(end)}`,
    );
  }
  const failed = results.filter((r) => r.error);
  if (failed.length > 0) {
    console.error(
      `bench: ${failed.length} case(s) failed: ${failed.map((r) => r.case).join(', ')}`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = await main();
