// Internal modules load as the entry of a fresh process too, not only through the barrel: a
// worker or helper that imports one of them alone (test/fixtures/corrupt-probe-helper.js imports
// array/shared-array.js) once failed with "Cannot access 'codec' before initialization", because
// heap/handle.ts and heap/heap.ts imported each other and the handle codec was set before
// handle.js had run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const dist = new URL('../../../dist/', import.meta.url).href;

for (const entry of [
  'heap/handle.js',
  'array/shared-array.js',
  'heap/block-ref.js',
  'heap/heap.js',
]) {
  test(`${entry} loads as the first module of a process and its handles work`, () => {
    const source = `
      await import(${JSON.stringify(dist + entry)});
      const { SharedArray } = await import(${JSON.stringify(dist + 'array/shared-array.js')});
      const { Heap } = await import(${JSON.stringify(dist + 'heap/heap.js')});
      const heap = Heap.create({ size: '2M' });
      const a = SharedArray.full([3], 7, 'i4', { heap });
      let code;
      try {
        JSON.stringify({ h: a.handle }); // a thread heap's handle cannot leave the process
      } catch (err) {
        code = err.code + ' ' + err.details.released;
      }
      a.close();
      console.log(code, heap.stats().objects, heap.stats().handles);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'SHMFRAME_ERR_INVALID_ARG true 0 0');
  });
}
