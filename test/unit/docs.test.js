// The ```js examples of the guides run as written (so the guides stay true), as the README's do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const guides = ['docs/getting-started.md', 'docs/coming-from-python.md'];

for (const guide of guides) {
  const text = readFileSync(join(root, guide), 'utf8');
  const blocks = [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

  test(`${guide} has runnable examples`, () => {
    assert.ok(blocks.length >= 1);
  });

  blocks.forEach((code, i) => {
    const title = code.split('\n').find((l) => l.startsWith('// ')) ?? `example ${i + 1}`;
    test(`${guide} example ${i + 1} runs: ${title}`, () => {
      // Inside the package so that 'shmframe' resolves to it, as it does for users.
      const dir = join(root, '.tmp', 'docs');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${guide.replace(/\W/g, '-')}-${i + 1}.mjs`);
      writeFileSync(file, code);
      try {
        const r = spawnSync(process.execPath, [file], {
          cwd: root,
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, SHMFRAME_HEAP_SIZE: '1G' },
        });
        assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
        // Every `console.log(x); // value` comment states how that line's output starts.
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
}
