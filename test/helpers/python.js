// Python interop for tests: /usr/bin/python3 with the modules a test needs, or a skip reason;
// and the repository's Python package (python/shmframe) run in real Python processes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess } from './process.js';

export const pythonPath = process.env.SHMFRAME_TEST_PYTHON || '/usr/bin/python3';
const debian = { numpy: 'python3-numpy', pandas: 'python3-pandas', h5py: 'python3-h5py' };
const cache = new Map();

/** The repository root and its Python package directory (what PYTHONPATH points at). */
export const rootDir = fileURLToPath(new URL('../..', import.meta.url));
export const pythonDir = join(rootDir, 'python');

/**
 * `false` when `pythonPath` imports every module in `modules`, else a skip message naming what
 * is missing and how to install it (use as `test(name, { skip: needPython(['numpy']) }, fn)`).
 */
export function needPython(modules = ['numpy']) {
  const key = modules.join(',');
  if (cache.has(key)) return cache.get(key);
  let reason = false;
  const install = `apt-get install python3 ${modules.map((m) => debian[m] ?? m).join(' ')}`;
  if (!existsSync(pythonPath)) reason = `${pythonPath} not found (Debian: ${install})`;
  else {
    const r = spawnSync(pythonPath, ['-c', modules.map((m) => `import ${m}`).join('; ')], {
      encoding: 'utf8',
    });
    if (r.status !== 0)
      reason = `${pythonPath} lacks ${modules.join('/')}: ${r.stderr.trim().split('\n').pop()} (Debian: ${install})`;
  }
  cache.set(key, reason);
  return reason;
}

/** Runs a Python script with arguments; returns stdout (throws with stderr on failure). */
export function runPython(script, args = []) {
  const r = spawnSync(pythonPath, ['-c', script, ...args.map(String)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The environment of a Python child that imports the repository's `shmframe` package. */
export function pythonEnv(extra = {}) {
  const path = process.env.PYTHONPATH ? `${pythonDir}:${process.env.PYTHONPATH}` : pythonDir;
  return { ...process.env, PYTHONPATH: path, PYTHONUNBUFFERED: '1', ...extra };
}

/**
 * Starts `python3 -c source args...` with the repository's package importable (`import
 * shmframe`), tracked like spawnNode's children (withProcessHeap checks none is left). Returns
 * { child, exited, line(re), ok() } as spawnNode does; `sys.argv[1:]` are `args`.
 */
export function spawnPython(source, args = [], { env, stdin = 'ignore', fds = [] } = {}) {
  return spawnProcess(pythonPath, ['-c', source, ...args.map(String)], {
    env: env ?? pythonEnv(),
    stdin,
    fds,
  });
}

/** Runs a Python script file (from the repository root) with arguments, tracked as above. */
export function spawnPythonFile(file, args = [], { env, stdin = 'ignore' } = {}) {
  return spawnProcess(pythonPath, [join(rootDir, file), ...args.map(String)], {
    env: env ?? pythonEnv(),
    stdin,
  });
}

/**
 * Like {@link spawnPython}, from a temporary .py file (multiprocessing's spawn start method
 * re-imports the main module, which `-c` code does not have). The file is removed at exit.
 */
export function spawnPythonScript(source, args = [], options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'shmframe-py-'));
  const file = join(dir, 'main.py');
  writeFileSync(file, source);
  const p = spawnProcess(pythonPath, [file, ...args.map(String)], {
    env: options.env ?? pythonEnv(),
    stdin: options.stdin ?? 'ignore',
  });
  void p.exited.finally(() => rmSync(dir, { recursive: true, force: true }));
  return p;
}

/** Runs `pythonPath argv...` to completion: { status, stdout, stderr }. */
export function spawnProcessSync(argv, { env, cwd } = {}) {
  const r = spawnSync(pythonPath, argv, {
    encoding: 'utf8',
    env: env ?? pythonEnv(),
    cwd,
    maxBuffer: 1 << 26,
    timeout: 600_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
