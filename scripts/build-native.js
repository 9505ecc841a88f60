#!/usr/bin/env node
// Builds shmframe's native backend (native/: the Node addon and the C library Python loads) with
// the node-gyp that ships with npm, against the headers of the Node that runs this script, with no
// network. Run by `npm ci` / `npm install` (the "install" script) and by `npm run build:native`.
//
// Without --strict a failed build is not an install failure: thread heaps work without the
// addon, and process heaps then say how to build it (SHMFRAME_ERR_NATIVE).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const strict = process.argv.includes('--strict');

function fail(message) {
  const text =
    `shmframe: the native backend was not built: ${message}\n` +
    `  Thread heaps work without it; process heaps, named and file heaps and the Python package need it.\n` +
    `  Build it later with: npm run build:native\n`;
  process.stderr.write(text);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') fail(`it supports Linux only (this is ${process.platform})`);
if (process.env.SHMFRAME_SKIP_NATIVE === '1') fail('SHMFRAME_SKIP_NATIVE=1 is set');

// node-gyp: the one npm runs scripts with, else the copy inside npm next to this Node.
const prefix = dirname(dirname(process.execPath));
const candidates = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter((p) => p && existsSync(p));
if (candidates.length === 0) fail('node-gyp was not found (it ships with npm)');

// Node's headers: given by npm's config, else next to this Node (/usr/include/node for /usr/bin/node).
// Without them node-gyp would try to download headers, which must never happen here.
let nodedir = process.env.npm_config_nodedir;
if (!nodedir && existsSync(join(prefix, 'include/node/node.h'))) nodedir = prefix;
if (!nodedir) fail(`Node's headers were not found under ${join(prefix, 'include/node')}`);

const args = [
  candidates[0],
  'rebuild',
  '--directory',
  join(root, 'native'),
  `--nodedir=${nodedir}`,
];
const started = Date.now();
const r = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
  timeout: 10 * 60_000,
});
if (r.status !== 0) {
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-25).join('\n');
  fail(`node-gyp exited with ${r.status ?? r.signal ?? r.error}:\n${log}`);
}
for (const f of ['shmframe.node', 'shmframe_sys.so']) {
  if (!existsSync(join(root, 'native/build/Release', f))) fail(`node-gyp did not produce ${f}`);
}
process.stdout.write(
  `shmframe: native backend built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
