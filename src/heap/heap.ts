import os from 'node:os';
import {
  getEnvironmentData,
  isMainThread,
  setEnvironmentData,
  threadId,
  type Worker,
} from 'node:worker_threads';
import { CorruptError, InvalidArgumentError, describe } from '../errors.js';
import { formatBytes, parseSize } from '../util/size.js';
import { HeapCore, kMinHeapSize, type ReleaseReport } from './core.js';
import { kUnit } from './layout.js';
import { hasBrand } from '../util/brand.js';

export type { ReleaseReport } from './core.js';

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
}

export interface HeapOptions {
  /**
   * Size of the heap: bytes, or a string like `'8G'`. The memory is reserved, not touched: the
   * OS commits pages only when objects use them.
   * @default half of physical memory, or `SHMFRAME_HEAP_SIZE`
   */
  size?: number | string;
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
   * Creates a new heap of `size` bytes (rounded up to 64).
   * @example Heap.create({ size: '512M' })
   */
  static create(options: HeapOptions = {}): Heap {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `Expected \`options\` to be an object like { size: '1G' }, got ${describe(options)}`,
      );
    }
    const size = options.size === undefined ? defaultSize() : parseSize(options.size, 'size');
    return Heap.#make(size, false);
  }

  static #make(requested: number, fallback: boolean): Heap {
    let size = Math.ceil(requested / kUnit) * kUnit;
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
      handles: core.tickets.outstanding(),
      overhead: core.size - used - free,
      threads: core.threads().length,
      repairs: c.repairs,
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
    return this[kCore].releaseThread(threadId);
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
 * not run this; its parent calls `releaseThread`, as Pool and `heap.watch` do.)
 */
function installExitHook(): void {
  if (exitHookInstalled || isMainThread) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const heap of knownHeaps()) {
      try {
        heap[kCore].releaseThread(threadId);
      } catch {
        // The process is going away; nothing more can be done here.
      }
    }
  });
}
