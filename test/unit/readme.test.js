// The README's examples run as written (so they stay true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the README has runnable examples', () => {
  assert.ok(blocks.length >= 1);
});

blocks.forEach((code, i) => {
  const title = code.split('\n').find((l) => l.startsWith('// ')) ?? `example ${i + 1}`;
  test(`README example ${i + 1} runs: ${title}`, () => {
    // Inside the package so that 'shmframe' resolves to it, as it does for users.
    const dir = join(root, '.tmp', 'readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    try {
      const r = spawnSync(process.execPath, [file], {
        cwd: root,
        encoding: 'utf8',
        timeout: 120000,
        env: { ...process.env, SHMFRAME_HEAP_SIZE: '1G' },
      });
      assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      // Every `console.log(x); // value` comment states what that line prints.
      const expected = [...code.matchAll(/console\.log\([^\n]*\);\s*\/\/ ([^\s:]+)/g)].map(
        (m) => m[1],
      );
      const printed = r.stdout.trim().split('\n');
      for (const value of expected)
        assert.ok(
          printed.some((line) => line.startsWith(value)),
          `expected output starting with ${value}, got:\n${r.stdout}`,
        );
    } finally {
      rmSync(file, { force: true });
    }
  });
});
