import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText } from '../../helpers/io.js';

const seed = { chr: 'S10', pos: '<i4', pct: '<f4', c: '<i4', t: '<i4' };

test('seed 004 records, tab and whitespace delimited, at every chunk size', () => {
  const text = 'chr1\t100\t0.5\t1\t2\nchrX\t2147483647\t-1.25e-3\t0\t-2147483648\n';
  for (const chunkBytes of [16, 17, 33, 1 << 20]) {
    const { rows } = parseText(text, seed, { chunkBytes });
    assert.deepEqual(rows, [
      { chr: 'chr1', pos: 100, pct: 0.5, c: 1, t: 2 },
      { chr: 'chrX', pos: 2147483647, pct: Math.fround(-1.25e-3), c: 0, t: -2147483648 },
    ]);
  }
  const ws = parseText('  chr1   100 0.5\t1 2  \n\nchr2 1 1 1 1 # note\n', seed, {
    chunkBytes: 16,
  });
  assert.deepEqual(
    ws.rows.map((r) => r.chr),
    ['chr1', 'chr2'],
  );
  assert.equal(ws.rows[1].t, 1);
});

test('every dtype: ints, unsigned, 64-bit, floats, bool, |S, utf8, category, datetime', () => {
  const schema = {
    i1: 'i1',
    i2: 'i2',
    u1: 'u1',
    u2: 'u2',
    u4: 'u4',
    i8: 'i8',
    u8: 'u8',
    f8: 'f8',
    b: 'bool',
    s: 'S3',
    u: 'utf8',
    k: 'category',
    d: 'M8[ms]',
  };
  const text =
    '-128\t-32768\t255\t65535\t4294967295\t-9223372036854775808\t18446744073709551615\t1e300\ttrue\tabc\tnaïve\tx\t2020-01-01T00:00:00.001\n' +
    '127\t32767\t0\t0\t0\t9223372036854775807\t0\t-0.0\t0\t\t\ty\tNaT\n' +
    '+1\t1\t1\t1\t1\t12345\t1\tnan\tF\ta\t日本\tx\t1970-01-01\n';
  const { rows } = parseText(text, schema, { chunkBytes: 64, delimiter: '\t' });
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], {
    i1: -128,
    i2: -32768,
    u1: 255,
    u2: 65535,
    u4: 4294967295,
    i8: -9223372036854775808n,
    u8: 18446744073709551615n,
    f8: 1e300,
    b: true,
    s: 'abc',
    u: 'naïve',
    k: 'x',
    d: 1577836800001n,
  });
  assert.equal(rows[1].i8, 9223372036854775807n);
  assert.ok(Object.is(rows[1].f8, -0));
  assert.equal(rows[1].b, false);
  assert.equal(rows[1].s, '');
  assert.equal(rows[1].u, '');
  assert.equal(rows[1].d, -(2n ** 63n));
  assert.ok(Number.isNaN(rows[2].f8));
  assert.equal(rows[2].i1, 1);
  assert.equal(rows[2].u, '日本');
  assert.equal(rows[2].k, 'x');
  assert.equal(rows[2].b, false);
});

test('RFC 4180 quoting for comma files: delimiters, doubled quotes and newlines inside quotes, CRLF', () => {
  const text = 'name,n\r\n"a,b",1\r\n"say ""hi""",2\r\n"two\r\nlines",3\r\n"",4\r\n"5",5\r\n';
  for (const chunkBytes of [16, 20, 1 << 20]) {
    const { rows, parser } = parseText(
      text,
      { name: 'utf8', n: 'i4' },
      { name: 'q.csv', header: true, chunkBytes },
    );
    assert.deepEqual(
      rows.map((r) => [r.name, r.n]),
      [
        ['a,b', 1],
        ['say "hi"', 2],
        ['two\r\nlines', 3],
        ['', 4],
        ['5', 5],
      ],
    );
    assert.equal(parser.line, 8);
  }
});

test('header maps columns by name, skips extra columns; BOM, skipRows, comments, blank lines', () => {
  const text =
    '\ufeff# generated\nskip me\n\n# cols\nx\tname\ty\n1\ta\t2\n\n# mid\n3\tb\t4 # tail\n';
  const { rows } = parseText(
    text,
    { y: 'i4', x: 'f8' },
    { header: true, skipRows: 2, chunkBytes: 16 },
  );
  assert.deepEqual(rows, [
    { y: 2, x: 1 },
    { y: 4, x: 3 },
  ]);
  assert.throws(() => parseText('a\tb\n1\t2\n', { a: 'i4', c: 'i4' }, { header: true }), {
    code: 'SHMFRAME_ERR_INVALID_ARG',
    message: /the header has no column "c"/,
  });
});

test('null values: cleared validity, NaN for floats, -1 codes, empty utf8', () => {
  const text = 'NA\t1.5\tx\tNA\n2\tNA\tNA\tb\n\t\t\t\n';
  const { rows, buffers } = parseText(
    text,
    { a: 'i4', f: 'f8', s: 'utf8', k: 'category' },
    { nullValues: ['NA', ''], delimiter: '\t' },
  );
  assert.deepEqual(rows, [
    { a: null, f: 1.5, s: 'x', k: null },
    { a: 2, f: null, s: null, k: 'b' },
    { a: null, f: null, s: null, k: null },
  ]);
  assert.ok(Number.isNaN(buffers[1].data[1]));
  assert.equal(buffers[3].data[0], -1);
  // A null value that is also a valid number is still a null.
  const n = parseText('-999\t1\n5\t-999\n', { a: 'i4', b: 'i4' }, { nullValues: ['-999'] });
  assert.deepEqual(n.rows, [
    { a: null, b: 1 },
    { a: 5, b: null },
  ]);
});

test('errors name file:line:column, the field text, the column and the expected type', () => {
  const cases = [
    [
      'chr1\t12x4\t0.5\t1\t2\n',
      /data\.txt:1:6: expected <i4 for column "pos" \(field 2\), got "12x4"/,
      { line: 1, column: 6, field: '12x4', expected: '<i4', columnName: 'pos' },
    ],
    [
      'chr1\t1\t0.5\t1\t2\nchr2\t1\t0.5\t1\n',
      /data\.txt:2:13: expected 5 fields, got 4: the line ends early/,
      { line: 2, column: 13 },
    ],
    [
      'chr1\t1\t0.5\t1\t2\t9\n',
      /data\.txt:1:16: expected 5 fields, got more/,
      { line: 1, column: 16 },
    ],
    [
      'chromosome11\t1\t0.5\t1\t2\n',
      /expected \|S10 for column "chr" \(field 1\), got "chromosome11": 12 bytes do not fit \|S10; values are never truncated/,
      { column: 1 },
    ],
    [
      'chr1\t3000000000\t0.5\t1\t2\n',
      /expected <i4 for column "pos" \(field 2\), got "3000000000": out of range \[-2147483648, 2147483647\]/,
      { column: 6 },
    ],
    ['chr1\t1\tabc\t1\t2\n', /expected <f4 for column "pct" \(field 3\), got "abc"/, { column: 8 }],
    [
      '\n\n# c\nchr1\t1\t0.5\t1\t\n',
      /data\.txt:4:14: expected 5 fields, got 4/,
      { line: 4, column: 14 },
    ],
  ];
  for (const [text, message, details] of cases) {
    assert.throws(
      () => parseText(text, seed, { chunkBytes: 16 }),
      (err) => {
        assert.equal(err.code, 'SHMFRAME_ERR_PARSE');
        assert.match(err.message, message);
        for (const [k, v] of Object.entries(details))
          assert.equal(err.details[k], v, `${k} of ${text}`);
        assert.equal(err.details.file, 'data.txt');
        return true;
      },
    );
  }
});

test('invalid UTF-8, stray quotes and unterminated quotes are parse errors', () => {
  assert.throws(
    () => parseText(Buffer.from([0x61, 0x09, 0xff, 0xfe, 0x0a]), { a: 'utf8', b: 'utf8' }),
    {
      code: 'SHMFRAME_ERR_PARSE',
      message: /1:3: expected utf8 for column "b" \(field 2\), got ".*": invalid UTF-8/,
    },
  );
  assert.throws(() => parseText('a,b"c\n', { a: 'utf8', b: 'utf8' }, { name: 'x.csv' }), {
    message: /x\.csv:1:4: expected no quote character inside an unquoted field.*pass quote: null/,
  });
  assert.throws(() => parseText('a,"b\n', { a: 'utf8', b: 'utf8' }, { name: 'x.csv' }), {
    message: /x\.csv:1:3: expected a closing quote.*unterminated/,
  });
  assert.throws(() => parseText('a,"b"c\n', { a: 'utf8', b: 'utf8' }, { name: 'x.csv' }), {
    message: /expected a delimiter or the end of the line after a closing quote/,
  });
  // With quote: null, quotes are ordinary text.
  const { rows } = parseText('a,b"c\n', { a: 'utf8', b: 'utf8' }, { name: 'x.csv', quote: null });
  assert.deepEqual(rows, [{ a: 'a', b: 'b"c' }]);
});

test("onBadLine 'skip' skips, counts and describes bad lines, and the next rows are intact", () => {
  const text = '1\t2\n3\tx\n4\n5\t6\t7\n8\tNA\n9\t10\n';
  const { rows, parser, buffers } = parseText(
    text,
    { a: 'i4', b: 'i4' },
    { onBadLine: 'skip', nullValues: ['NA'], chunkBytes: 16 },
  );
  assert.deepEqual(rows, [
    { a: 1, b: 2 },
    { a: 8, b: null },
    { a: 9, b: 10 },
  ]);
  assert.equal(parser.badLines, 3);
  assert.deepEqual(
    parser.samples.map((s) => s.line),
    [2, 3, 4],
  );
  // A skipped line that had stored a null leaves no null behind.
  const t2 = parseText(
    'NA\tx\n1\t2\n',
    { a: 'i4', b: 'i4' },
    { onBadLine: 'skip', nullValues: ['NA'] },
  );
  assert.deepEqual(t2.rows, [{ a: 1, b: 2 }]);
  assert.equal(buffers.length, 2);
});

test('a record longer than the chunk grows the buffer; the last line may lack a newline', () => {
  const long = 'x'.repeat(5000);
  const { rows } = parseText(`${long}\t1\nab\t2`, { s: 'utf8', n: 'i4' }, { chunkBytes: 16 });
  assert.deepEqual(rows, [
    { s: long, n: 1 },
    { s: 'ab', n: 2 },
  ]);
});

test('dialect options are checked', () => {
  for (const [opts, re] of [
    [{ delimiter: '::' }, /single ASCII character/],
    [{ delimiter: '.' }, /can be part of a number/],
    [{ delimiter: ',', quote: ',' }, /must differ/],
    [{ nullValues: 'NA' }, /array of strings/],
  ])
    assert.throws(() => parseText('1\n', { a: 'i4' }, opts), {
      code: 'SHMFRAME_ERR_INVALID_ARG',
      message: re,
    });
});
