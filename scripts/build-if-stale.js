#!/usr/bin/env node
// `npm start`'s build step: runs `npm run build` only when a source is newer than the build in
// dist/ (or dist/ is missing). A fresh clone is built by `npm ci` (the prepare script), and a full
// TypeScript build takes 10-30 s on a busy 2-core machine: longer than the demo itself.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** mtimes (ms) of every file under `dir` whose name ends with one of `exts`. */
function mtimes(dir, exts) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return mtimes(p, exts);
    return exts.some((x) => e.name.endsWith(x)) ? [statSync(p).mtimeMs] : [];
  });
}

const sources = [
  ...mtimes(join(root, 'src'), ['.ts']),
  ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map(
    (f) => statSync(join(root, f)).mtimeMs,
  ),
];
// tsc rewrites every output on each build: the oldest output is about when the last build ran.
const outputs = mtimes(join(root, 'dist'), ['.js']);
const stale =
  !existsSync(join(root, 'dist', 'cli', 'main.js')) ||
  outputs.length === 0 ||
  Math.max(...sources) > Math.min(...outputs);
if (stale) {
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
