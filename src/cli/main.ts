#!/usr/bin/env node
/**
 * The `shmframe` command. Subcommands live in their own modules and are loaded on demand.
 */
import { ShmframeError } from '../errors.js';

const kUsage = `shmframe: zero-copy shared arrays and frames for Node.js worker threads

Usage:
  shmframe <command> [options]

Commands:
  demo [--quick]             seed 002 end to end on generated data: a pool over a shared frame
                             vs a sequential loop and a cloning pool, then a producer-consumer
                             pipeline; one comparison table (npm start; shmframe demo --help)
  inspect-heap [--size 1G | --name NAME | --file PATH]
                             print heap.stats() of a fresh heap, or of a named or file heap
                             with its processes and published names
  gc [--list]                remove named heaps (/dev/shm/shmframe-*) whose processes are all
                             gone
  load FILE... -s SCHEMA -o OUT
                             parse delimited text in parallel into a frame, write HDF5, Arrow,
                             .npy or .npz (shmframe load --help)
  help                       show this help

Options:
  -h, --help                 show this help
  -v, --version              print the version

Environment:
  SHMFRAME_HEAP_SIZE         size of the default heap (e.g. 8G); default half of physical memory

Examples:
  shmframe demo --quick
  shmframe inspect-heap
  shmframe inspect-heap --size 512M
  shmframe inspect-heap --name results
  shmframe gc
  shmframe load data/*.txt --schema 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' --out combined.h5
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(kUsage);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (command === 'demo') {
    const { demo } = await import('./demo.js');
    return demo(rest);
  }
  if (command === 'load') {
    const { load } = await import('./load.js');
    return load(rest);
  }
  if (command === 'inspect-heap') {
    const { inspectHeap } = await import('./heaps.js');
    return inspectHeap(rest);
  }
  if (command === 'gc') {
    const { gc } = await import('./heaps.js');
    return gc(rest);
  }
  process.stderr.write(`shmframe: unknown command '${command}'\n\n${kUsage}`);
  return 2;
}

// `shmframe ... | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(
      `shmframe: ${ShmframeError.isShmframeError(e) ? `${e.code}: ` : ''}${e.message}\n`,
    );
    process.exitCode = 1;
  },
);
