// Test helpers for process heaps: real child processes (plain `node`, importing the built
// package), and the checks every process test ends with: no child left running, nothing left in
// /dev/shm, the heap back to where it was.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { Heap } from 'shmframe';
import { assertHeapAt } from './heap.js';

const children = new Set();

/**
 * Skip reason when process heaps cannot be tested here: only when SHMFRAME_NO_NATIVE=1 is set
 * on purpose. A missing addon otherwise fails the tests (npm ci builds it).
 */
export const noNative =
  process.env.SHMFRAME_NO_NATIVE === '1' ? 'SHMFRAME_NO_NATIVE=1: process heaps are off' : false;

/**
 * Starts `node` on an ES module given as source (it can `import ... from 'shmframe'`), with
 * `args` in process.argv.slice(2) and extra fds from `fds` (fd 3, 4...). Returns the child and
 * promises of its output and exit.
 */
export function spawnNode(source, args = [], { fds = [], env, stdin = 'ignore' } = {}) {
  return spawnProcess(
    process.execPath,
    ['--input-type=module', '-e', source, '--', 'child', ...args.map(String)], // argv.slice(2) = args
    { fds, env, stdin },
  );
}

/**
 * Starts `command argv...` as a tracked child (see {@link assertNoChildren}), with extra fds from
 * `fds`. Returns the child and promises of its output and exit, as {@link spawnNode} does.
 */
export function spawnProcess(command, argv, { fds = [], env, stdin = 'ignore' } = {}) {
  const child = spawn(command, argv, {
    stdio: [stdin, 'pipe', 'pipe', ...fds],
    env: env ?? process.env,
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = once(child, 'close').then(([code, signal]) => {
    children.delete(child);
    return { code, signal, out, err };
  });
  return {
    child,
    exited,
    /** Resolves with the first stdout line matching `re` (or rejects if the child exits first). */
    line(re = /./) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = out
            .split('\n')
            .slice(0, -1)
            .find((l) => re.test(l)); // whole lines only
          if (hit !== undefined) {
            child.stdout.off('data', check);
            resolve(hit);
          }
        };
        child.stdout.on('data', check);
        check();
        void exited.then((r) =>
          reject(new Error(`child exited (${r.code ?? r.signal}) before printing ${re}: ${r.err}`)),
        );
      });
    },
    /** Resolves with the exit; rejects unless it exited with code 0. */
    async ok() {
      const r = await exited;
      if (r.code !== 0)
        throw new Error(`child failed (${r.code ?? r.signal}):\n${r.err}\n${r.out}`);
      return r;
    },
  };
}

/**
 * shmframe's entries in /dev/shm now that this test process named ({@link uniqueName} puts its
 * pid in every name): test files run two at a time, so others' heaps come and go meanwhile.
 */
export function shmEntries() {
  return readdirSync('/dev/shm')
    .filter((f) => f.startsWith('shmframe-') && f.includes(`-${process.pid}-`))
    .sort();
}

/** Kills and waits for every child a test left running, and fails if there was one. */
export async function assertNoChildren() {
  const left = [...children];
  for (const c of left) c.kill('SIGKILL');
  await Promise.all(
    left.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : once(c, 'close'))),
  );
  children.clear();
  assert.equal(left.length, 0, `${left.length} child process(es) were still running`);
}

/**
 * Runs `fn(heap)` with a fresh process heap (`options` as for Heap.create, default an anonymous
 * memfd heap), then checks: no child left, every dead process released, the heap's objects,
 * used bytes and handles back to where they were, and /dev/shm as it was once the heap's name
 * is removed.
 */
export async function withProcessHeap(fn, options = { size: '64M', shared: 'process' }) {
  const shmBefore = shmEntries();
  const heap = Heap.create(options);
  const before = heap.stats();
  try {
    await fn(heap);
    await assertNoChildren();
    heap.releaseDead();
    assertHeapAt(heap, before);
    assert.deepEqual(
      heap.processes().map((p) => p.pid),
      [process.pid],
      'only this process is left in the heap',
    );
  } finally {
    await assertNoChildren().catch(() => {});
    heap.unlink();
  }
  assert.deepEqual(shmEntries(), shmBefore, 'nothing new left in /dev/shm');
  return heap;
}

/** A unique heap name for a test. */
export function uniqueName(tag) {
  return `test-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
