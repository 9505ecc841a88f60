/**
 * `shmframe inspect-heap` and `shmframe gc`: look at a heap (a fresh one, or a named or file
 * heap other processes use) and remove named heaps whose processes are all gone.
 */
import { Heap } from '../heap/heap.js';
import { listNamed } from '../native/segment.js';
import { formatBytes } from '../util/size.js';

const kInspectUsage = `Usage: shmframe inspect-heap [--size 1G | --name NAME | --file PATH]

Without options, creates a fresh default heap and prints heap.stats(). With --name or --file,
opens that process heap (as one more process), prints its stats, its processes and its published
names, and leaves it again.
`;

export function inspectHeap(rest: string[]): number {
  let size: string | undefined;
  let name: string | undefined;
  let file: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    const value = (flag: string): string | undefined =>
      a === flag ? rest[++i] : a.startsWith(`${flag}=`) ? a.slice(flag.length + 1) : undefined;
    if (a === '-h' || a === '--help') {
      process.stdout.write(kInspectUsage);
      return 0;
    }
    const s = value('--size');
    const n = value('--name');
    const f = value('--file');
    if (s !== undefined) size = s;
    else if (n !== undefined) name = n;
    else if (f !== undefined) file = f;
    else {
      process.stderr.write(`shmframe inspect-heap: unknown option ${a}\n\n${kInspectUsage}`);
      return 2;
    }
  }
  const heap =
    name !== undefined
      ? Heap.open(name)
      : file !== undefined
        ? Heap.open({ file })
        : size === undefined
          ? Heap.default()
          : Heap.create({ size });
  const stats = heap.stats();
  const width = Math.max(...Object.keys(stats).map((k) => k.length));
  const where =
    heap.name !== undefined
      ? ` (named '${heap.name}')`
      : heap.file !== undefined
        ? ` (file ${heap.file})`
        : '';
  process.stdout.write(
    `heap ${heap.id.toString(16)}${heap.shared === 'process' ? `${where}, process heap` : ''}\n`,
  );
  for (const [k, v] of Object.entries(stats)) {
    const human = ['size', 'used', 'free', 'largestFree', 'overhead'].includes(k)
      ? `  (${formatBytes(v)})`
      : '';
    process.stdout.write(`  ${k.padEnd(width)}  ${v}${human}\n`);
  }
  if (heap.shared === 'process') {
    process.stdout.write('processes\n');
    for (const p of heap.processes()) {
      process.stdout.write(
        `  pid ${p.pid}  ${p.runtime}  ${p.state}${p.self ? ' (this inspect)' : ''}  joined ${p.joined.toISOString()}\n`,
      );
    }
    const names = heap.published();
    process.stdout.write(`published ${names.length === 0 ? '(none)' : names.join(', ')}\n`);
  }
  return 0;
}

const kGcUsage = `Usage: shmframe gc [--list]

Removes every named heap (/dev/shm/shmframe-*) whose processes are all gone: left behind when
every process using it was killed before the last could remove it. Heap.create({ name }) does
the same sweep. With --list, only lists the named heaps and who uses them.
`;

export function gc(rest: string[]): number {
  let list = false;
  for (const a of rest) {
    if (a === '-h' || a === '--help') {
      process.stdout.write(kGcUsage);
      return 0;
    }
    if (a === '--list') list = true;
    else {
      process.stderr.write(`shmframe gc: unknown option ${a}\n\n${kGcUsage}`);
      return 2;
    }
  }
  if (list) {
    const names = listNamed();
    if (names.length === 0) process.stdout.write('no named heaps\n');
    for (const n of names) process.stdout.write(`${n}\n`);
    return 0;
  }
  const report = Heap.sweep();
  for (const n of report.removed) process.stdout.write(`removed ${n}\n`);
  for (const k of report.kept) process.stdout.write(`kept ${k.name}: ${k.reason}\n`);
  if (report.removed.length === 0 && report.kept.length === 0)
    process.stdout.write('no named heaps\n');
  return 0;
}
