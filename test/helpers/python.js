// Python interop for tests: /usr/bin/python3 with the modules a test needs, or a skip reason.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const pythonPath = process.env.SHMFRAME_TEST_PYTHON || '/usr/bin/python3';
const debian = { numpy: 'python3-numpy', pandas: 'python3-pandas', h5py: 'python3-h5py' };
const cache = new Map();

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
