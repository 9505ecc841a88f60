// Damaged and malformed .npy / .npz input (issue 15): every one is SHMFRAME_ERR_CORRUPT, as numpy
// refuses it, never data read some other way. CRC-32 of npz entries (stored and deflated), the
// header's keys and value types as numpy's `_read_array_header` checks them, and a bounded
// nesting depth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { SharedArray, readNpy, readNpz, writeNpz } from 'shmframe';
import { withHeap } from '../../helpers/heap.js';
import { needPython, runPython } from '../../helpers/python.js';
import { tempDir } from '../../helpers/io.js';

const numpy = needPython(['numpy']);

/** Bytes that deflate cannot shrink, so deflated entries hold them as stored blocks. */
function noise(n, seed = 7) {
  const out = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Where the `.npy` data of the first entry starts in a zip we wrote (after the local header). */
function firstEntryData(zip) {
  assert.equal(zip.readUInt32LE(0), 0x04034b50);
  return 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
}

for (const compress of [false, true])
  test(`readNpz: one flipped byte in a ${compress ? 'deflated' : 'stored'} entry is a bad CRC-32 (SHMFRAME_ERR_CORRUPT), as numpy says`, async () => {
    const t = tempDir();
    try {
      await withHeap(async (heap) => {
        const src = SharedArray.from(noise(100_000), { heap });
        const p = t.path('run.npz');
        await writeNpz(p, { x: src }, { compress });
        src.close();
        const good = await readNpz(p, { heap });
        good.x.close();
        const zip = readFileSync(p);
        // A byte in the middle of the data: far past the .npy header, inside a stored block of
        // the deflate stream (the noise does not compress), so the stream still inflates.
        const at = firstEntryData(zip) + 400_000;
        zip[at] ^= 0x10;
        writeFileSync(p, zip);
        await assert.rejects(readNpz(p, { heap }), (err) => {
          assert.equal(err.code, 'SHMFRAME_ERR_CORRUPT');
          assert.match(
            err.message,
            /run\.npz.*"x".*bad CRC-32 \(the data gives 0x[0-9a-f]{8}, the zip directory says 0x[0-9a-f]{8}\)/,
          );
          return true;
        });
        if (!numpy)
          assert.match(
            runPython(
              `import numpy as np, sys
try:
    np.load(sys.argv[1])['x']; print('read')
except Exception as e: print(type(e).__name__, e)`,
              [p],
            ),
            /Bad CRC-32/,
          );
      });
    } finally {
      t.cleanup();
    }
  });

test('readNpz: an entry shorter or longer than its directory says is SHMFRAME_ERR_CORRUPT', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const p = t.path('run.npz');
      const x = SharedArray.from(new Float64Array(16), { heap });
      await writeNpz(p, { x });
      x.close();
      const good = await readNpz(p, { heap });
      good.x.close();
      // The central directory's uncompressed size (offset 24 of its entry) says one byte more.
      const zip = readFileSync(p);
      const cd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      zip.writeUInt32LE(zip.readUInt32LE(cd + 24) + 1, cd + 24);
      writeFileSync(p, zip);
      await assert.rejects(readNpz(p, { heap }), { code: 'SHMFRAME_ERR_CORRUPT' });
    });
  } finally {
    t.cleanup();
  }
});

/** A version 1.0 .npy file with the header dict `dict` and the data `data`. */
function npyWith(dict, data = Buffer.from(new Float64Array([1, 2, 3, 4, 5, 6]).buffer)) {
  let text = dict;
  const pad = 64 - ((10 + text.length + 1) % 64);
  text += ' '.repeat(pad === 64 ? 0 : pad) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, 'latin1'), data]);
}

const refused = [
  [
    'fortran_order: 1',
    "{'descr': '<f8', 'fortran_order': 1, 'shape': (2, 3), }",
    /fortran_order must be True or False, got 1/,
  ],
  [
    "fortran_order: 'yes'",
    "{'descr': '<f8', 'fortran_order': 'yes', 'shape': (2, 3), }",
    /fortran_order must be True or False, got "yes"/,
  ],
  [
    'fortran_order: None',
    "{'descr': '<f8', 'fortran_order': None, 'shape': (2, 3), }",
    /fortran_order must be True or False, got None/,
  ],
  [
    'no fortran_order',
    "{'descr': '<f8', 'shape': (2, 3), }",
    /exactly the keys 'descr', 'fortran_order' and 'shape', got 'descr', 'shape'/,
  ],
  [
    'an extra key',
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }",
    /exactly the keys .* got 'descr', 'extra', 'fortran_order', 'shape'/,
  ],
  [
    'shape as a list',
    "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }",
    /shape must be a tuple/,
  ],
  ['a header that is not a dict', "('<f8', False, (2, 3))", /not a dict/],
  [
    'a header nested 5000 levels deep',
    `{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': ${'['.repeat(5000)}${']'.repeat(5000)}}`,
    /at most 64 levels of nested brackets/,
  ],
];

test('readNpy and readNpz refuse a header numpy refuses (SHMFRAME_ERR_CORRUPT), and numpy agrees', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const files = [];
      for (const [what, dict, message] of refused) {
        const p = t.path(`h${files.length}.npy`);
        writeFileSync(p, npyWith(dict));
        files.push(p);
        await assert.rejects(readNpy(p, { heap }), (err) => {
          assert.equal(err.code, 'SHMFRAME_ERR_CORRUPT', `${what}: ${err.name} ${err.message}`);
          assert.match(err.message, message, what);
          return true;
        });
      }
      // The same inside an .npz (stored, with a correct CRC: only the header is wrong).
      const z = t.path('h.npz');
      const x = SharedArray.from(new Float64Array(6), { heap });
      await writeNpz(z, { x });
      x.close();
      const zip = readFileSync(z);
      const at = firstEntryData(zip);
      const bad = npyWith("{'descr': '<f8', 'fortran_order': 1, 'shape': (2, 3), }");
      assert.equal(bad.length, 128 + 48, 'the crafted entry is as long as the written one');
      bad.copy(zip, at);
      const { crc32 } = await import('node:zlib');
      const cd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      zip.writeUInt32LE(crc32(bad), cd + 16);
      zip.writeUInt32LE(crc32(bad), 14);
      writeFileSync(z, zip);
      await assert.rejects(readNpz(z, { heap }), (err) => {
        assert.equal(err.code, 'SHMFRAME_ERR_CORRUPT', err.message);
        assert.match(err.message, /fortran_order must be True or False/);
        return true;
      });
      if (!numpy) {
        const out = runPython(
          `import numpy as np, sys, json
res = []
for p in sys.argv[1:]:
    try:
        a = np.load(p)
        if p.endswith('.npz'): a = a['x']
        res.append('read')
    except Exception as e: res.append(type(e).__name__)
print(json.dumps(res))`,
          [...files, z],
        );
        const verdicts = JSON.parse(out);
        assert.ok(verdicts.length === refused.length + 1);
        // numpy refuses every one (ValueError; RecursionError or MemoryError for the deep one).
        assert.ok(!verdicts.includes('read'), `numpy read one of them: ${out}`);
      }
    });
  } finally {
    t.cleanup();
  }
});

test('headers numpy writes are still read: True / False fortran_order, 0-d and 1-d shapes', async () => {
  const t = tempDir();
  try {
    await withHeap(async (heap) => {
      const cases = [
        [
          "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
          [2, 3],
          [
            [1, 3, 5],
            [2, 4, 6],
          ],
        ],
        [
          "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
          [2, 3],
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
        ],
        ["{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", [6], [1, 2, 3, 4, 5, 6]],
        ["{'shape': (), 'fortran_order': False, 'descr': '<f8'}", [], 1],
      ];
      for (const [dict, shape, values] of cases) {
        const p = t.path('ok.npy');
        writeFileSync(p, npyWith(dict));
        const a = await readNpy(p, { heap });
        assert.deepEqual(a.shape, shape, dict);
        assert.deepEqual(a.toArray(), values, dict);
        a.close();
      }
    });
  } finally {
    t.cleanup();
  }
});
