import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readDelimited, ShmframeError } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { tempDir } from '../../helpers/io.js';

const seed = [
  ['chr', 'S10'],
  ['pos', '<i4'],
  ['pct', '<f4'],
  ['c', '<i4'],
  ['t', '<i4'],
];
/** Rows as plain comparable values (Dates as ms, NaN and invalid dates as strings). */
const rowsOf = (f) =>
  [...f.rows()].map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v instanceof Date
          ? Number.isNaN(v.getTime())
            ? 'NaT'
            : v.getTime()
          : Number.isNaN(v)
            ? 'NaN'
            : v,
      ]),
    ),
  );

function files(t, contents) {
  return Object.entries(contents).map(([name, text]) => {
    const p = t.path(name);
    writeFileSync(p, text);
    return p;
  });
}

test('seed 004: several files into one frame, or one frame per file', async () => {
  const t = tempDir();
  try {
    const [a, b] = files(t, {
      'data1.txt': 'chr1\t10\t0.5\t1\t2\nchr2\t11\t0.25\t3\t4\n',
      'data2.txt': 'chrX 12 1e-3 5 6\n',
    });
    await withHeap(async (heap) => {
      const f = await readDelimited([a, b], { schema: seed, workers: 0, heap });
      assert.equal(f.length, 3);
      assert.deepEqual(f.schema, [
        ['chr', '|S10'],
        ['pos', '<i4'],
        ['pct', '<f4'],
        ['c', '<i4'],
        ['t', '<i4'],
      ]);
      assert.deepEqual(rowsOf(f), [
        { chr: 'chr1', pos: 10, pct: 0.5, c: 1, t: 2 },
        { chr: 'chr2', pos: 11, pct: 0.25, c: 3, t: 4 },
        { chr: 'chrX', pos: 12, pct: Math.fround(1e-3), c: 5, t: 6 },
      ]);
      f.close();
      const [f1, f2] = await readDelimited([a, b], {
        schema: 'chr:S10,pos:i4,pct:f4,c:i4,t:i4',
        workers: 0,
        heap,
        concat: false,
      });
      assert.equal(f1.length, 2);
      assert.equal(f2.length, 1);
      assert.equal(f2.get(0, 'chr'), 'chrX');
      f1.close();
      f2.close();
      // numpy's dtype list pasted as Python text
      const g = await readDelimited(a, {
        schema: "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
        workers: 0,
        heap,
      });
      assert.equal(g.length, 2);
      g.close();
    });
  } finally {
    t.cleanup();
  }
});

test('every way of splitting a file gives the same frame (utf8, category, quotes, comments, blank lines)', async () => {
  const t = tempDir();
  try {
    const text =
      'name,k,n,when\n' +
      '"a,b",x,1,2020-01-01\n' +
      '# a comment, with "quotes\n' +
      '\n' +
      '"multi\nline ""quoted""",y,2,NaT\n' +
      'plain,x,NA,2021-06-30T12:00:00Z\n' +
      'naïve,日本,4,1999-12-31\n';
    const [p] = files(t, { 'q.csv': text });
    await withHeap(async (heap) => {
      const opts = {
        schema: { name: 'utf8', k: 'category', n: 'i4', when: 'M8[s]' },
        header: true,
        nullValues: ['NA'],
        workers: 0,
        heap,
      };
      const one = await readDelimited(p, { ...opts, partBytes: 1 << 20 });
      const want = rowsOf(one);
      assert.equal(want.length, 4);
      assert.equal(want[1].name, 'multi\nline "quoted"');
      assert.equal(want[2].n, null);
      assert.deepEqual(one.col('k').categories, ['x', 'y', '日本']);
      one.close();
      for (let partBytes = 1; partBytes <= text.length; partBytes++) {
        const f = await readDelimited(p, { ...opts, partBytes });
        assert.deepEqual(rowsOf(f), want, `partBytes ${partBytes}`);
        assert.deepEqual(f.col('k').categories, ['x', 'y', '日本'], `partBytes ${partBytes}`);
        f.close();
      }
    });
  } finally {
    t.cleanup();
  }
});

test('errors: file:line:column for the first bad line in file order, whatever the split; nothing stays in the heap', async () => {
  const t = tempDir();
  try {
    const lines = [];
    for (let i = 0; i < 200; i++) lines.push(`chr${i % 7}\t${i}\t0.5\t1\t2`);
    lines[120] = 'chr1\t12x\t0.5\t1\t2';
    lines[150] = 'chr1\t1\t0.5\t1';
    const [p] = files(t, { 'bad.txt': lines.join('\n') + '\n' });
    await withHeap(async (heap) => {
      for (const partBytes of [64, 500, 1 << 20]) {
        await assert.rejects(
          readDelimited(p, { schema: seed, workers: 0, heap, partBytes }),
          (err) => {
            assert.ok(ShmframeError.isShmframeError(err));
            assert.equal(err.code, 'SHMFRAME_ERR_PARSE');
            assert.match(
              err.message,
              /bad\.txt:121:6: expected <i4 for column "pos" \(field 2\), got "12x"/,
            );
            assert.equal(err.details.line, 121);
            assert.equal(err.details.column, 6);
            assert.equal(err.details.field, '12x');
            assert.equal(err.details.expected, '<i4');
            return true;
          },
        );
      }
      await assert.rejects(
        readDelimited([p, t.path('missing.txt')], { schema: seed, workers: 0, heap }),
        {
          code: 'SHMFRAME_ERR_IO',
          message: /missing\.txt.*no such file/,
        },
      );
    });
  } finally {
    t.cleanup();
  }
});

test("onBadLine 'skip' closes the gaps and reports counts and samples", async () => {
  const t = tempDir();
  try {
    const lines = [];
    for (let i = 0; i < 100; i++)
      lines.push(i % 10 === 3 ? `chr1\tbad\t0\t0\t0` : `chr${i}\t${i}\t0.5\t1\t2`);
    const [p, q] = files(t, { 'a.txt': lines.join('\n') + '\n', 'b.txt': 'chrZ\t7\t1\t1\t1\n' });
    await withHeap(async (heap) => {
      let report;
      const seen = [];
      for (const partBytes of [37, 1 << 20]) {
        const f = await readDelimited([p, q], {
          schema: seed,
          workers: 0,
          heap,
          partBytes,
          onBadLine: (b) => seen.push(b),
          onReport: (r) => (report = r),
        });
        assert.equal(f.length, 91);
        assert.deepEqual(
          rowsOf(f)
            .map((r) => r.pos)
            .slice(0, 5),
          [0, 1, 2, 4, 5],
        );
        assert.equal(f.get(90, 'chr'), 'chrZ');
        f.close();
        assert.equal(report.rows, 91);
        assert.equal(report.badLines, 10);
        assert.deepEqual(
          report.files.map((x) => [x.rows, x.badLines]),
          [
            [90, 10],
            [1, 0],
          ],
        );
        assert.deepEqual(
          report.badLineSamples.map((s) => s.line),
          [4, 14, 24, 34, 44, 54, 64, 74, 84, 94],
        );
        assert.match(report.badLineSamples[0].message, /a\.txt:4:6: expected <i4/);
      }
      assert.equal(seen.length, 20);
    });
  } finally {
    t.cleanup();
  }
});

test('progress in bytes, abort, empty files and bad options', async () => {
  const t = tempDir();
  try {
    const [p, e] = files(t, { 'p.txt': 'chr1\t1\t1\t1\t1\n'.repeat(1000), 'empty.txt': '' });
    await withHeap(async (heap) => {
      const calls = [];
      const f = await readDelimited(p, {
        schema: seed,
        workers: 0,
        heap,
        progress: (d, total) => calls.push([d, total]),
      });
      assert.ok(calls.length > 0);
      const last = calls.at(-1);
      assert.equal(last[0], last[1]);
      f.close();
      const z = await readDelimited(e, { schema: seed, workers: 0, heap });
      assert.equal(z.length, 0);
      z.close();
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        readDelimited(p, { schema: seed, workers: 0, heap, signal: ac.signal }),
        { code: 'SHMFRAME_ERR_ABORTED' },
      );
      for (const [opts, re] of [
        [{}, /Expected `schema`/],
        [{ schema: {} }, /at least one column/],
        [{ schema: seed, workers: -1 }, /workers/],
        [{ schema: seed, onBadLine: 'warn' }, /onBadLine/],
        [{ schema: seed, progress: 3 }, /progress/],
        [{ schema: { a: 'U4' } }, /Unsupported dtype/],
      ])
        await assert.rejects(readDelimited(p, { heap, ...opts }), { message: re });
      await assert.rejects(readDelimited([], { schema: seed }), {
        code: 'SHMFRAME_ERR_INVALID_ARG',
      });
    });
  } finally {
    t.cleanup();
  }
});
