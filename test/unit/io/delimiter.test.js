// Errors that name the real cause when the delimiter is wrong (issue 14), and delimiter: 'auto'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readDelimited } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { tempDir } from '../../helpers/io.js';

const seed004 = 'chr:S10,pos:i4,pct:f4,c:i4,t:i4';
const comma = 'chr1,100,0.5,3,4\nchr2,200,0.25,1,2\n';

async function failure(path, options) {
  let error;
  await withHeap(async (heap) => {
    await assert.rejects(
      readDelimited(path, { heap, ...options }).then((f) => f.close()),
      (err) => {
        error = err;
        return true;
      },
    );
  });
  return error;
}

test('comma data read with the default delimiter: the |S10 overflow names the delimiter', async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path('data1.txt'), comma);
    const err = await failure(t.path('data1.txt'), { schema: seed004 });
    assert.equal(err.code, 'SHMFRAME_ERR_PARSE');
    assert.equal(
      err.message,
      `${t.path('data1.txt')}:1:1: the line splits into 5 fields at each comma, as many as the schema has columns, ` +
        `but the delimiter is whitespace (np.loadtxt's default, used for files not named .csv or .tsv): ` +
        `pass { delimiter: ',' }, or { delimiter: 'auto' } to detect it. Read that way: expected |S10 for column "chr" (field 1), ` +
        `got "chr1,100,0.5,3,4": 16 bytes do not fit |S10; values are never truncated: widen the column (|S16) or use utf8`,
    );
    assert.equal(err.details.line, 1, 'the details are unchanged');
  } finally {
    t.cleanup();
  }
});

test('a row one field wide while the schema has several: the line ends early, and why', async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path('semi.txt'), 'chr1;100;0.5;3;4\n');
    let err = await failure(t.path('semi.txt'), { schema: 'chr:utf8,pos:i4,pct:f4,c:i4,t:i4' });
    assert.match(
      err.message,
      /semi\.txt:1:17: the line splits into 5 fields at each semicolon, as many as the schema has columns, but the delimiter is whitespace .*: pass \{ delimiter: ';' \}, or \{ delimiter: 'auto' \} to detect it\. Read that way: expected 5 fields, got 1: the line ends early$/,
    );
    // A .tsv file holding commas: the tab default is named too.
    writeFileSync(t.path('data.tsv'), comma);
    err = await failure(t.path('data.tsv'), { schema: 'chr:utf8,pos:i4,pct:f4,c:i4,t:i4' });
    assert.match(
      err.message,
      /at each comma, as many as the schema has columns, but the delimiter is tab: pass \{ delimiter: ',' \}/,
    );
    // No common delimiter fits: still says the line is one field wide.
    writeFileSync(t.path('colon.txt'), 'a:b:c\n');
    err = await failure(t.path('colon.txt'), { schema: 'x:utf8,y:utf8,z:utf8' });
    assert.match(
      err.message,
      /colon\.txt:1:6: the line is one field wide but the schema has 3 columns: the delimiter is whitespace .*; pass the file's `delimiter`, or \{ delimiter: 'auto' \} to detect it\. Read that way: expected 3 fields, got 1/,
    );
  } finally {
    t.cleanup();
  }
});

test('a field holding another common delimiter is named; a right delimiter gets no hint', async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path('p.txt'), 'a 1,5 2\n');
    let err = await failure(t.path('p.txt'), { schema: 'name:utf8,val:f8,n:f8' });
    assert.match(
      err.message,
      /p\.txt:1:3: the field holds 1 comma: if the file is comma-delimited, pass \{ delimiter: ',' \}, or \{ delimiter: 'auto' \} to detect it \(the delimiter is whitespace .*\)\. Read that way: expected <f8 for column "val" \(field 2\), got "1,5"/,
    );
    writeFileSync(t.path('ok.csv'), 'a,x,2\n');
    err = await failure(t.path('ok.csv'), { schema: 'name:utf8,val:f8,n:f8' });
    assert.match(err.message, /^.*ok\.csv:1:3: expected <f8 for column "val" \(field 2\), got "x"/);
    assert.doesNotMatch(err.message, /delimiter/);
  } finally {
    t.cleanup();
  }
});

test("delimiter: 'auto' detects comma, semicolon, tab, pipe and whitespace files", async () => {
  const t = tempDir();
  try {
    const cases = {
      'c.txt': '# a comment\nchr1,100,0.5,3,4\n"chr,2",200,0.25,1,2\n',
      's.txt': 'chr1;100;0.5;3;4\nchr2;200;0.25;1;2\n',
      't.txt': 'chr1\t100\t0.5\t3\t4\r\nchr2\t200\t0.25\t1\t2\r\n',
      'p.txt': 'chr1|100|0.5|3|4\nchr2|200|0.25|1|2\n',
      'w.csv': 'chr1  100 0.5 3 4\nchr2 200  0.25 1 2\n',
    };
    await withHeap(async (heap) => {
      for (const [name, text] of Object.entries(cases)) {
        writeFileSync(t.path(name), text);
        const f = await readDelimited(t.path(name), {
          heap,
          schema: 'chr:utf8,pos:i4,pct:f4,c:i4,t:i4',
          delimiter: 'auto',
        });
        assert.equal(f.length, 2, name);
        assert.equal(f.get(1, 'pos'), 200, name);
        assert.equal(f.get(1, 't'), 2, name);
        f.close();
      }
      // with a header and skipped rows
      writeFileSync(t.path('h.txt'), 'written by a tool\nchr;pos\nchr1;100\n');
      const h = await readDelimited(t.path('h.txt'), {
        heap,
        schema: 'chr:utf8,pos:i4',
        delimiter: 'auto',
        header: true,
        skipRows: 1,
      });
      assert.deepEqual(h.row(0), { chr: 'chr1', pos: 100 });
      h.close();
    });
  } finally {
    t.cleanup();
  }
});

test("delimiter: 'auto' on a file no common delimiter fits says what each gave", async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path('x.txt'), 'a,b\nc;d\ne\n');
    const err = await failure(t.path('x.txt'), { schema: 'a:utf8,b:utf8', delimiter: 'auto' });
    assert.equal(err.code, 'SHMFRAME_ERR_INVALID_ARG');
    assert.equal(
      err.message,
      `Could not detect the delimiter of ${t.path('x.txt')}: no common delimiter splits its first 3 lines into the same ` +
        `number of fields (comma: 2/1 fields, tab: 1 fields, semicolon: 1/2 fields, pipe: 1 fields, whitespace: 1 fields). ` +
        `Pass \`delimiter\` (e.g. ',' or '\\t').`,
    );
  } finally {
    t.cleanup();
  }
});
