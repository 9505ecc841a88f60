// Type-level checks of the public API (run by `npm run lint` through tsc; nothing executes).
import { Pool, SharedArray } from 'shmframe';
import type * as Tasks from './tasks.js';

export async function untyped(): Promise<void> {
  // Without a type argument, any task name is accepted and results are unknown.
  const pool = new Pool({ module: new URL('./tasks.js', import.meta.url) });
  const r: unknown = await pool.run('anything', { x: 1 });
  void r;
  const idle: Promise<void> = pool.onIdle();
  await idle;
  await pool.close();
}

export async function typed(): Promise<void> {
  const pool = new Pool<typeof Tasks>({ module: new URL('./tasks.js', import.meta.url) });
  const n: number = await pool.run('double', { x: 2 });
  const s: string = await pool.run('greet', 'you');
  // @ts-expect-error: not an export of the module
  await pool.run('missing', {});
  // @ts-expect-error: not a function export
  await pool.run('notATask', {});
  // @ts-expect-error: wrong argument type
  await pool.run('double', { x: 'two' });
  for await (const v of pool.imap('double', [{ x: 1 }, { x: 2 }])) {
    const k: number = v;
    void k;
  }
  void n;
  void s;
  await pool.close();
}

export function arrays(): void {
  const a = SharedArray.zeros([2, 3], 'f8');
  const shape: readonly number[] = a.shape;
  a.detach();
  void shape;
}

export async function processes(): Promise<void> {
  // Worker processes: the same API; a heap in OS shared memory; pids in stats and ctx.
  const { Heap } = await import('shmframe');
  const heap = Heap.create({ size: '64M', shared: 'process' });
  const pool = new Pool<typeof Tasks>({
    module: new URL('./tasks.js', import.meta.url),
    isolation: 'process',
    heap,
  });
  const n: number = await pool.run('double', { x: 2 });
  const pid: number = pool.stats().workers[0]?.pid ?? -1;
  // @ts-expect-error: 'thread' or 'process'
  new Pool({ module: 'tasks.js', isolation: 'fork' });
  void n;
  void pid;
  await pool.close();
}
