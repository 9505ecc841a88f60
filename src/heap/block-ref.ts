/**
 * BlockRef: one reference, held by this thread, to one block. Every shared object (and every
 * view of one) owns exactly one BlockRef; `release()` drops it, and the last drop in any thread
 * frees the block.
 *
 * The FinalizationRegistry is only a safety net: it releases a reference when every object
 * tracking it (the wrapper and the TypedArray views it handed out) has been collected, so that
 * `const data = SharedArray.zeros([n]).data` stays valid while `data` lives.
 */
import { threadId } from 'node:worker_threads';
import { ClosedError, CorruptError } from '../errors.js';
import { HeapCore } from './core.js';
import { HandleRecord, assertHandle, type Handle } from './handle.js';
import { Heap, kCore } from './heap.js';

const registry = new FinalizationRegistry<BlockRef>((ref) => ref.collected());

/**
 * Drops the reference a refused handle carries, in the memory it came with (not registered in
 * this thread, which knows another buffer under the same heap id): otherwise the heap it belongs
 * to would keep the block for good. The thread-table entry this takes is given back.
 */
function releaseInOwnMemory(handle: Handle): void {
  try {
    const core = HeapCore.open(handle.buffer, handle.heap);
    const had = core.threads().includes(threadId);
    core.releaseTicket(handle.unit, { slot: handle.ticket, serial: handle.serial });
    if (!had) core.releaseThread(threadId);
  } catch {
    // A damaged handle: nothing more can be released.
  }
}

export class BlockRef {
  readonly heap: Heap;
  readonly core: HeapCore;
  readonly unit: number;
  readonly generation: number;
  readonly kind: number;
  /** Absolute byte offset of the payload in `heap.buffer`. */
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly #epoch: number;
  #released = false;
  #targets = 0;
  #handle: Handle | undefined;

  private constructor(
    heap: Heap,
    info: {
      unit: number;
      generation: number;
      kind: number;
      byteOffset: number;
      byteLength: number;
    },
  ) {
    this.heap = heap;
    this.core = heap[kCore];
    this.unit = info.unit;
    this.generation = info.generation;
    this.kind = info.kind;
    this.byteOffset = info.byteOffset;
    this.byteLength = info.byteLength;
    this.#epoch = this.core.epoch;
  }

  /** Allocates a block of `byteLength` payload bytes; `zero` guarantees zeroed payload. */
  static allocate(
    heap: Heap,
    kind: number,
    byteLength: number,
    what: string,
    zero: boolean,
  ): BlockRef {
    return new BlockRef(heap, heap[kCore].allocate(byteLength, kind, what, zero));
  }

  /** Attaches a handle: adopts its reference (or takes a fresh one if it was already attached). */
  static adopt(
    value: unknown,
    kindName: string,
    kind: number,
    className: string,
  ): { ref: BlockRef; handle: Handle } {
    const handle = assertHandle(value, kindName, className);
    let heap: Heap;
    try {
      heap = Heap.fromBuffer(handle.buffer, handle.heap);
    } catch (err) {
      if (err instanceof CorruptError && err.details['conflict'] === true)
        releaseInOwnMemory(handle);
      throw err;
    }
    const info = heap[kCore].adopt(
      handle.unit,
      handle.generation,
      { slot: handle.ticket, serial: handle.serial },
      kind,
      className,
    );
    return { ref: new BlockRef(heap, info), handle };
  }

  get released(): boolean {
    return this.#released || this.#epoch !== this.core.epoch;
  }

  /** Throws {@link ClosedError} if released. */
  check(what: string): void {
    if (this.released)
      throw new ClosedError(
        `${what} is closed: it was closed (or its thread released it) and cannot be used`,
      );
  }

  /** A second reference to the same block, for a view. */
  dup(): BlockRef {
    this.check('The object');
    this.core.retain(this.unit);
    return new BlockRef(this.heap, this);
  }

  /** A handle carrying a new reference (moved to whoever attaches it). */
  share<V>(kindName: string, view?: V): Handle<V> {
    this.check(`This ${kindName}`);
    const t = this.core.share(this.unit);
    return new HandleRecord<V>({
      kind: kindName,
      heap: this.core.id,
      buffer: this.core.buffer,
      unit: this.unit,
      generation: this.generation,
      ticket: t.slot,
      serial: t.serial,
      view,
    });
  }

  /**
   * The handle behind an object's cached `handle` getter: the one made before, while nobody has
   * attached it yet (reading `obj.handle` twice, or logging it, takes no extra reference), else
   * a new one from `make`.
   */
  reuseHandle<H extends Handle<unknown>>(make: () => H): H {
    const h = this.#handle;
    if (
      h !== undefined &&
      this.core.tickets.isOutstanding({ slot: h.ticket, serial: h.serial }, h.unit)
    ) {
      return h as H;
    }
    const made = make();
    this.#handle = made;
    return made;
  }

  /** Releases this reference once `target` and every other tracked object are collected. */
  track(target: object): void {
    if (this.#released) return;
    this.#targets++;
    registry.register(target, this, this);
  }

  /** Drops the reference; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#targets > 0) registry.unregister(this);
    if (this.#epoch !== this.core.epoch) return;
    this.core.release(this.unit);
  }

  /** @internal FinalizationRegistry callback. */
  collected(): void {
    if (--this.#targets > 0 || this.#released) return;
    if (process.env['SHMFRAME_DEBUG']) {
      process.emitWarning(
        `shmframe: a block (unit ${this.unit}) was released by the garbage collector; close() it explicitly`,
        {
          code: 'SHMFRAME_GC_RELEASE',
        },
      );
    }
    this.#released = true;
    if (this.#epoch === this.core.epoch) this.core.release(this.unit);
  }
}
