// Property: however a file is cut into byte ranges (at every line start, and at every byte), the
// frame is the one a single-range load gives: same rows, values, nulls, dictionary, bad lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { readDelimited, Heap } from 'shmframe';
import { tempDir } from '../helpers/io.js';
import { assertHeapAt } from '../helpers/heap.js';

const text = fc.string({
  unit: fc.constantFrom('a', 'b', ',', '"', '\n', '#', ' ', 'é', '日', 'x', '\r\n'),
  maxLength: 8,
});
const quote = (s) => (/[",\n\r#]/.test(s) || s === '' ? `"${s.replaceAll('"', '""')}"` : s);
const record = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        text,
        fc.constantFrom('x', 'y', 'zz', 'NA'),
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
      )
      .map(([s, k, n, d]) => `${quote(s)},${k},${n},${d}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '# comment "with a quote', '1,2', 'a,x,notanint,1', '  '),
  },
);
const file = fc
  .tuple(
    fc.array(record, { minLength: 1, maxLength: 12 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
  )
  .map(([recs, eol, trailing]) => recs.join(eol) + (trailing ? eol : ''));

const norm = (f) =>
  [...f.rows()].map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number.isNaN(v) ? 'NaN' : v])),
  );

test('a file split at every line start (and every byte) loads like one piece', async () => {
  const t = tempDir();
  const heap = Heap.create({ size: '64M' });
  const before = heap.stats();
  let n = 0;
  // A time box that lets every started run finish (fast-check's interruptAfterTimeLimit would
  // abandon a running async property, leaving its frames open).
  const deadline = Date.now() + 8000;
  try {
    await fc.assert(
      fc.asyncProperty(file, async (content) => {
        if (Date.now() > deadline) return;
        const p = t.path(`f${n++}.csv`);
        writeFileSync(p, content);
        const opts = {
          schema: { s: 'utf8', k: 'category', n: 'i4', d: 'f8' },
          nullValues: ['NA'],
          onBadLine: 'skip',
          workers: 0,
          heap,
        };
        let want;
        const ref = await readDelimited(p, { ...opts, onReport: (r) => (want = r) });
        const rows = norm(ref);
        const cats = ref.col('k').categories;
        ref.close();
        const starts = [1];
        for (let i = 0; i < content.length; i++)
          if (content[i] === '\n') starts.push(Buffer.byteLength(content.slice(0, i + 1)));
        for (const partBytes of starts) {
          let got;
          const f = await readDelimited(p, { ...opts, partBytes, onReport: (r) => (got = r) });
          assert.deepEqual(norm(f), rows, `partBytes ${partBytes} of ${JSON.stringify(content)}`);
          assert.deepEqual(f.col('k').categories, cats);
          assert.equal(got.badLines, want.badLines);
          assert.deepEqual(
            got.badLineSamples.map((b) => b.message),
            want.badLineSamples.map((b) => b.message),
          );
          f.close();
        }
      }),
      { numRuns: 300 },
    );
    assertHeapAt(heap, before);
  } finally {
    t.cleanup();
  }
});

test('the same with 2 worker threads: every line start a part boundary, parts parsed in parallel', async () => {
  const t = tempDir();
  const heap = Heap.create({ size: '64M' });
  const before = heap.stats();
  let n = 0;
  const deadline = Date.now() + 6000;
  try {
    await fc.assert(
      fc.asyncProperty(file, async (content) => {
        if (Date.now() > deadline) return;
        const p = t.path(`w${n++}.csv`);
        writeFileSync(p, content);
        const opts = {
          schema: { s: 'utf8', k: 'category', n: 'i4', d: 'f8' },
          nullValues: ['NA'],
          onBadLine: 'skip',
          heap,
        };
        const ref = await readDelimited(p, { ...opts, workers: 0 });
        const rows = norm(ref);
        const cats = ref.col('k').categories;
        ref.close();
        const starts = [1];
        for (let i = 0; i < content.length; i++)
          if (content[i] === '\n') starts.push(Buffer.byteLength(content.slice(0, i + 1)));
        for (const partBytes of starts) {
          const f = await readDelimited(p, { ...opts, workers: 2, partBytes });
          assert.deepEqual(
            norm(f),
            rows,
            `workers 2, partBytes ${partBytes} of ${JSON.stringify(content)}`,
          );
          assert.deepEqual(f.col('k').categories, cats);
          f.close();
        }
      }),
      { numRuns: 100 },
    );
    assertHeapAt(heap, before);
  } finally {
    t.cleanup();
  }
});
