import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC, tableToIPC, tableFromArrays } from 'apache-arrow';
import { SharedFrame, readArrow, writeArrow } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { tempDir } from '../../helpers/io.js';

test('writeArrow: file and stream formats read back by apache-arrow, with nulls and every column kind', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const f = SharedFrame.from(
        {
          s: ['naïve', null, '日本'],
          k: ['a', 'b', 'a'],
          b: [true, null, false],
          d: [new Date(0), new Date(1000), null],
          x: [1.5, NaN, null],
          i: new Int32Array([1, -2, 3]),
          c: ['chr1', 'x', ''],
        },
        { schema: { k: 'category', c: 'S4' }, heap },
      );
      for (const [name, format] of [
        ['f.arrow', undefined],
        ['f.feather', 'file'],
        ['f.arrows', undefined],
        ['g.ipc', 'stream'],
      ]) {
        await writeArrow(t.path(name), f, { format, batchRows: 2 });
        const bytes = readFileSync(t.path(name));
        assert.equal(
          bytes.subarray(0, 6).toString('latin1') === 'ARROW1',
          !name.endsWith('s') && name !== 'g.ipc',
          name,
        );
        const table = tableFromIPC(bytes);
        assert.equal(table.numRows, 3);
        assert.equal(table.batches.length, 2);
        assert.deepEqual(table.getChild('s').toArray(), ['naïve', null, '日本']);
        assert.deepEqual([...table.getChild('k')], ['a', 'b', 'a']);
        assert.deepEqual([...table.getChild('b')], [true, null, false]);
        assert.deepEqual([...table.getChild('i')], [1, -2, 3]);
        assert.equal(table.getChild('x').get(2), null);
        assert.ok(Number.isNaN(table.getChild('x').get(1)));
        const back = await readArrow(t.path(name), { heap });
        assert.deepEqual(back.schema, f.schema);
        assert.deepEqual(
          [...back.rows()].map((r) => JSON.stringify(r)),
          [...f.rows()].map((r) => JSON.stringify(r)),
        );
        back.close();
      }
      f.close();
    });
  } finally {
    t.cleanup();
  }
});

test('readArrow reads tables other writers made; bad input is refused', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const table = tableFromArrays({ a: Float64Array.from([1, 2, 3]), s: ['x', 'y', 'z'] });
      writeFileSync(t.path('o.arrow'), tableToIPC(table, 'file'));
      writeFileSync(t.path('o.arrows'), tableToIPC(table, 'stream'));
      for (const n of ['o.arrow', 'o.arrows']) {
        const f = await readArrow(t.path(n), { heap });
        assert.deepEqual(
          [...f.rows()],
          [
            { a: 1, s: 'x' },
            { a: 2, s: 'y' },
            { a: 3, s: 'z' },
          ],
        );
        f.close();
      }
      writeFileSync(t.path('bad.arrow'), 'ARROW1 but nothing after');
      await assert.rejects(readArrow(t.path('bad.arrow'), { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
      });
      writeFileSync(t.path('text.arrow'), '\u0000\u0000\u0000\u0000hello');
      await assert.rejects(readArrow(t.path('text.arrow'), { heap }), {
        code: 'SHMFRAME_ERR_CORRUPT',
        message: /not an Arrow IPC/,
      });
      await assert.rejects(readArrow(t.path('none.arrow'), { heap }), {
        code: 'SHMFRAME_ERR_IO',
        message: /none\.arrow.*no such file/,
      });
      await assert.rejects(writeArrow(t.path('x.arrow'), { not: 'a frame' }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
      });
    });
  } finally {
    t.cleanup();
  }
});
