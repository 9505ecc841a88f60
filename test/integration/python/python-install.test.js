// The Python package installs offline (pip install --no-index --no-build-isolation into a venv
// with Debian's packages), carries the built C library with it, and attaches a Node heap from
// anywhere; without the C library it refuses with SHMFRAME_ERR_NATIVE saying how to build it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedArray } from 'shmframe';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, pythonDir, pythonPath, rootDir } from '../../helpers/python.js';
import { spawnSync } from 'node:child_process';

const skip = noNative || needPython(['numpy', 'setuptools', 'wheel', 'venv', 'ensurepip', 'pip']);

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...options });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test(
  'pip installs the package offline into a venv; the installed package finds its C library and attaches a Node heap',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmframe-pip-'));
    try {
      // Build from a copy, so the repository stays clean (pip builds local directories in place).
      const src = join(dir, 'src');
      cpSync(pythonDir, src, {
        recursive: true,
        filter: (p) =>
          !p.includes('__pycache__') && !p.endsWith('.egg-info') && p !== join(pythonDir, 'build'),
      });
      const venv = join(dir, 'venv');
      run(pythonPath, ['-m', 'venv', '--system-site-packages', venv]);
      const lib = join(rootDir, 'native/build/Release/shmframe_sys.so');
      run(
        join(venv, 'bin/pip'),
        ['install', '--no-index', '--no-build-isolation', '--quiet', src],
        {
          env: { ...process.env, SHMFRAME_SYS_LIB: lib, PIP_NO_INPUT: '1' },
        },
      );
      const installed = JSON.parse(
        run(
          join(venv, 'bin/python'),
          [
            '-c',
            'import json, shmframe, shmframe._native as n; print(json.dumps([shmframe.__file__, n.native().path]))',
          ],
          {
            cwd: dir,
            env: { PATH: process.env.PATH },
          },
        ),
      );
      assert.ok(installed[0].startsWith(venv), installed[0]);
      assert.ok(
        installed[1].startsWith(venv) && installed[1].endsWith('/shmframe/_lib/shmframe_sys.so'),
        installed[1],
      );
      assert.ok(existsSync(installed[1]));
      await withProcessHeap(
        async (heap) => {
          const a = SharedArray.from([1, 2, 3], { dtype: 'i4', heap });
          const out = run(
            join(venv, 'bin/python'),
            [
              '-c',
              'import sys, shmframe\nwith shmframe.attach(sys.argv[1]) as a: print(a.numpy().sum())',
              String(a.handle),
            ],
            {
              cwd: dir,
              env: { PATH: process.env.PATH },
            },
          );
          assert.equal(out.trim(), '6');
          a.close();
        },
        { size: '16M', name: uniqueName('pip') },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'without the C library the package refuses with SHMFRAME_ERR_NATIVE and says how to build it',
  { skip: needPython(['numpy']) },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmframe-nolib-'));
    try {
      cpSync(join(pythonDir, 'shmframe'), join(dir, 'shmframe'), {
        recursive: true,
        filter: (p) => !p.includes('__pycache__') && !p.includes('_lib'),
      });
      const r = spawnSync(
        pythonPath,
        [
          '-c',
          `import json, shmframe
try:
    shmframe.Heap.create('4M')
except shmframe.ShmframeError as err:
    print(json.dumps([err.code, type(err).__name__, str(err)]))`,
        ],
        {
          encoding: 'utf8',
          cwd: dir,
          env: { PATH: process.env.PATH, SHMFRAME_SYS_LIB: join(dir, 'missing.so') },
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const [code, name, message] = JSON.parse(r.stdout);
      assert.equal(code, 'SHMFRAME_ERR_NATIVE');
      assert.equal(name, 'NativeBackendError');
      assert.match(message, /npm run build:native/);
      assert.match(message, /missing\.so \(missing\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
