// Shared helpers for bench cases: arguments, repeated timing, peak memory, Python detection and
// invocation, results, and the machine description. See bench/README.md for the case contract.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from './table.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const rootDir = join(benchDir, '..');
export const KiB = 2 ** 10;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

// ------------------------------------------------------------------ arguments

/**
 * Parses `--quick`, `--json <file>`, `--repeats <n>` and any `--name value` / `--flag` pair a
 * case wants (returned in `extra`). Unknown positional arguments are returned in `positional`.
 */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = { quick: false, json: undefined, repeats: undefined, extra: {}, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') out.quick = true;
    else if (a === '--json') out.json = argv[++i];
    else if (a === '--repeats') out.repeats = positiveInt(argv[++i], '--repeats');
    else if (a.startsWith('--')) {
      const key = a.slice(2);
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) out.extra[key] = argv[++i];
      else out.extra[key] = true;
    } else out.positional.push(a);
  }
  return out;
}

function positiveInt(text, what) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`Expected ${what} to be a positive integer, got ${text}`);
  return n;
}

// ------------------------------------------------------------------ statistics and timing

/** Median, min, max, mean and the samples of a list of numbers. */
export function summarize(samples) {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const mean = s.reduce((p, v) => p + v, 0) / s.length;
  return { median, min: s[0], max: s[s.length - 1], mean, n: s.length, samples: [...samples] };
}

/** Converts a time stat (ms per op) to a rate stat (`amount` per second). */
export function toRate(timeStat, amount) {
  return summarize(timeStat.samples.map((ms) => (amount * 1000) / ms));
}

/** Maps every sample of a stat through `fn` (which must be monotonic increasing). */
export function mapStat(stat, fn) {
  return summarize(stat.samples.map(fn));
}

/** Runs `global.gc()` when node was started with --expose-gc (the runner does that). */
export function gc() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
}

/**
 * Times `fn` (sync or async): `warmup` unrecorded batches (and more until `warmupMs` have passed:
 * code paths that run for microseconds need thousands of calls before the JIT settles), then
 * `repeats` samples, each the mean of `inner` back-to-back calls. Returns milliseconds per call:
 * { median, min, max, mean, n, samples }. `before(i)` runs untimed before each sample (reset
 * state, collect garbage...).
 */
export async function measure(
  fn,
  { warmup = 1, warmupMs = 0, repeats = 5, inner = 1, before } = {},
) {
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < warmupMs; i++) {
    if (before) await before(-1);
    for (let k = 0; k < inner; k++) await fn(k);
  }
  const samples = [];
  for (let i = 0; i < repeats; i++) {
    if (before) await before(i);
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) await fn(k);
    samples.push((performance.now() - t0) / inner);
  }
  return summarize(samples);
}

/** Like {@link measure}, for a synchronous `fn` (no await between calls). */
export function measureSync(fn, { warmup = 1, warmupMs = 0, repeats = 5, inner = 1, before } = {}) {
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < warmupMs; i++) {
    before?.(-1);
    for (let k = 0; k < inner; k++) fn(k);
  }
  const samples = [];
  for (let i = 0; i < repeats; i++) {
    before?.(i);
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) fn(k);
    samples.push((performance.now() - t0) / inner);
  }
  return summarize(samples);
}

/**
 * Times several methods taking turns: round i runs every method once, starting from a different
 * one each round. Use it when the machine drifts (memory bandwidth and page-fault costs on a
 * shared virtual machine vary by 2x from second to second): each method sees the same
 * conditions. `methods` maps names to sync or async functions; `before(name, i)` runs untimed
 * before each call. Returns { name: stat in ms per call }.
 */
export async function measureInterleaved(methods, { warmup = 1, repeats = 5, before } = {}) {
  const names = Object.keys(methods);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = -warmup; i < repeats; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[((i % names.length) + names.length + k) % names.length];
      if (before) await before(name, i);
      const t0 = performance.now();
      await methods[name](i);
      const ms = performance.now() - t0;
      if (i >= 0) samples[name].push(ms);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n])]));
}

// ------------------------------------------------------------------ memory

/** Bytes the kernel says are available (MemAvailable), or os.freemem() off Linux. */
export function availableMemory() {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

function statusField(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resets this process's peak RSS (Linux: /proc/self/clear_refs), so that {@link peakRss} measures
 * from now. Worker threads are in this process, so their memory counts too. Returns false where
 * the reset is not possible (then peakRss is the peak since the process started).
 */
export function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS of this process (and its worker threads) in bytes since start or the last reset. */
export function peakRss() {
  return statusField('self', 'VmHWM') ?? process.resourceUsage().maxRSS * 1024;
}

function childrenOf(pid) {
  const out = [];
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function treeOf(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all;
}

function pssOf(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Bytes used in /dev/shm (Python's SharedMemory segments live there), or 0. */
export function devShmUsed() {
  try {
    const s = statfsSync('/dev/shm');
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return 0;
  }
}

/**
 * Samples the memory of process `pid` and all its descendants every `intervalMs` until stop():
 * peak sum of RSS (counts shared pages once per process), peak sum of PSS (shared pages split
 * between their users: the honest total) and peak growth of /dev/shm (shared memory segments,
 * also those no process maps any more).
 */
export function sampleTree(pid, { intervalMs = 50 } = {}) {
  const shm0 = devShmUsed();
  const peak = { rss: 0, pss: 0, devShm: 0, processes: 0 };
  const tick = () => {
    const pids = treeOf(pid);
    let rss = 0;
    let pss = 0;
    for (const p of pids) {
      rss += statusField(p, 'VmRSS') ?? 0;
      pss += pssOf(p);
    }
    peak.rss = Math.max(peak.rss, rss);
    peak.pss = Math.max(peak.pss, pss);
    peak.devShm = Math.max(peak.devShm, devShmUsed() - shm0);
    peak.processes = Math.max(peak.processes, pids.length);
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return { ...peak };
    },
  };
}

// ------------------------------------------------------------------ Python

/** The interpreter the Python comparisons use: /usr/bin/python3, or SHMFRAME_BENCH_PYTHON. */
export const pythonPath = process.env.SHMFRAME_BENCH_PYTHON || '/usr/bin/python3';
const pythonCache = new Map();

const debianPackage = { numpy: 'python3-numpy', pandas: 'python3-pandas', h5py: 'python3-h5py' };

/**
 * Whether `pythonPath` exists and imports every module in `modules`. Returns
 * { ok, python, versions: { python, numpy, ... }, missing: [...], reason } where `reason` is the
 * "skipped: ..." text to report when ok is false. Installs nothing.
 */
export function detectPython(modules = ['numpy', 'pandas', 'h5py']) {
  const key = modules.join(',');
  if (pythonCache.has(key)) return pythonCache.get(key);
  let out;
  if (!existsSync(pythonPath)) {
    out = {
      ok: false,
      python: pythonPath,
      versions: {},
      missing: ['python3', ...modules],
      reason: `skipped: ${pythonPath} not found (Debian: apt-get install python3 ${modules.map((m) => debianPackage[m] ?? `python3-${m}`).join(' ')})`,
    };
  } else {
    const probe = [
      'import json, sys',
      'v = {"python": sys.version.split()[0]}',
      `for m in ${JSON.stringify(modules)}:`,
      '    try:',
      '        v[m] = __import__(m).__version__',
      '    except Exception:',
      '        v[m] = None',
      'print(json.dumps(v))',
    ].join('\n');
    const r = spawnSync(pythonPath, ['-c', probe], { encoding: 'utf8', timeout: 60_000 });
    let versions = {};
    try {
      versions = JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      versions = {};
    }
    const missing = modules.filter((m) => !versions[m]);
    const broken = r.status !== 0 || !versions.python;
    out = {
      ok: !broken && missing.length === 0,
      python: pythonPath,
      versions,
      missing: broken ? ['python3', ...modules] : missing,
      reason: broken
        ? `skipped: ${pythonPath} did not run (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`
        : `skipped: ${pythonPath} lacks ${missing.join(', ')} (Debian: apt-get install ${missing.map((m) => debianPackage[m] ?? `python3-${m}`).join(' ')})`,
    };
  }
  pythonCache.set(key, out);
  return out;
}

/** The environment of bench Python scripts: the repository's package (python/) importable. */
export function pythonEnv() {
  const dir = join(rootDir, 'python');
  return {
    ...process.env,
    PYTHONPATH: process.env.PYTHONPATH ? `${dir}:${process.env.PYTHONPATH}` : dir,
  };
}

/**
 * Runs `bench/python/<script>` with `args` under `pythonPath` and parses the one JSON object it
 * prints on its last stdout line. Samples the memory of its process tree meanwhile. Resolves to
 * { result, seconds, memory: { rss, pss, devShm, processes } }; rejects with the script's stderr
 * when it fails or exceeds `timeoutMs`.
 */
export function runPython(script, args = [], { timeoutMs = 30 * 60_000, intervalMs = 50 } = {}) {
  const path = script.includes('/') ? script : join(benchDir, 'python', script);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(pythonPath, [path, ...args.map(String)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: pythonEnv(),
    });
    const sampler = sampleTree(child.pid, { intervalMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      sampler.stop();
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const memory = sampler.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) {
        reject(
          new Error(
            `${script} ${args.join(' ')} exited with ${signal ?? code}` +
              `${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}:\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
          ),
        );
        return;
      }
      try {
        const line = stdout.trim().split('\n').pop();
        resolve({ result: JSON.parse(line), seconds, memory, stderr });
      } catch (err) {
        reject(
          new Error(`${script} printed no JSON object on its last line: ${stdout.slice(-500)}`, {
            cause: err,
          }),
        );
      }
    });
  });
}

// ------------------------------------------------------------------ machine

/** CPU model, cores, memory, OS, Node/V8 and (when present) the Python stack. */
export function machine({ python = true } = {}) {
  const cpus = os.cpus();
  const out = {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    availableBytes: availableMemory(),
    swapBytes: swapTotal(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    // Other work on the machine (1-minute load average): figures taken under load are noisier.
    loadAverage: Number(os.loadavg()[0].toFixed(2)),
  };
  if (python) {
    const py = detectPython();
    out.python = py.versions.python ? { path: py.python, ...py.versions } : null;
  }
  return out;
}

function swapTotal() {
  try {
    const m = /^SwapTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** One line describing the machine, for tables and docs. */
export function describeMachine(m) {
  const py = m.python
    ? `; Python ${m.python.python} numpy ${m.python.numpy ?? '-'} pandas ${m.python.pandas ?? '-'} h5py ${m.python.h5py ?? '-'}`
    : '; no Python';
  const load = m.loadAverage !== undefined ? `; load average ${m.loadAverage}` : '';
  return `${m.cpu}, ${m.cores} cores, ${(m.memoryBytes / GiB).toFixed(1)} GiB RAM${m.swapBytes ? '' : ' (no swap)'}, ${m.os}, Node ${m.node}${py}${load}`;
}

// ------------------------------------------------------------------ results

/**
 * A comparison row. `better` says whether a lower (times) or higher (rates) figure wins; `ratio`
 * is always "how many times better shmframe is than the alternative" (alt/shm for times,
 * shm/alt for rates), so a target is a minimum ratio: >= 1000 ("1000x faster"), >= 0.9 ("90% of
 * the bandwidth"), >= 0.5 ("within 2x").
 */
export function makeRow({
  id,
  what,
  unit,
  better = 'lower',
  shmframe,
  alternative = null,
  target = null,
  note,
}) {
  let ratio = null;
  if (alternative?.stat && shmframe?.median > 0 && alternative.stat.median > 0) {
    ratio =
      better === 'lower'
        ? alternative.stat.median / shmframe.median
        : shmframe.median / alternative.stat.median;
  }
  let met = null;
  if (target && target.min !== undefined && ratio !== null) met = ratio >= target.min;
  else if (target && target.met !== undefined) met = target.met;
  return { id, what, unit, better, shmframe, alternative, ratio, target, met, note };
}

/** The result of one case, written as JSON for the runner. */
export class CaseResult {
  constructor(name, options) {
    this.case = name;
    this.quick = options.quick;
    this.rows = [];
    this.skipped = [];
    this.notes = [];
    this.started = new Date().toISOString();
  }

  /** Adds a row (see {@link makeRow}) and returns it. */
  add(spec) {
    const row = makeRow(spec);
    this.rows.push(row);
    return row;
  }

  /** Records a skipped measurement: `message` should start with what was skipped. */
  skip(message) {
    this.skipped.push(message);
    log(`${this.case}: ${message}`);
  }

  note(message) {
    this.notes.push(message);
  }

  toJSON() {
    return {
      case: this.case,
      quick: this.quick,
      started: this.started,
      seconds: (Date.now() - Date.parse(this.started)) / 1000,
      machine: machine(),
      rows: this.rows,
      skipped: this.skipped,
      notes: this.notes,
      error: this.error,
    };
  }
}

/** Progress and diagnostics go to stderr, so stdout stays the table. */
export function log(...parts) {
  process.stderr.write(`${parts.join(' ')}\n`);
}

/**
 * Runs a case: `body(ctx)` with ctx = { quick, repeats, extra, result, log }. Writes the result
 * JSON to `--json <file>` and, when run by hand, prints the case's table. A thrown error is
 * recorded in the JSON and makes the process exit with 1.
 */
export async function runCase(name, body) {
  const args = parseArgs();
  const result = new CaseResult(name, args);
  let failed = false;
  try {
    await body({ ...args, result, log });
  } catch (err) {
    failed = true;
    result.error = { message: err?.message ?? String(err), stack: err?.stack };
    log(`${name}: ERROR ${err?.stack ?? err}`);
  }
  const json = result.toJSON();
  if (args.json) writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`);
  if (!process.env.SHMFRAME_BENCH_CHILD) process.stdout.write(`${formatTable([json])}\n`);
  // Workers or timers a case left behind must not keep a finished case alive.
  process.exit(failed ? 1 : 0);
}

export { formatTable, formatMarkdown, formatValue } from './table.js';
