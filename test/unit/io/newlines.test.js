// The scan pass's newline counter (WebAssembly SIMD, 16 bytes at a time) against a byte loop,
// and the scan's results with it and without it (the memchr fallback, forced by --jitless,
// which turns WebAssembly off).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { newlineCounter } from '../../../dist/io/text/newlines.js';
import { scanFileRange } from '../../../dist/io/text/scan.js';
import { tempDir } from '../../helpers/io.js';

function reference(bytes, comment) {
  let lf = 0;
  let blank = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    lf++;
    const c = bytes[i + 1];
    if (i + 1 < bytes.length && (c === 10 || c === 13 || c === comment)) blank++;
  }
  return { lf, blank };
}

test('newlines and blank/comment line starts, counted 16 bytes at a time, equal a byte loop', () => {
  const counter = newlineCounter();
  assert.ok(counter, 'WebAssembly SIMD is available in Node >= 20');
  // Bytes that matter (LF, CR, '#', 0xff as a would-be comment when there is none) and others.
  const byte = fc.constantFrom(10, 13, 35, 0xff, 97, 32, 0);
  fc.assert(
    fc.property(
      fc.array(byte, { maxLength: 300 }),
      fc.constantFrom(35, -1, 0xff, 97),
      (bytes, comment) => {
        const buf = counter.buffer(bytes.length);
        buf.set(bytes);
        assert.deepEqual(counter.count(bytes.length, comment), reference(bytes, comment));
      },
    ),
    { numRuns: 3000 },
  );
  // A buffer larger than the memory so far (it grows), counted in one call.
  const n = (3 << 20) + 7;
  const big = counter.buffer(n);
  for (let i = 0; i < n; i++) big[i] = i % 23 === 22 ? 10 : i % 1001 === 0 ? 35 : 97;
  assert.deepEqual(counter.count(n, 35), reference(big.subarray(0, n), 35));
});

test('the scan counts the same with WebAssembly and with the memchr fallback (--jitless)', () => {
  const t = tempDir();
  try {
    const lines = [];
    for (let i = 0; i < 5000; i++)
      lines.push(
        i % 97 === 0 ? '' : i % 89 === 0 ? '# note' : i % 13 === 0 ? `r${i}\r` : `r${i}\t${i}`,
      );
    const p = t.path('s.tsv');
    writeFileSync(p, lines.join('\n') + '\n\n');
    const size = lines.join('\n').length + 2;
    const ranges = [
      [0, size],
      [0, 4096],
      [17, 30_000],
      [30_000, size],
    ];
    const run = (chunkBytes) =>
      ranges.map(([s, e]) => scanFileRange(p, s, e, { quote: -1, comment: 35, chunkBytes }));
    const script = `
      import { scanFileRange } from ${JSON.stringify(new URL('../../../dist/io/text/scan.js', import.meta.url).href)};
      import { newlineCounter } from ${JSON.stringify(new URL('../../../dist/io/text/newlines.js', import.meta.url).href)};
      const ranges = ${JSON.stringify(ranges)};
      console.log(JSON.stringify({ wasm: newlineCounter() !== undefined,
        scans: [1 << 20, 100].map((c) => ranges.map(([s, e]) => scanFileRange(${JSON.stringify(p)}, s, e, { quote: -1, comment: 35, chunkBytes: c }))) }));`;
    const r = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const fallback = JSON.parse(r.stdout);
    assert.equal(fallback.wasm, false, '--jitless turns WebAssembly off');
    const mine = [run(1 << 20), run(100)];
    assert.deepEqual(mine, fallback.scans);
    // and the counts are right: 5001 newlines; 5000 lines less 52 blank and 56 comment lines
    assert.equal(mine[0][0].lf, 5001);
    assert.deepEqual(mine[0][0].records, [4892, 4892, 4892, 4892]);
  } finally {
    t.cleanup();
  }
});
