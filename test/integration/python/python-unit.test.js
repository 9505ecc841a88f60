// The Python package's own unit tests (python/tests: allocator invariants, ledgers, handles,
// finalizers, threads, fork, validity bitmaps, staging rules, concurrent appends, which pandas
// columns are views), run by /usr/bin/python3 under npm test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noNative } from '../../helpers/process.js';
import { needPython, pythonDir, pythonEnv, spawnProcessSync } from '../../helpers/python.js';

test(
  'python/tests pass under /usr/bin/python3',
  { skip: noNative || needPython(['numpy', 'pandas']) },
  () => {
    const r = spawnProcessSync(['-m', 'unittest', 'discover', '-s', `${pythonDir}/tests`, '-v'], {
      env: pythonEnv(),
    });
    const ran = /^Ran (\d+) tests?/m.exec(r.stderr);
    assert.equal(r.status, 0, r.stderr.split('\n').slice(-60).join('\n'));
    assert.ok(ran && Number(ran[1]) >= 20, r.stderr);
    assert.match(r.stderr, /^OK/m);
    assert.doesNotMatch(r.stderr, /skipped/, 'every test ran');
  },
);
