// What `npm pack` ships: the built package and its Markdown, with every link in that Markdown
// working inside the tarball (relative links resolve to shipped files and their headings;
// links to files that are not shipped point into the repository, at files that exist), and no
// install-time script (npm 11 warns about them when the tarball is installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function packedFiles() {
  // --ignore-scripts: the tests run against the build `npm test` just made (prepack would
  // rebuild it); --dry-run writes no tarball.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [report] = JSON.parse(r.stdout);
  return report.files.map((f) => f.path);
}

const files = packedFiles();
const shipped = new Set(files);

/** The headings' anchors of a Markdown text, as GitHub makes them. */
function anchors(markdown) {
  const out = new Set();
  const seen = new Map();
  for (const m of markdown.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Every Markdown link of a text (outside code), as written. */
function links(markdown) {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

const repository = pkg.repository?.url?.replace(/^git\+/, '').replace(/\.git$/, '');

test('package.json names its repository, and the tarball holds the built package and its docs', () => {
  assert.match(repository ?? '', /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
  for (const f of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
  ])
    assert.ok(shipped.has(f), `${f} is shipped`);
  assert.ok(files.some((f) => f.startsWith('docs/') && f.endsWith('.md')));
  // The native backend ships as sources (built on the user's machine, no download) with its
  // build script; nothing else of src/, test/, bench/, examples/ or scripts/.
  for (const f of [
    'native/binding.gyp',
    'native/src/addon.cc',
    'native/src/sys.c',
    'scripts/build-native.js',
  ])
    assert.ok(shipped.has(f), `${f} is shipped`);
  assert.ok(
    !files.some(
      (f) => /^(src|test|bench|examples|scripts)\//.test(f) && f !== 'scripts/build-native.js',
    ),
    'sources stay out',
  );
  assert.ok(!files.some((f) => f.startsWith('native/build/')), 'no prebuilt binary is shipped');
});

test('one install-time script, the native build (which never fails an install); the TypeScript build runs on npm ci (dependencies) and npm pack (prepack)', () => {
  for (const hook of ['preinstall', 'postinstall', 'prepare', 'prepublish'])
    assert.equal(pkg.scripts[hook], undefined, `scripts.${hook}`);
  assert.equal(pkg.scripts.install, 'node scripts/build-native.js');
  assert.match(pkg.scripts.dependencies, /npm run build/);
  assert.match(pkg.scripts.prepack, /npm run build/);
});

test('every link in the shipped Markdown works inside the tarball', () => {
  const broken = [];
  const md = files.filter((f) => f.endsWith('.md'));
  assert.ok(md.length >= 10, `${md.length} Markdown files shipped`);
  for (const file of md) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const link of links(text)) {
      const [path, hash] = link.split('#');
      if (/^[a-z]+:/i.test(link)) {
        // A link into this repository names a file or folder that exists here.
        if (repository !== undefined && link.startsWith(`${repository}/`)) {
          const m = /^\/(?:blob|tree)\/main\/([^#]+)/.exec(link.slice(repository.length));
          if (m === null || !existsSync(join(root, m[1])))
            broken.push(`${file}: ${link} (not a file of this repository)`);
        }
        continue;
      }
      let target = file;
      if (path !== '') {
        target = posix.normalize(posix.join(dirname(file), path)).replace(/\/$/, '');
        const isFile = shipped.has(target);
        const isDir = files.some((f) => f.startsWith(`${target}/`));
        if (!isFile && !isDir) {
          broken.push(`${file}: ${link} (${target} is not in the tarball)`);
          continue;
        }
        if (!isFile) continue;
      }
      if (hash !== undefined && target.endsWith('.md')) {
        const heads = anchors(readFileSync(join(root, target), 'utf8'));
        if (!heads.has(hash)) broken.push(`${file}: ${link} (no heading #${hash} in ${target})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
