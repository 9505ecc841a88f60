// Bad input from Python gets a coded exception (the same codes and class names as Node's) and
// leaves the heap as it was: damaged or forged handle strings, closed objects, dtypes numpy
// cannot view, frames past their capacity, values that do not fit, items a queue cannot carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as shmframe from 'shmframe';
import { ErrorCodes, SharedArray, SharedFrame, SharedQueue } from 'shmframe';
import { noNative, uniqueName, withProcessHeap } from '../../helpers/process.js';
import { needPython, runPython, pythonEnv, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy', 'pandas']);

test(
  'the Python package has one error class per Node code, with the same code strings and names',
  { skip: needPython(['numpy']) },
  () => {
    const out = JSON.parse(
      runPython(
        `
import json, sys
sys.path.insert(0, ${JSON.stringify(pythonEnv().PYTHONPATH.split(':')[0])})
import shmframe
codes = {k: v for k, v in vars(shmframe.ErrorCodes).items() if k.isupper()}
print(json.dumps({'codes': codes, 'classes': {v: shmframe.error_class(v).__name__ for v in codes.values()},
                  'base': all(issubclass(shmframe.error_class(v), shmframe.ShmframeError) for v in codes.values())}))
`,
      ),
    );
    assert.deepEqual(out.codes, { ...ErrorCodes });
    assert.equal(out.base, true);
    for (const [code, name] of Object.entries(out.classes)) {
      assert.equal(typeof shmframe[name], 'function', `${name} exists in Node`);
      assert.equal(new shmframe[name]('x').code, code, `${name} has code ${code}`);
    }
  },
);

const kHandles = `
import json, sys, shmframe
out = []
for text in sys.argv[1:-1]:
    try:
        shmframe.attach(text)
        out.append(['attached'])
    except shmframe.ShmframeError as err:
        out.append([err.code, str(err)])
try:
    shmframe.SharedArray.attach(sys.argv[-1])
except shmframe.ShmframeError as err:
    out.append([err.code, str(err)])
print(json.dumps(out))
`;

test(
  'bad handle strings from Python: coded errors, never another object, the heap unchanged',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const a = SharedArray.zeros([3], 'f8', { heap });
        const f = SharedFrame.from({ x: [1, 2] }, { heap });
        const dead = SharedArray.zeros([3], 'f8', { heap });
        const deadText = String(dead.handle);
        heap.releaseHandle(dead.handle);
        dead.close();
        const good = String(a.handle);
        const parts = good.split(':');
        const withField = (i, v) => parts.map((p, k) => (k === i ? v : p)).join(':');
        // One Python process runs them in order: those that cannot reach the heap come first (once a
        // process has mapped a heap, handles naming its id use that mapping, in Node as in Python).
        const cases = [
          ['shmframe:1:array', 'SHMFRAME_ERR_INVALID_ARG', /wrong number of fields/],
          [withField(1, '9'), 'SHMFRAME_ERR_INVALID_ARG', /version/],
          [withField(5, 'x1'), 'SHMFRAME_ERR_INVALID_ARG', /not a number/],
          [withField(4, 'nno-such-heap-here'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /does not exist/],
          [withField(4, 't'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /thread heap/],
          [
            withField(4, 'm1.99999'),
            'SHMFRAME_ERR_UNKNOWN_HEAP',
            /process 1, which held it as fd 99999/,
          ],
          [withField(3, 'abcdef123'), 'SHMFRAME_ERR_UNKNOWN_HEAP', /names heap abcdef123/],
          [withField(5, '999999999'), 'SHMFRAME_ERR_CORRUPT', /outside this heap/],
          [withField(6, '12345'), 'SHMFRAME_ERR_CLOSED', /closed/],
          [
            withField(2, 'frame'),
            'SHMFRAME_ERR_INVALID_ARG',
            /handle of a SharedFrame \(kind 2\), got one of kind 1 \(array\)/,
          ],
          [withField(2, 'gadget'), 'SHMFRAME_ERR_INVALID_ARG', /kind 'gadget'/],
          [deadText, 'SHMFRAME_ERR_CLOSED', /closed and its memory freed/],
          [withField(8, '5'), 'attached', null], // a wrong serial: no ticket to take, a fresh reference instead
          [
            String(f.handle),
            'SHMFRAME_ERR_INVALID_ARG',
            /Expected a handle of a SharedArray, got a handle of a frame/,
          ],
        ];
        const before = heap.stats();
        const py = spawnPython(
          kHandles,
          cases.map((c) => c[0]),
        );
        const out = JSON.parse(await py.line(/^\[/));
        await py.ok();
        cases.forEach(([text, code, message], i) => {
          assert.equal(out[i][0], code, `${text}: ${out[i][1]}`);
          if (message) assert.match(out[i][1], message, text);
        });
        heap.releaseDead();
        // The first good handle and the frame's are still outstanding (never attached): release them.
        heap.releaseHandle(a.handle);
        heap.releaseHandle(f.handle);
        const after = heap.stats();
        assert.equal(after.objects, before.objects);
        assert.equal(after.used, before.used);
        a.close();
        f.close();
      },
      { size: '64M', name: uniqueName('bad-handles') },
    );
  },
);

const kBadInput = `
import json, sys
import numpy as np, pandas as pd, shmframe
heap = shmframe.Heap.open(sys.argv[1])
frame = heap.lookup('frame')
q = heap.lookup('queue')
results = {}

def expect(name, fn):
    before = heap.stats()
    length = frame.length
    snapshot = {c: frame.col(c).tobytes() for c in ('x', 'n', 'code')}
    try:
        fn()
        results[name] = ['no error']
    except shmframe.ShmframeError as err:
        after = heap.stats()
        same = (after['objects'] == before['objects'] and after['used'] == before['used']
                and after['handles'] == before['handles'] and frame.length == length
                and all(frame.col(c).tobytes() == b for c, b in snapshot.items())
                and frame.strings('s') == ['a', 'b'])
        results[name] = [err.code, type(err).__name__, same, str(err)]

expect('past capacity', lambda: frame.append({'x': np.arange(10.0)}))
expect('string bytes', lambda: frame.append({'s': ['x' * 5000]}))
expect('300 into int8', lambda: frame.append({'n': [1, 300]}))
expect('1.5 into int8', lambda: frame.append({'n': np.array([1.0, 1.5])}))
expect('str into f8', lambda: frame.append({'x': [1.0, 'two']}))
expect('long bytes into S3', lambda: frame.append({'code': [b'abcd']}))
expect('unknown column', lambda: frame.append({'nope': [1]}))
expect('ragged columns', lambda: frame.append({'x': [1.0, 2.0], 'n': [1]}))
expect('set 300 into int8', lambda: frame.set(0, 'n', 300))
expect('set utf8', lambda: frame.set(0, 's', 'z'))
expect('row out of range', lambda: frame.get(5, 'x'))
expect('utf8 col() for numpy', lambda: frame.col('s'))
expect('object dtype', lambda: shmframe.SharedArray.from_numpy(heap, np.array([object()], dtype=object)))
expect('unicode dtype', lambda: shmframe.SharedArray.from_numpy(heap, np.array(['abc'])))
expect('float16', lambda: shmframe.SharedArray.from_numpy(heap, np.zeros(3, np.float16)))
expect('complex', lambda: shmframe.SharedArray.from_numpy(heap, np.zeros(3, complex)))
expect('big-endian', lambda: shmframe.SharedArray.from_numpy(heap, np.zeros(3, '>f8')))
expect('datetime without unit', lambda: shmframe.SharedArray.zeros(heap, 3, 'M8'))
expect('negative shape', lambda: shmframe.SharedArray.zeros(heap, (2, -1)))
expect('heap full', lambda: shmframe.SharedArray.zeros(heap, (1 << 30,), 'f8'))
expect('frame past heap', lambda: shmframe.SharedFrame.create(heap, {'x': 'f8'}, capacity=1 << 28))
expect('no capacity', lambda: shmframe.SharedFrame.create(heap, {'x': 'f8'}))
expect('bad schema dtype', lambda: shmframe.SharedFrame.create(heap, {'x': 'c16'}, capacity=4))
expect('queue item', lambda: q.put({'a': 1}))
expect('queue item too big', lambda: q.put('x' * 100))
expect('closed queue put', lambda: (q.close(), q.put(1)))
expect('mixed pandas column', lambda: shmframe.SharedFrame.from_pandas(heap, pd.DataFrame({'m': ['a', 3]})))
closed = heap.lookup('array'); closed.close()
expect('closed array', lambda: closed.numpy())
other = heap.lookup('frame'); other.close()
expect('closed frame', lambda: other.col('x'))
expect('closed frame append', lambda: other.append({'x': [1.0]}))
q.detach()
expect('detached queue', lambda: q.get(timeout=0))
expect('bad key', lambda: heap.lookup(''))
expect('no such heap', lambda: shmframe.Heap.open('no-such-heap-here'))
expect('bad heap name', lambda: shmframe.Heap.open('../etc/passwd'))
print(json.dumps(results))
frame.close()
`;

test(
  'bad input from Python (past capacity, values that do not fit, dtypes numpy cannot view, closed objects): coded exceptions, the heap and the frame unchanged',
  { skip },
  async () => {
    await withProcessHeap(
      async (heap) => {
        const frame = SharedFrame.create(
          { x: 'f8', n: 'i1', code: 'S3', s: 'utf8' },
          { capacity: 4, heap, stringBytes: 64 },
        );
        frame.append({ x: [1.5, 2.5], n: [1, 2], code: ['ab', 'cd'], s: ['a', 'b'] });
        const array = SharedArray.zeros([4], 'f8', { heap });
        const q = SharedQueue.create({ capacity: 2, maxItemBytes: 32, heap });
        heap.publish('frame', frame);
        heap.publish('array', array);
        heap.publish('queue', q);
        const before = heap.stats();
        const py = spawnPython(kBadInput, [heap.name]);
        const r = JSON.parse(await py.line(/^\{/));
        await py.ok();
        const expected = {
          'past capacity': 'SHMFRAME_ERR_HEAP_FULL',
          'string bytes': 'SHMFRAME_ERR_HEAP_FULL',
          '300 into int8': 'SHMFRAME_ERR_INVALID_ARG',
          '1.5 into int8': 'SHMFRAME_ERR_INVALID_ARG',
          'str into f8': 'SHMFRAME_ERR_INVALID_ARG',
          'long bytes into S3': 'SHMFRAME_ERR_INVALID_ARG',
          'unknown column': 'SHMFRAME_ERR_INVALID_ARG',
          'ragged columns': 'SHMFRAME_ERR_SHAPE',
          'set 300 into int8': 'SHMFRAME_ERR_INVALID_ARG',
          'set utf8': 'SHMFRAME_ERR_INVALID_ARG',
          'row out of range': 'SHMFRAME_ERR_SHAPE',
          'utf8 col() for numpy': 'SHMFRAME_ERR_DTYPE',
          'object dtype': 'SHMFRAME_ERR_DTYPE',
          'unicode dtype': 'SHMFRAME_ERR_DTYPE',
          float16: 'SHMFRAME_ERR_DTYPE',
          complex: 'SHMFRAME_ERR_DTYPE',
          'big-endian': 'SHMFRAME_ERR_DTYPE',
          'datetime without unit': 'SHMFRAME_ERR_DTYPE',
          'negative shape': 'SHMFRAME_ERR_SHAPE',
          'heap full': 'SHMFRAME_ERR_HEAP_FULL',
          'frame past heap': 'SHMFRAME_ERR_HEAP_FULL',
          'no capacity': 'SHMFRAME_ERR_INVALID_ARG',
          'bad schema dtype': 'SHMFRAME_ERR_DTYPE',
          'queue item': 'SHMFRAME_ERR_INVALID_ARG',
          'queue item too big': 'SHMFRAME_ERR_INVALID_ARG',
          'closed queue put': 'SHMFRAME_ERR_QUEUE_CLOSED',
          'mixed pandas column': 'SHMFRAME_ERR_DTYPE',
          'closed array': 'SHMFRAME_ERR_CLOSED',
          'closed frame': 'SHMFRAME_ERR_CLOSED',
          'closed frame append': 'SHMFRAME_ERR_CLOSED',
          'detached queue': 'SHMFRAME_ERR_CLOSED',
          'bad key': 'SHMFRAME_ERR_INVALID_ARG',
          'no such heap': 'SHMFRAME_ERR_UNKNOWN_HEAP',
          'bad heap name': 'SHMFRAME_ERR_INVALID_ARG',
        };
        for (const [name, code] of Object.entries(expected)) {
          assert.ok(r[name], `${name} ran`);
          assert.equal(r[name][0], code, `${name}: ${r[name].slice(1).join(' ')}`);
          assert.equal(
            r[name][2],
            true,
            `${name}: the heap and the frame unchanged (${r[name][3]})`,
          );
        }
        assert.match(r['past capacity'][3], /holds 2 of its 4 rows.*larger `capacity`/);
        assert.match(r['utf8 col() for numpy'][3], /strings\(name\)|to_pandas/);
        assert.match(r['300 into int8'][3], /\[-128, 127\].*300/);
        // Node sees the frame as it was.
        assert.equal(frame.length, 2);
        assert.deepEqual(
          [0, 1].map((i) => frame.row(i)),
          [
            { x: 1.5, n: 1, code: 'ab', s: 'a' },
            { x: 2.5, n: 2, code: 'cd', s: 'b' },
          ],
        );
        assert.equal(q.closed, true, 'close() from Python closed it for every process');
        heap.releaseDead();
        const after = heap.stats();
        assert.equal(after.objects, before.objects);
        assert.equal(after.used, before.used);
        for (const key of heap.published()) heap.unpublish(key);
        frame.close();
        array.close();
        q.detach();
      },
      { size: '64M', name: uniqueName('bad-input') },
    );
  },
);
