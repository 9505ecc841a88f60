// The code blocks of the README and the guides, type-checked and run as written, so they stay
// true: ```js and ```ts blocks compile under `strict` + `noUncheckedIndexedAccess` (js blocks
// with `checkJs`) against the built package's types, in ONE TypeScript program for every block of
// every file, and each runs (ts blocks transpiled first) as a module inside the package, so
// 'shmframe' resolves to it as it does for users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The type check and the runs write their copies apart: two test files may handle one Markdown
// file at the same time, and a run must never read a copy being rewritten.
const kRunDir = join(root, '.tmp', 'markdown');
const kCheckDir = join(root, '.tmp', 'markdown-types');

/** Fence languages a code block may have: js and ts are checked and run, the rest are not code. */
export const kFenceLanguages = new Set(['js', 'ts', 'sh', 'python', 'text', 'json']);

/** Compiler options of the check: what a strict project of a shmframe user would use. */
export const kCompilerOptions = {
  strict: true,
  noUncheckedIndexedAccess: true,
  allowJs: true,
  checkJs: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ['node'],
  skipLibCheck: true,
};

/**
 * Every fenced block of `file` (a path from the repository root): its language (the word after
 * the opening fence, '' when there is none), code and line.
 */
export function fencedBlocks(file) {
  const text = readFileSync(join(root, file), 'utf8');
  const blocks = [];
  for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const line = text.slice(0, m.index).split('\n').length;
    blocks.push({ lang: m[1], code: m[2], line });
  }
  return blocks;
}

/** The ```js and ```ts blocks of `file`, each with the path it is written to for tsc and node. */
export function codeBlocks(file, dir = kRunDir) {
  return fencedBlocks(file)
    .filter((b) => b.lang === 'js' || b.lang === 'ts')
    .map((b, i) => {
      const base = join(dir, `${file.replace(/\W/g, '-')}-${i + 1}`);
      const title = b.code.split('\n').find((l) => l.startsWith('// ')) ?? `example ${i + 1}`;
      return {
        ...b,
        index: i + 1,
        title,
        source: `${base}.${b.lang === 'ts' ? 'mts' : 'mjs'}`,
        run: `${base}.mjs`,
      };
    });
}

function writeBlocks(files, dir) {
  mkdirSync(dir, { recursive: true });
  const blocks = files.flatMap((file) => codeBlocks(file, dir).map((b) => ({ ...b, file })));
  for (const b of blocks) {
    writeFileSync(b.source, b.code);
    if (b.lang === 'ts') {
      const out = ts.transpileModule(b.code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        fileName: b.source,
      });
      writeFileSync(b.run, out.outputText);
    }
  }
  return blocks;
}

/**
 * One test per file that checks its fences name a known language, and one test per code block
 * of all `files` that it type-checks: one TypeScript program for all of them, built once.
 */
export function typeCheckMarkdown(files) {
  const blocks = writeBlocks(files, kCheckDir);
  let diagnostics;
  const check = () => {
    if (diagnostics !== undefined) return diagnostics;
    const program = ts.createProgram(
      blocks.map((b) => b.source),
      kCompilerOptions,
    );
    diagnostics = new Map(blocks.map((b) => [b.source, []]));
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const at = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0) : undefined;
      const where = d.file
        ? `${relative(root, d.file.fileName)}:${(at?.line ?? 0) + 1}`
        : 'program';
      const list = d.file ? diagnostics.get(d.file.fileName) : undefined;
      (list ?? diagnostics.get('') ?? diagnostics.set('', []).get('')).push(
        `${where}: TS${d.code}: ${text}`,
      );
    }
    return diagnostics;
  };
  for (const file of files)
    test(`${file}: every fenced block names its language (${[...kFenceLanguages].join(', ')})`, () => {
      for (const b of fencedBlocks(file))
        assert.ok(kFenceLanguages.has(b.lang), `${file}:${b.line}: fence language '${b.lang}'`);
    });
  test('the type check itself has no errors outside the blocks', () => {
    assert.deepEqual(check().get('') ?? [], []);
  });
  for (const b of blocks)
    test(`${b.file} ${b.lang} block ${b.index} (line ${b.line}) type-checks: ${b.title}`, () => {
      const found = check().get(b.source);
      assert.deepEqual(found, [], `\n${found.join('\n')}\n--- the block:\n${b.code}`);
    });
}

/**
 * One test per ```js / ```ts block of `file` (`required`: there is at least one): the block runs
 * as a module inside the package, exits 0, and every `console.log(x); // value` comment states how one line of its output starts.
 */
export function testMarkdownExamples(
  file,
  { label = file, timeout = 60_000, required = false } = {},
) {
  const blocks = writeBlocks([file], kRunDir);
  if (required)
    test(`${label} has runnable examples`, () => {
      assert.ok(blocks.length >= 1);
    });
  for (const b of blocks) {
    test(`${label} example ${b.index} runs: ${b.title}`, () => {
      const r = spawnSync(process.execPath, [b.run], {
        cwd: root,
        encoding: 'utf8',
        timeout,
        env: { ...process.env, SHMFRAME_HEAP_SIZE: '1G' },
      });
      assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      const expected = [...b.code.matchAll(/console\.log\([^\n]*\);\s*\/\/ ([^\s:]+)/g)].map(
        (m) => m[1],
      );
      const printed = r.stdout.trim().split('\n');
      for (const value of expected)
        assert.ok(
          printed.some((line) => line.startsWith(value)),
          `expected output starting with ${value}, got:\n${r.stdout}`,
        );
    });
  }
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
