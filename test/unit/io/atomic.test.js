// Writers replace their destination atomically: the new file appears whole under the name, an old
// one is released (its descriptor closed in the background, none left open), and a failed write
// leaves the old file as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { writeAtomically } from '../../../dist/io/atomic.js';
import { tempDir } from '../../helpers/io.js';

const openFds = () => (process.platform === 'linux' ? readdirSync('/proc/self/fd').length : 0);

test('writeAtomically replaces an existing file whole, leaves no descriptor or temporary file behind', async () => {
  const t = tempDir();
  try {
    const dest = t.path('out.bin');
    writeFileSync(dest, Buffer.alloc(8 << 20, 1));
    const before = openFds();
    for (let i = 2; i < 6; i++)
      await writeAtomically(dest, (temp) => writeFileSync(temp, Buffer.alloc(4 << 20, i)));
    const b = readFileSync(dest);
    assert.equal(b.length, 4 << 20);
    assert.ok(b.every((x) => x === 5));
    // The old files' descriptors are closed in the background: give the thread pool a moment.
    for (let k = 0; k < 50 && openFds() > before; k++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(openFds(), before, 'descriptors left open');
    // A failure keeps the old file and removes the temporary one.
    await assert.rejects(
      writeAtomically(dest, (temp) => {
        writeFileSync(temp, 'partial');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(statSync(dest).size, 4 << 20);
    assert.deepEqual(readdirSync(t.dir), ['out.bin']);
    // A destination that did not exist.
    await writeAtomically(t.path('new.bin'), (temp) => writeFileSync(temp, 'x'));
    assert.equal(readFileSync(t.path('new.bin'), 'utf8'), 'x');
  } finally {
    t.cleanup();
  }
});
