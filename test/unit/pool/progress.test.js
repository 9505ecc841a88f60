import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, formatLine, checkProgress } from '../../../dist/pool/progress.js';

class FakeTTY {
  isTTY = true;
  columns = 120;
  out = '';
  write(s) {
    this.out += s;
    return true;
  }
  cursorTo() {}
  clearLine() {}
  clearScreenDown() {}
  moveCursor() {}
}

test('formatLine shows count, percent, rate and ETA, or count and rate without a total', () => {
  const line = formatLine('rows', 50, 200, 5000, 10);
  assert.match(line, /^rows \|█{3}░{7}\| 50\/200 25% \| 10\.0\/s \| ETA 0:15$/);
  assert.equal(formatLine('', 10, undefined, 2000), '10 done | 5.0/s | 0:02');
  assert.match(formatLine('x', 3, 3, 61000, 4), /\|████\| 3\/3 100% \| 20\.33s\/it \| 1:01$/);
});

test('a bar is drawn only on a terminal, and its timer is released by stop()', () => {
  const tty = new FakeTTY();
  const p = Progress.create(true, 'transform', 4, tty);
  p.start();
  p.tick(1);
  p.tick(3);
  p.stop();
  assert.match(tty.out, /transform \|/);
  assert.match(tty.out, /4\/4 100%/);
  const pipe = {
    isTTY: false,
    out: '',
    write(s) {
      this.out += s;
    },
  };
  assert.equal(Progress.create(true, 'x', 4, pipe), null);
  assert.equal(Progress.create('label', 'x', 4, pipe), null);
  assert.equal(Progress.create(false, 'x', 4, tty), null);
});

test('a label replaces the task name; the callback always fires, with an unknown total for generators', () => {
  const tty = new FakeTTY();
  const p = Progress.create('loading', 'task', undefined, tty);
  p.start();
  p.tick(2);
  p.stop();
  assert.match(tty.out, /loading 2 done/);
  const calls = [];
  const cb = Progress.create((done, total) => calls.push([done, total]), 'task', undefined, {
    isTTY: false,
    write() {},
  });
  cb.start();
  cb.tick(1);
  cb.tick(2);
  cb.stop();
  assert.deepEqual(calls, [
    [0, undefined],
    [1, undefined],
    [3, undefined],
  ]);
});

test('progress options are checked', () => {
  assert.throws(() => checkProgress(3), { code: 'SHMFRAME_ERR_INVALID_ARG', message: /progress/ });
  assert.equal(checkProgress(undefined), undefined);
});
