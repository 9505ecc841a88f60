import { closeSync } from 'node:fs';
import os from 'node:os';
import {
  getEnvironmentData,
  isMainThread,
  setEnvironmentData,
  type Worker,
} from 'node:worker_threads';
import { CorruptError, InvalidArgumentError, UnknownHeapError, describe } from '../errors.js';
import { formatBytes, parseSize } from '../util/size.js';
import { HeapCore, kMinHeapSize, type ReleaseReport } from './core.js';
import { kBackingFile, kBackingMemfd, kBackingNamed, kBackingThread, kUnit } from './layout.js';
import { hasBrand } from '../util/brand.js';
import {
  createFile,
  createMemfd,
  createNamed,
  openFile,
  openMemfdOf,
  openNamed,
  unlinkNamed,
  type Segment,
} from '../native/segment.js';
import { sweepNamed, type SweepReport } from './sweep.js';
import type { ProcessInfo } from './processes.js';
import { keyBytes, Names } from './names.js';
import { attachHandle, isShareable, kShare, type Shareable } from './kinds.js';
import { kFreshSerial } from './tickets.js';
import { HandleRecord, setHandleCodec, type Handle } from './handle.js';

export type { ReleaseReport } from './core.js';
export type { ProcessInfo } from './processes.js';
export type { SweepReport } from './sweep.js';

/** What {@link Heap.stats} reports. All sizes in bytes. */
export interface HeapStats {
  /** Size of the heap buffer. */
  size: number;
  /** Bytes held by live objects, block headers included. */
  used: number;
  /** Bytes in free blocks. */
  free: number;
  /** Live objects (arrays, frames, queues, locks). */
  objects: number;
  /**
   * Largest single allocation that would succeed now, in this thread. (A thread that holds no
   * reference in the heap has no ledger; its next allocation first makes one, 2 KiB, at the
   * highest free space that fits, and this takes that into account.)
   */
  largestFree: number;
  /** Handles created but not yet attached (each holds one reference). */
  handles: number;
  /** Control header and per-thread ledgers: `size - used - free`. */
  overhead: number;
  /** Threads with a ledger in this heap. */
  threads: number;
  /** Times the allocator was rebuilt after a thread died holding its lock. */
  repairs: number;
  /**
   * False while the heap's metadata passed every check. True once a check failed (in any thread):
   * from then on allocations and attaches fail with SHMFRAME_ERR_CORRUPT; objects already
   * attached stay readable. See docs/heap.md, "Damaged heaps".
   */
  corrupt: boolean;
}

export interface HeapOptions {
  /**
   * Size of the heap: bytes, or a string like `'8G'`. The memory is reserved, not touched: the
   * OS commits pages only when objects use them (a file heap reserves its size on disk).
   * @default half of physical memory, or `SHMFRAME_HEAP_SIZE`; required for a file heap
   */
  size?: number | string;
  /**
   * `'thread'`: one `SharedArrayBuffer`, shared by the threads of this process. `'process'`: OS
   * shared memory (an anonymous memfd) that child processes inherit and any process can attach
   * through a string handle; freed by the kernel when the last process lets go, SIGKILL
   * included. Needs the native backend.
   * @default 'thread' (or 'process' when `name` or `file` is given)
   */
  shared?: 'thread' | 'process';
  /**
   * A name for unrelated processes to `Heap.open(name)`: a POSIX shared memory object
   * `/dev/shm/shmframe-<name>`, removed when the last process using it leaves.
   */
  name?: string;
  /** A file to back the heap (a RAM disk path, or a disk): it stays after every process left. */
  file?: string;
  /** For `name`/`file`: replace an existing file (a named heap is never replaced while in use). @default false */
  overwrite?: boolean;
}

/** Where {@link Heap.open} finds a heap. */
export type HeapTarget =
  | string
  | { name: string }
  | { file: string }
  /** A memfd heap inherited as file descriptor `fd` (a child of the creating process). */
  | { fd: number }
  /** A memfd heap of another process, through /proc/<pid>/fd/<fd>. */
  | { pid: number; fd: number };

/** Options of {@link Heap.lookup}. */
export interface LookupOptions {
  /** Also remove the name: the reference the table held becomes the caller's. @default false */
  remove?: boolean;
}

const kBrand = Symbol.for('shmframe.heap');
const kEnvKey = 'shmframe:defaultHeap';
/** Internal access to the engine; not part of the public API. */
export const kCore = Symbol('shmframe.heapCore');

/**
 * Heaps this thread has seen, held weakly: a heap nobody references any more (no object, no
 * variable) is collected with its buffer. The default heap is held strongly below.
 */
const registry = new Map<number, WeakRef<Heap>>();
const forget = new FinalizationRegistry<number>((id) => {
  if (registry.get(id)?.deref() === undefined) registry.delete(id);
});

function remember(heap: Heap): void {
  registry.set(heap.id, new WeakRef(heap));
  forget.register(heap, heap.id);
}

function lookup(id: number): Heap | undefined {
  return registry.get(id)?.deref();
}
// A dead thread's queue put may hold handles of other heaps (core.ts, held.ts).
HeapCore.resolve = (id) => lookup(id)?.[kCore];
let defaultHeap: Heap | undefined;
let exitHookInstalled = false;

/**
 * A heap of shared memory: one `SharedArrayBuffer` with an allocator whose state lives in the
 * buffer, so every thread that has it can allocate, attach and free. Objects (arrays, frames,
 * queues, locks) are blocks in a heap; their handles carry the heap along when posted.
 *
 * @example
 * const heap = Heap.create({ size: '1G' });
 * const a = SharedArray.zeros([1000, 1000], 'f8', { heap });
 * console.log(heap.stats()); // { size, used, free, objects: 1, largestFree, ... }
 */
export class Heap {
  readonly [kCore]: HeapCore;

  private constructor(core: HeapCore) {
    this[kCore] = core;
  }

  /**
   * Creates a new heap of `size` bytes (rounded up to 64): a thread heap by default; in OS
   * shared memory with `shared: 'process'`, `name` or `file` (see {@link HeapOptions}).
   * @example Heap.create({ size: '512M' })
   * @example Heap.create({ size: '1G', shared: 'process' }) // children inherit it
   * @example Heap.create({ size: '1G', name: 'results' })   // Heap.open('results') elsewhere
   */
  static create(options: HeapOptions = {}): Heap {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `Expected \`options\` to be an object like { size: '1G' }, got ${describe(options)}`,
      );
    }
    const { shared, name, file, overwrite } = options;
    if (shared !== undefined && shared !== 'thread' && shared !== 'process') {
      throw new InvalidArgumentError(
        `Expected \`shared\` to be 'thread' or 'process', got ${describe(shared)}`,
      );
    }
    if (name !== undefined && file !== undefined) {
      throw new InvalidArgumentError('Pass either `name` or `file` to Heap.create, not both');
    }
    if (shared === 'thread' && (name !== undefined || file !== undefined)) {
      throw new InvalidArgumentError(
        `A heap with a \`${name !== undefined ? 'name' : 'file'}\` lives in OS shared memory: drop shared: 'thread'`,
      );
    }
    if (overwrite !== undefined && typeof overwrite !== 'boolean') {
      throw new InvalidArgumentError(
        `Expected \`overwrite\` to be a boolean, got ${describe(overwrite)}`,
      );
    }
    if (file !== undefined && (typeof file !== 'string' || file === '')) {
      throw new InvalidArgumentError(`Expected \`file\` to be a path, got ${describe(file)}`);
    }
    if (file !== undefined && options.size === undefined) {
      throw new InvalidArgumentError(
        `A file heap needs an explicit \`size\` (it is reserved on the filesystem up front), e.g. Heap.create({ file: '${file}', size: '1G' })`,
      );
    }
    const size = options.size === undefined ? defaultSize() : parseSize(options.size, 'size');
    if (shared !== 'process' && name === undefined && file === undefined) {
      return Heap.#make(size, false);
    }
    const bytes = checkedSize(size);
    if (name !== undefined) {
      sweepNamed();
      if (overwrite === true) Heap.#removeIfUnused(name);
      return Heap.#adopt(createNamed(name, bytes), kBackingNamed);
    }
    if (file !== undefined)
      return Heap.#adopt(createFile(file, bytes, overwrite === true), kBackingFile);
    return Heap.#adopt(createMemfd(bytes), kBackingMemfd);
  }

  /** Formats a freshly created segment, or joins an existing one. */
  static #adopt(seg: Segment, backing: number): Heap {
    let core: HeapCore;
    try {
      core = seg.created
        ? HeapCore.format(seg.buffer, { kind: backing, path: seg.path, fd: seg.fd })
        : HeapCore.open(seg.buffer, undefined, seg.fd);
    } catch (err) {
      if (seg.created && backing === kBackingNamed) unlinkNamed(seg.path);
      throw err;
    }
    const known = lookup(core.id);
    if (known !== undefined) {
      if (seg.fd >= 0 && core.procs?.fdOf(core.slot) !== seg.fd) closeSync(seg.fd);
      return known;
    }
    const heap = new Heap(core);
    remember(heap);
    installExitHook();
    watch(heap);
    if (!seg.created) core.reapDead();
    return heap;
  }

  static #removeIfUnused(name: string): void {
    let heap: Heap;
    try {
      heap = Heap.open(name);
    } catch {
      unlinkNamed(name);
      return;
    }
    const others = heap.processes().filter((p) => !p.self && p.state === 'live');
    if (others.length > 0) {
      throw new InvalidArgumentError(
        `Cannot replace the heap named '${name}': ${others.length} other process(es) use it (pid ${others.map((p) => p.pid).join(', ')})`,
      );
    }
    unlinkNamed(name);
  }

  /**
   * Opens a heap in OS shared memory that another process created: by name, by file, or (a
   * memfd heap) by an inherited file descriptor or another process's (pid, fd). Handles'
   * string forms open their heap by themselves; this is for a process that starts from a name.
   * @example const heap = Heap.open('results'); const f = heap.lookup('frame');
   */
  static open(target: HeapTarget): Heap {
    if (typeof target === 'string') return Heap.#adopt(openNamed(target), kBackingNamed);
    if (typeof target !== 'object' || target === null) {
      throw new InvalidArgumentError(
        `Expected Heap.open(name), Heap.open({ file }), Heap.open({ fd }) or Heap.open({ pid, fd }), got ${describe(target)}`,
      );
    }
    const t = target as Partial<{ name: string; file: string; fd: number; pid: number }>;
    if (typeof t.name === 'string') return Heap.#adopt(openNamed(t.name), kBackingNamed);
    if (typeof t.file === 'string') return Heap.#adopt(openFile(t.file), kBackingFile);
    if (Number.isInteger(t.fd) && (t.fd as number) >= 0) {
      const pid = t.pid ?? process.pid;
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new InvalidArgumentError(
          `Expected \`pid\` to be a positive integer, got ${describe(t.pid)}`,
        );
      }
      return Heap.#adopt(openMemfdOf(pid, t.fd as number), kBackingMemfd);
    }
    throw new InvalidArgumentError(
      `Expected Heap.open(name), Heap.open({ file }), Heap.open({ fd }) or Heap.open({ pid, fd }), got ${describe(target)}`,
    );
  }

  /**
   * Removes every named heap (`/dev/shm/shmframe-*`) whose processes are all gone (killed
   * before the last one could remove it). `Heap.create({ name })` and `shmframe gc` run it.
   */
  static sweep(): SweepReport {
    return sweepNamed();
  }

  static #make(requested: number, fallback: boolean): Heap {
    let size = checkedSize(requested);
    for (;;) {
      try {
        const heap = new Heap(HeapCore.format(new SharedArrayBuffer(size)));
        remember(heap);
        installExitHook();
        return heap;
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        if (!fallback || size <= 256 * 2 ** 20) {
          throw new InvalidArgumentError(
            `Could not reserve a heap of ${formatBytes(size)}: the system refused the memory (${err.message}). ` +
              `Ask for less, e.g. Heap.create({ size: '${Math.max(1, Math.floor(size / 2 ** 31))}G' }) or SHMFRAME_HEAP_SIZE.`,
            { cause: err },
          );
        }
        size = Math.ceil(size / 2 / kUnit) * kUnit;
      }
    }
  }

  /**
   * The thread's default heap, created on first use. Its size comes from `SHMFRAME_HEAP_SIZE`
   * (like `8G`), else half of physical memory; it is reserved, not touched.
   *
   * In a worker: the default heap of the thread that started it, if that thread had one when the
   * worker started (pool workers always get their pool's heap); otherwise a new heap of its own,
   * which other threads reach through the handles it posts. See docs/heap.md.
   */
  static default(): Heap {
    if (defaultHeap !== undefined) return defaultHeap;
    const inherited = getEnvironmentData(kEnvKey);
    if (inherited instanceof SharedArrayBuffer) {
      defaultHeap = Heap.fromBuffer(inherited);
      return defaultHeap;
    }
    const envSize = process.env['SHMFRAME_HEAP_SIZE'];
    const heap = Heap.#make(
      envSize !== undefined && envSize !== ''
        ? parseSize(envSize, 'SHMFRAME_HEAP_SIZE')
        : defaultSize(),
      envSize === undefined || envSize === '',
    );
    Heap.setDefault(heap);
    return heap;
  }

  /** Makes `heap` this thread's default heap and the one workers started from now on inherit. */
  static setDefault(heap: Heap): void {
    if (!Heap.isHeap(heap))
      throw new InvalidArgumentError(`Expected a Heap, got ${describe(heap)}`);
    defaultHeap = heap;
    setEnvironmentData(kEnvKey, heap.buffer);
  }

  /**
   * The heap in `buffer` (a heap's `buffer`, received from another thread), registered in this
   * thread. A buffer whose header names a heap this thread knows must be that heap's memory: a
   * byte copy of a heap buffer (same id, other memory) is refused with SHMFRAME_ERR_CORRUPT, so
   * that it can never stand in for the heap, nor the heap for it.
   */
  static fromBuffer(buffer: SharedArrayBuffer, expectedId?: number): Heap {
    if (expectedId !== undefined) {
      const known = lookup(expectedId);
      if (known !== undefined) return sameMemory(known, buffer);
    }
    const core = HeapCore.open(buffer, expectedId);
    const known = lookup(core.id);
    if (known !== undefined) return sameMemory(known, buffer);
    const heap = new Heap(core);
    remember(heap);
    installExitHook();
    if (core.procs !== undefined) watch(heap);
    return heap;
  }

  /** A heap this thread already knows, by id. */
  static byId(id: number): Heap | undefined {
    return lookup(id);
  }

  /** True for a Heap from any copy of this module. */
  static isHeap(value: unknown): value is Heap {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }

  /** The heap's id, the same in every thread. */
  get id(): number {
    return this[kCore].id;
  }

  /** Size in bytes. */
  get size(): number {
    return this[kCore].size;
  }

  /** The shared buffer (every object's memory is a view of it). */
  get buffer(): SharedArrayBuffer {
    return this[kCore].buffer;
  }

  /** `'process'` for a heap in OS shared memory (memfd, named or file), else `'thread'`. */
  get shared(): 'thread' | 'process' {
    return this[kCore].backing === kBackingThread ? 'thread' : 'process';
  }

  /** The name of a named heap (`Heap.create({ name })`), else undefined. */
  get name(): string | undefined {
    const core = this[kCore];
    return core.backing === kBackingNamed ? core.path : undefined;
  }

  /**
   * The file descriptor through which this process holds a memfd heap (`shared: 'process'`), to
   * hand to a child as an extra stdio slot: `spawn(cmd, args, { stdio: ['pipe', 'inherit',
   * 'inherit', heap.fd] })`, and in the child `Heap.open({ fd: 3 })`. Undefined for other heaps.
   */
  get fd(): number | undefined {
    const core = this[kCore];
    if (core.backing !== kBackingMemfd || core.procs === undefined) return undefined;
    const fd = core.procs.fdOf(core.slot);
    return fd >= 0 ? fd : undefined;
  }

  /** The absolute path of a file heap, else undefined. */
  get file(): string | undefined {
    const core = this[kCore];
    return core.backing === kBackingFile ? core.path : undefined;
  }

  /**
   * Removes a named heap's name now, so no process can `Heap.open` it any more; processes that
   * have it keep using it, and the memory is freed when the last one lets go. Rarely needed: the
   * last process to leave a named heap removes the name by itself. Returns false when the name
   * was already gone (or this is not a named heap).
   */
  unlink(): boolean {
    const name = this.name;
    return name === undefined ? false : unlinkNamed(name);
  }

  /**
   * The processes attached to a process heap (this one included), after releasing those that
   * are gone. A thread heap has one: this process.
   */
  processes(): ProcessInfo[] {
    const core = this[kCore];
    if (core.procs === undefined) {
      return [
        { pid: process.pid, runtime: 'node', state: 'live', joined: new Date(0), self: true },
      ];
    }
    core.reapDead();
    return core.procs.list();
  }

  /**
   * Releases now what processes that are gone (exited, killed, OOM-killed) still held: their
   * references, the allocator lock, locks and half-done queue operations. Every process of a
   * process heap also does this by itself about once a second and whenever a wait finds an owner
   * gone; call it to have it done at once (after a child you spawned exited, say). Returns how
   * many processes were released.
   */
  releaseDead(): number {
    return this[kCore].reapDead();
  }

  /**
   * Publishes `obj` under `key` in the heap, with a reference of its own: another thread or
   * process gets it with {@link lookup} (a child leaves a result for its parent, say). Publishing
   * again under a key replaces (and releases) what it held. Views cannot be published: `copy()`.
   * @example heap.publish('frame-0', frame); frame.close(); // the heap keeps it
   */
  publish(key: string, obj: Shareable): void {
    const bytes = keyBytes(key);
    if (!isShareable(obj)) {
      throw new InvalidArgumentError(
        `Expected a shmframe object (SharedArray, SharedFrame, SharedQueue, SharedLock) to publish, got ${describe(obj)}`,
      );
    }
    const h = obj[kShare]();
    const core = this[kCore];
    if (h.heap !== core.id) {
      Heap.byId(h.heap)?.releaseHandle(h);
      throw new InvalidArgumentError(
        `Cannot publish '${key}' in heap ${core.id.toString(16)}: the object lives in heap ${h.heap.toString(16)}. Publish it in its own heap.`,
      );
    }
    if (h.view !== undefined) {
      this.releaseHandle(h);
      throw new InvalidArgumentError(
        `Cannot publish '${key}': it is a view (of rows, columns or a reshape); publish the whole object, or a copy()`,
      );
    }
    const names = new Names(core.w);
    let old;
    core.alloc.lock();
    try {
      old = names.set(bytes, {
        unit: h.unit,
        generation: h.generation,
        ticket: h.ticket,
        serial: h.serial,
      });
    } catch (err) {
      core.alloc.unlock();
      this.releaseHandle(h);
      throw err;
    }
    core.alloc.unlock();
    if (old !== undefined) core.releaseTicket(old.unit, { slot: old.ticket, serial: old.serial });
  }

  /**
   * The object published under `key` (a new reference: close it when done), or undefined.
   * With `{ remove: true }` the name is removed and the table's reference becomes the caller's.
   * @example using f = heap.lookup<SharedFrame>('frame-0');
   */
  lookup<T = unknown>(key: string, options: LookupOptions = {}): T | undefined {
    const bytes = keyBytes(key);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `Expected options like { remove: true }, got ${describe(options)}`,
      );
    }
    const core = this[kCore];
    const names = new Names(core.w);
    let entry;
    if (options.remove === true) {
      core.alloc.lock();
      try {
        entry = names.take(bytes);
      } finally {
        core.alloc.unlock();
      }
    } else {
      entry = names.get(bytes);
    }
    if (entry === undefined) return undefined;
    const kind = core.kindOf(entry.unit, entry.generation);
    const handle = new HandleRecord({
      kind,
      heap: core.id,
      buffer: core.buffer,
      unit: entry.unit,
      generation: entry.generation,
      // The table's own ticket when removing (its reference moves to the caller), else a serial
      // no ticket has: attach takes a fresh reference and leaves the table's alone.
      ticket: entry.ticket,
      serial: options.remove === true ? entry.serial : kFreshSerial,
      view: undefined,
    });
    return attachHandle(handle) as T;
  }

  /** Removes the name `key` and releases the table's reference. False when there was none. */
  unpublish(key: string): boolean {
    const bytes = keyBytes(key);
    const core = this[kCore];
    let entry;
    core.alloc.lock();
    try {
      entry = new Names(core.w).take(bytes);
    } finally {
      core.alloc.unlock();
    }
    if (entry === undefined) return false;
    core.releaseTicket(entry.unit, { slot: entry.ticket, serial: entry.serial });
    return true;
  }

  /** Every key published in this heap. */
  published(): string[] {
    return new Names(this[kCore].w).keys();
  }

  /** Current usage; see {@link HeapStats}. Takes the allocator lock briefly. */
  stats(): HeapStats {
    const core = this[kCore];
    const c = core.alloc.counters(core.ledger.reserveUnits);
    const used = c.usedUnits * kUnit;
    const free = c.freeUnits * kUnit;
    return {
      size: core.size,
      used,
      free,
      objects: c.objects,
      largestFree: Math.max(0, (c.largestFreeUnits - 1) * kUnit),
      handles: core.tickets.outstanding() - new Names(core.w).count(),
      overhead: core.size - used - free,
      threads: core.threads().length,
      repairs: c.repairs,
      corrupt: c.corrupt !== 0,
    };
  }

  /**
   * Drops every reference that thread `threadId` still held in this heap. Call it after a worker
   * has exited (Pool does this for its workers; {@link Heap.watch} does it for workers you start).
   * If the thread died holding the allocator lock, the allocator is rebuilt and unlocked.
   */
  releaseThread(threadId: number): ReleaseReport {
    if (!Number.isInteger(threadId) || threadId < 0) {
      throw new InvalidArgumentError(
        `Expected \`threadId\` to be a non-negative integer, got ${describe(threadId)}`,
      );
    }
    const core = this[kCore];
    return core.releaseThread(core.tidOf(threadId));
  }

  /** Releases, once `worker` exits, every reference it still held in this heap. */
  watch(worker: Worker): void {
    const id = worker.threadId;
    worker.once('exit', () => {
      this.releaseThread(id);
    });
  }

  /**
   * Drops the reference carried by a handle that will never be attached (a message that was
   * never delivered, say). Returns false if the handle was already attached or released.
   */
  releaseHandle(handle: { unit: number; ticket: number; serial: number; heap: number }): boolean {
    if (handle.heap !== this.id) {
      throw new InvalidArgumentError(
        `Handle belongs to heap ${handle.heap}, not to heap ${this.id}`,
      );
    }
    return this[kCore].releaseTicket(handle.unit, { slot: handle.ticket, serial: handle.serial });
  }

  toString(): string {
    const s = this.stats();
    return `Heap(${this.id.toString(16)}) ${formatBytes(s.used)} used of ${formatBytes(s.size)}, ${s.objects} objects`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * @internal Every heap this thread has registered. A pool calls `releaseThread` on each when one
 * of its workers dies, since the worker may have held objects of heaps other than the pool's.
 */
export function* knownHeaps(): IterableIterator<Heap> {
  for (const ref of registry.values()) {
    const heap = ref.deref();
    if (heap !== undefined) yield heap;
  }
}

function checkedSize(requested: number): number {
  const size = Math.ceil(requested / kUnit) * kUnit;
  if (size < kMinHeapSize) {
    throw new InvalidArgumentError(
      `Expected \`size\` to be at least ${formatBytes(kMinHeapSize)}, got ${requested} bytes`,
    );
  }
  if (size > 2 ** 38) {
    throw new InvalidArgumentError(
      `Expected \`size\` to be at most 256 GiB, got ${formatBytes(size)}`,
    );
  }
  return size;
}

/** `known`, if `buffer` is its memory (or no buffer came: a handle naming a known heap). */
function sameMemory(known: Heap, buffer: unknown): Heap {
  if (!(buffer instanceof SharedArrayBuffer) || known[kCore].sharesMemory(buffer)) return known;
  throw new CorruptError(
    `A handle carries a buffer for heap ${known.id.toString(16)} that is not the memory this thread ` +
      `knows under that id: one of the two is a byte copy of a heap buffer (a new SharedArrayBuffer ` +
      `with the heap's bytes copied into it), which would lose every write. Post the handle itself ` +
      `(obj.handle) or the heap's own buffer, never a copy.`,
    { details: { heap: known.id, conflict: true } },
  );
}

function defaultSize(): number {
  return Math.floor(os.totalmem() / 2 / kUnit) * kUnit;
}

/**
 * A worker that exits normally drops what it still holds. (A terminated or crashed worker does
 * not run this; its parent calls `releaseThread`, as Pool and `heap.watch` do.) The main thread
 * leaves every process heap it knows; the last process to leave a named heap removes its name.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const heap of knownHeaps()) {
      try {
        const core = heap[kCore];
        if (!isMainThread) {
          core.releaseThread(core.tid);
        } else if (core.procs !== undefined) {
          const last = core.leave();
          if (last && core.backing === kBackingNamed) unlinkNamed(core.path);
        }
      } catch {
        // The process is going away; nothing more can be done here.
      }
    }
  });
}

/** Process heaps this thread checks for dead processes about once a second. */
const watched = new Set<WeakRef<Heap>>();
let watchdog: NodeJS.Timeout | undefined;
/** How often a process looks for dead peers in its process heaps. */
const kWatchMs = 1000;

function watch(heap: Heap): void {
  watched.add(new WeakRef(heap));
  if (watchdog !== undefined) return;
  watchdog = setInterval(() => {
    for (const ref of watched) {
      const h = ref.deref();
      if (h === undefined) {
        watched.delete(ref);
        continue;
      }
      try {
        h[kCore].reapDead();
      } catch (err) {
        process.emitWarning(`shmframe: releasing dead processes failed: ${String(err)}`, {
          code: 'SHMFRAME_REAP_FAILED',
        });
      }
    }
    if (watched.size === 0 && watchdog !== undefined) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  }, kWatchMs);
  watchdog.unref();
}

// ---------------------------------------------------------------- handle strings

const kHandleTag = 'shmframe';
const kHandleVersion = '1';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The part of a handle string that says how to reach the heap. */
function heapRef(core: HeapCore): string {
  switch (core.backing) {
    case kBackingNamed:
      return `n${core.path}`;
    case kBackingFile:
      return `f${b64(core.path)}`;
    case kBackingMemfd: {
      const at = core.procs?.memfdHolder(core.slot);
      return at === undefined ? 't' : `m${at.pid}.${at.fd}`;
    }
    default:
      return 't';
  }
}

function formatHandle(h: Handle): string {
  const heap = Heap.byId(h.heap);
  const ref = heap === undefined ? 't' : heapRef(heap[kCore]);
  const view = h.view === undefined ? '' : `:${b64(JSON.stringify(h.view))}`;
  return `${kHandleTag}:${kHandleVersion}:${h.kind}:${h.heap.toString(16)}:${ref}:${h.unit}:${h.generation}:${h.ticket}:${h.serial}${view}`;
}

function badHandle(text: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected a handle string like 'shmframe:1:array:<heap>:<where>:<unit>:<generation>:<ticket>:<serial>', got '${text.slice(0, 120)}': ${why}`,
  );
}

function parseHandle(text: string): Handle {
  const parts = text.split(':');
  if (parts.length < 9 || parts.length > 10 || parts[0] !== kHandleTag)
    throw badHandle(text, 'wrong number of fields');
  if (parts[1] !== kHandleVersion)
    throw badHandle(text, `version ${parts[1]} is not ${kHandleVersion}`);
  const [, , kind, idHex, ref, unitS, genS, ticketS, serialS, viewS] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  const id = /^[0-9a-f]{1,14}$/.test(idHex) ? parseInt(idHex, 16) : NaN;
  const nums = [unitS, genS, ticketS, serialS].map((x) =>
    /^-?\d{1,10}$/.test(x) ? Number(x) : NaN,
  );
  if (
    !Number.isSafeInteger(id) ||
    nums.some((n) => !Number.isSafeInteger(n)) ||
    !/^[a-z]+$/.test(kind)
  ) {
    throw badHandle(text, 'a field is not a number');
  }
  let view: unknown;
  if (viewS !== undefined) {
    try {
      view = JSON.parse(Buffer.from(viewS, 'base64url').toString('utf8'));
    } catch {
      throw badHandle(text, 'its view is not readable');
    }
  }
  const heap = Heap.byId(id) ?? openByRef(ref, id, text);
  return {
    $shmframe: 'handle',
    kind,
    heap: id,
    buffer: heap.buffer,
    unit: nums[0] as number,
    generation: nums[1] as number,
    ticket: nums[2] as number,
    serial: nums[3] as number,
    view,
  };
}

function openByRef(ref: string, id: number, text: string): Heap {
  let heap: Heap;
  if (ref === 't') {
    throw new UnknownHeapError(
      `The handle '${text.slice(0, 80)}' names heap ${id.toString(16)}, a thread heap this thread has not seen: a thread heap lives in one process. ` +
        `To reach other processes create the heap with Heap.create({ shared: 'process' }) (or a name or file); within a process, post the handle object.`,
    );
  }
  if (ref.startsWith('n')) heap = Heap.open(ref.slice(1));
  else if (ref.startsWith('f'))
    heap = Heap.open({ file: Buffer.from(ref.slice(1), 'base64url').toString('utf8') });
  else if (ref.startsWith('m')) {
    const m = /^m(\d+)\.(\d+)$/.exec(ref);
    if (m === null) throw badHandle(text, 'its heap reference is not readable');
    const pid = Number(m[1]);
    const fd = Number(m[2]);
    try {
      heap = Heap.open({ pid, fd });
    } catch (err) {
      throw new UnknownHeapError(
        `Cannot open heap ${id.toString(16)} of the handle: process ${pid}, which held it as fd ${fd}, is gone or does not share it (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
  } else throw badHandle(text, 'its heap reference is not readable');
  if (heap.id !== id) {
    throw new UnknownHeapError(
      `The handle names heap ${id.toString(16)}, but ${ref.startsWith('n') ? `the heap named '${ref.slice(1)}'` : 'the heap it points to'} is heap ${heap.id.toString(16)} (created again since?)`,
    );
  }
  return heap;
}

setHandleCodec({
  format: formatHandle,
  parse: parseHandle,
  shared: (h) => Heap.byId(h.heap)?.shared === 'process',
  release: (h) => Heap.byId(h.heap)?.releaseHandle(h) ?? false,
});
