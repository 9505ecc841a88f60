// Python and Node appenders on one frame at once (the same reservation protocol in both
// languages: rows never interleave, length counts only complete rows); and Heap.open from Python
// by file, by (pid, fd) of a memfd and by an inherited fd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Heap, SharedArray, SharedFrame } from 'shmframe';
import { noNative, spawnNode, withProcessHeap } from '../../helpers/process.js';
import { needPython, spawnPython } from '../../helpers/python.js';

const skip = noNative || needPython(['numpy']);

const kPython = `
import sys, shmframe
f = shmframe.attach(sys.argv[1]); who = int(sys.argv[2])
for batch in range(30):
    f.append({'who': [who] * 25, 'i': list(range(batch * 25, batch * 25 + 25)),
              's': [f'{who}:{batch * 25 + k} ünï' for k in range(25)], 'tag': [f't{who}'] * 25})
f.close()
`;

const kNode = `
import { SharedFrame } from 'shmframe';
const f = SharedFrame.attach(process.argv[2]);
const who = Number(process.argv[3]);
for (let batch = 0; batch < 30; batch++) {
  const i = Array.from({ length: 25 }, (_, k) => batch * 25 + k);
  f.append({ who: Array(25).fill(who), i, s: i.map((x) => \`\${who}:\${x} ünï\`), tag: Array(25).fill(\`t\${who}\`) });
}
f.close();
`;

test(
  'two Python processes and two Node processes append to one frame at once: batches stay whole, nothing is lost',
  { skip },
  async () => {
    await withProcessHeap(async (heap) => {
      const f = SharedFrame.create(
        { who: 'i4', i: 'i4', s: 'utf8', tag: 'category' },
        { capacity: 4 * 30 * 25, heap, stringBytes: 1 << 20 },
      );
      const children = [
        spawnPython(kPython, [String(f.handle), 1]),
        spawnNode(kNode, [String(f.handle), 2]),
        spawnPython(kPython, [String(f.handle), 3]),
        spawnNode(kNode, [String(f.handle), 4]),
      ];
      await Promise.all(children.map((c) => c.ok()));
      assert.equal(f.length, 3000);
      const who = f.col('who');
      const i = f.col('i');
      const seen = new Map([1, 2, 3, 4].map((w) => [w, []]));
      for (let start = 0; start < 3000; start += 25) {
        const w = who[start];
        for (let k = 0; k < 25; k++) {
          assert.equal(who[start + k], w, `row ${start + k}: a batch is contiguous`);
          assert.equal(f.get(start + k, 's'), `${w}:${i[start + k]} ünï`);
          assert.equal(f.get(start + k, 'tag'), `t${w}`);
          seen.get(w).push(i[start + k]);
        }
      }
      for (const [, list] of seen)
        assert.deepEqual(
          list,
          Array.from({ length: 750 }, (_, k) => k),
          'each appender in order',
        );
      assert.deepEqual(new Set(f.col('tag').categories), new Set(['t1', 't2', 't3', 't4']));
      f.close();
    });
  },
);

const kOpen = `
import json, sys, shmframe
how = sys.argv[1]
if how == 'file':
    heap = shmframe.Heap.open(file=sys.argv[2])
elif how == 'pid':
    heap = shmframe.Heap.open(pid=int(sys.argv[2]), fd=int(sys.argv[3]))
else:
    heap = shmframe.Heap.open(fd=3)
with heap.lookup('a') as a:
    v = a.numpy(); v += 1
    print(json.dumps({'sum': int(v.sum()), 'file': heap.file, 'runtime': sorted(p['runtime'] for p in heap.processes())}))
`;

test(
  'Heap.open from Python: a file heap, a memfd by (pid, fd) and a memfd inherited as fd 3',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmframe-pyfile-'));
    try {
      const file = join(dir, 'heap.bin');
      const fileHeap = Heap.create({ size: '8M', file });
      const a = SharedArray.full([4], 1, 'i4', { heap: fileHeap });
      fileHeap.publish('a', a);
      const viaFile = spawnPython(kOpen, ['file', file]);
      const r1 = JSON.parse(await viaFile.line(/^\{/));
      await viaFile.ok();
      assert.deepEqual(r1, { sum: 8, file, runtime: ['node', 'python'] });
      fileHeap.unpublish('a');
      a.close();
      await withProcessHeap(async (heap) => {
        const b = SharedArray.full([4], 10, 'i4', { heap });
        heap.publish('a', b);
        const fd = Number(/:m\d+\.(\d+):/.exec(String(b.handle))[1]);
        heap.releaseHandle(b.handle);
        const viaPid = spawnPython(kOpen, ['pid', process.pid, fd]);
        assert.equal(JSON.parse(await viaPid.line(/^\{/)).sum, 44);
        await viaPid.ok();
        const inherited = spawnPython(kOpen, ['inherited'], { fds: [fd] });
        assert.equal(JSON.parse(await inherited.line(/^\{/)).sum, 48);
        await inherited.ok();
        assert.deepEqual([...b.data], [12, 12, 12, 12]);
        heap.unpublish('a');
        b.close();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
