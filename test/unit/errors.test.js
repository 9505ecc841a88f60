import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ShmframeError,
  ShapeError,
  TaskError,
  ErrorCodes,
  encodeError,
  decodeError,
  isEncodedError,
} from 'shmframe';
import { startWorker, request } from '../helpers/worker.js';

test('every code has a subclass that round-trips through encode/decode', () => {
  for (const code of Object.values(ErrorCodes)) {
    const encoded = encodeError(Object.assign(new ShmframeError(code, `msg ${code}`), {}));
    const back = decodeError(structuredClone(encoded));
    assert.equal(back.code, code);
    assert.ok(ShmframeError.isShmframeError(back));
    assert.ok(back instanceof ShmframeError);
    assert.notEqual(back.constructor, ShmframeError, `${code} should decode to its subclass`);
    assert.equal(back.message, `msg ${code}`);
  }
});

test('cause chains, details, stacks and foreign errors survive', () => {
  const inner = new RangeError('inner');
  const fsErr = Object.assign(new Error('ENOENT: no such file'), {
    code: 'ENOENT',
    errno: -2,
    path: '/x',
  });
  const outer = new TaskError('task 3 failed', { cause: inner, details: { index: 3 } });
  const back = decodeError(structuredClone(encodeError(outer)));
  assert.ok(back instanceof TaskError);
  assert.equal(back.details.index, 3);
  assert.ok(back.cause instanceof RangeError);
  assert.equal(back.cause.message, 'inner');
  assert.equal(back.stack, outer.stack);
  const fs = decodeError(structuredClone(encodeError(fsErr)));
  assert.equal(fs.code, 'ENOENT');
  assert.equal(fs.errno, -2);
  assert.equal(fs.path, '/x');
  const custom = class MyError extends Error {
    name = 'MyError';
  };
  assert.equal(decodeError(encodeError(new custom('m'))).name, 'MyError');
  assert.match(decodeError(encodeError('a string')).message, /Non-error value thrown: "a string"/);
  assert.ok(isEncodedError(encodeError(new Error('x'))));
  assert.ok(!isEncodedError({ message: 'x' }));
});

test('class, code, message, stack and cause survive a real worker boundary', async () => {
  const w = startWorker(`
    import { parentPort } from 'node:worker_threads';
    import { ShapeError, encodeError } from 'shmframe';
    parentPort.on('message', () => {
      const err = new ShapeError('bad shape in worker', { cause: new TypeError('root'), details: { axis: 1 } });
      parentPort.postMessage({ raw: err, encoded: encodeError(err) });
    });
  `);
  try {
    const { raw, encoded } = await request(w, 'go');
    // Node drops the class and code of a posted error...
    assert.equal(raw.code, undefined);
    assert.ok(!(raw instanceof ShapeError));
    // ...which is why errors are encoded.
    const err = decodeError(encoded);
    assert.ok(err instanceof ShapeError);
    assert.equal(err.code, 'SHMFRAME_ERR_SHAPE');
    assert.equal(err.name, 'ShapeError');
    assert.equal(err.message, 'bad shape in worker');
    assert.equal(err.details.axis, 1);
    assert.match(err.stack, /bad shape in worker/);
    assert.ok(err.cause instanceof TypeError);
  } finally {
    await w.terminate();
  }
});

test('ShapeError is a ShmframeError with a stable code', () => {
  const e = new ShapeError('x');
  assert.equal(e.code, 'SHMFRAME_ERR_SHAPE');
  assert.equal(e.name, 'ShapeError');
  assert.ok(e instanceof Error);
});
