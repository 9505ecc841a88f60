// Running the ```js examples of a Markdown file as written (README and guides), so they stay true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The ```js blocks of `file` (a path from the repository root). */
export function jsBlocks(file) {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * One test per ```js block of `file`: the block runs as a module inside the package (so
 * 'shmframe' resolves to it, as it does for users), exits 0, and every `console.log(x); // value`
 * comment states how one line of its output starts.
 */
export function testMarkdownExamples(file, { label = file, timeout = 60_000 } = {}) {
  const blocks = jsBlocks(file);
  test(`${label} has runnable examples`, () => {
    assert.ok(blocks.length >= 1);
  });
  blocks.forEach((code, i) => {
    const title = code.split('\n').find((l) => l.startsWith('// ')) ?? `example ${i + 1}`;
    test(`${label} example ${i + 1} runs: ${title}`, () => {
      const dir = join(root, '.tmp', 'markdown');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `${file.replace(/\W/g, '-')}-${i + 1}.mjs`);
      writeFileSync(out, code);
      try {
        const r = spawnSync(process.execPath, [out], {
          cwd: root,
          encoding: 'utf8',
          timeout,
          env: { ...process.env, SHMFRAME_HEAP_SIZE: '1G' },
        });
        assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
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
        rmSync(out, { force: true });
      }
    });
  });
}

/**
 * One test per runnable ```python block of `file` (those whose first line is a `# ` comment, the
 * test's title): the block runs with /usr/bin/python3 and the repository's package importable,
 * exits 0, and every `print(x)  # value` comment states how one line of its output starts.
 * Skipped, saying why, when Python lacks the modules `needs`.
 */
export function testPythonMarkdownExamples(
  file,
  { label = file, skip = false, timeout = 60_000, python, env } = {},
) {
  const text = readFileSync(join(root, file), 'utf8');
  const blocks = [...text.matchAll(/```python\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((b) => b.startsWith('# '));
  test(`${label} has runnable Python examples`, () => {
    assert.ok(blocks.length >= 1);
  });
  blocks.forEach((code, i) => {
    const title = code.split('\n')[0].slice(2);
    test(`${label} Python example ${i + 1} runs: ${title}`, { skip }, () => {
      const r = spawnSync(python, ['-c', code], { cwd: root, encoding: 'utf8', timeout, env });
      assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      const expected = [...code.matchAll(/print\([^\n]*\)\s*# ([^\s:]+)/g)].map((m) => m[1]);
      const printed = r.stdout.trim().split('\n');
      for (const value of expected)
        assert.ok(
          printed.some((line) => line.startsWith(value)),
          `expected output starting with ${value}, got:\n${r.stdout}`,
        );
    });
  });
}
