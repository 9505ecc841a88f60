/**
 * The engine of SharedQueue: a bounded multi-producer multi-consumer ring of fixed-size slots in
 * one heap block.
 *
 * Design (see docs/sync.md for the measurements):
 * - Every slot has a sequence word, as in Vyukov's bounded queue: `2p` means "free for the item
 *   at position p", `2p + 1` "holds the item at position p". Positions count modulo M, a multiple
 *   of the capacity below 2^29, so the ring needs no power-of-two capacity (`capacity: 50` means
 *   50) and no 64-bit counters.
 * - Producers serialize on a small mutex of their own, and so do consumers; a producer and a
 *   consumer never contend with each other except on the slot they hand over. Vyukov's lock-free
 *   claim (compare-and-swap on the tail, then fill, then publish) was rejected: a producer
 *   terminated between claim and publish (pool timeouts terminate workers) leaves a slot that is
 *   never published and stalls every consumer for good. Here each operation has a single commit
 *   (a few straight-line stores, where V8 cannot deliver a termination) made while holding a mutex
 *   that records its holder, so `heap.releaseThread` can finish or undo it (see `repair`).
 * - Sleeping is on separate futex words (not-empty, not-full, join) with waiter counts: a
 *   producer notifies only when a consumer sleeps, and vice versa. Before sleeping, a blocking
 *   call spins briefly on the slot it needs, so a steady stream never pays a wake-up.
 */
import { notifyWord, selfIn, tidIn, waitWord } from '../heap/futex.js';
import {
  CorruptError,
  InvalidArgumentError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
  ShmframeTimeoutError,
  UnknownHeapError,
} from '../errors.js';
import type { HeldCommit } from '../heap/held.js';
import type { FreedBlock } from '../heap/kinds.js';
import {
  Tag,
  attachRecords,
  checkHeaps,
  decodeValue,
  kSlotHeader,
  plugObjects,
  readRecord,
  recordCount,
  rearmRecords,
  releaseRecords,
  type Encoded,
  type Record_,
} from './item-codec.js';
import { forceUnlock, heldBy, lockWithin, unlock, waitFree, type StaleHolder } from './mutex.js';
import { abortError, deadlineOf, millisecondsHint, remaining, waitAsync } from './wait.js';

export const kQueueMagic = 0x31515348; // "HSQ1"
const kVersion = 1;
// ---- header words; each group that one side writes has its own 64-byte line ----
const MAGIC = 0;
const VERSION = 1;
const CAPACITY = 2;
const SLOT_BYTES = 3;
const MAX_ITEM = 4;
const MODULUS = 5;
const CLOSED = 8;
const TAIL = 16;
const PLOCK = 17; // + waiters at 18
const HEAD = 32;
const CLOCK = 33; // + waiters at 34
const NOT_EMPTY = 48;
const GET_WAITERS = 49;
/** 1 while a wake-up sent to sleeping consumers has not been picked up: later puts skip it. */
const GET_SIGNALED = 50;
const NOT_FULL = 64;
const PUT_WAITERS = 65;
const PUT_SIGNALED = 66;
/** Items ever put (mod 2^32): written only under the producer mutex, so a plain store. */
const PUTS = 19;
/** taskDone() calls (mod 2^32); unfinished tasks = PUTS - DONE. Join waits on this word. */
const DONE = 80;
const JOIN_WAITERS = 81;
const kHeaderBytes = 6 * 64;

export const kMaxCapacity = 2 ** 24;
const kMaxBlockBytes = 2 ** 31;
/** Checks of the slot a blocked call needs before it sleeps (a few microseconds). */
const kSpins = 400;
/** Longest wait of tryPut / tryGet for the other side's mutex (see lockWithin). */
const kTryMutexMs = 100;
/** The same on the event loop's thread, kept short (it blocks the loop meanwhile). */
const kAsyncSpins = 50;

/** Bytes of a slot: header plus payload, rounded to a cache line so slots never share one. */
export function slotBytesFor(maxItemBytes: number): number {
  return Math.ceil((kSlotHeader + maxItemBytes) / 64) * 64;
}

/** Payload bytes of a queue block, or throws if it would be too large. */
export function queueBytes(capacity: number, maxItemBytes: number): number {
  const bytes = kHeaderBytes + capacity * slotBytesFor(maxItemBytes);
  if (bytes > kMaxBlockBytes) {
    throw new InvalidArgumentError(
      `A queue of capacity ${capacity} with maxItemBytes ${maxItemBytes} needs ${bytes} bytes, more than the ${kMaxBlockBytes}-byte limit: ` +
        `lower one of them (put large data in SharedArrays; items then carry only handles).`,
    );
  }
  return bytes;
}

/** What a take found. */
export const kEmpty = Symbol('empty');
export const kClosed = Symbol('closed');
/** A taken item, or kEmpty / kClosed (items are never symbols: they cannot be cloned). */
type Taken = unknown;

const OK = 0;
const FULL = 1;
const CLOSED_ = 2;

interface Views {
  i32: Int32Array;
  f64: Float64Array;
  i64: BigInt64Array;
  u8: Buffer;
}

function views(buffer: SharedArrayBuffer, byteOffset: number, byteLength: number): Views {
  return {
    i32: new Int32Array(buffer, byteOffset, byteLength / 4),
    f64: new Float64Array(buffer, byteOffset, byteLength / 8),
    i64: new BigInt64Array(buffer, byteOffset, byteLength / 8),
    u8: Buffer.from(buffer, byteOffset, byteLength),
  };
}

export class QueueEngine {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #i64: BigInt64Array;
  readonly #u8: Buffer;
  readonly capacity: number;
  readonly maxItemBytes: number;
  readonly #slotBytes: number;
  readonly #m: number;
  /** Repairs and releases a mutex whose holder is gone (or a word naming this thread: stale). */
  readonly #stale: StaleHolder;

  /**
   * `gone(tid)` tells whether a thread is provably gone (normally `HeapCore.isThreadGone`): a
   * mutex left held by one is repaired and released by whoever waits for it, even if the heap
   * never released that thread (a damaged holder word).
   */
  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    byteLength: number,
    gone: (tid: number) => boolean = () => false,
  ) {
    const v = views(buffer, byteOffset, byteLength);
    const h = readHeader(v.i32, byteLength);
    this.#i32 = v.i32;
    this.#f64 = v.f64;
    this.#i64 = v.i64;
    this.#u8 = v.u8;
    this.capacity = h.capacity;
    this.maxItemBytes = h.maxItemBytes;
    this.#slotBytes = h.slotBytes;
    this.#m = h.m;
    const block = { heapId: 0, buffer, unit: 0, byteOffset, byteLength };
    this.#stale = (holder) => {
      if (holder === selfIn(buffer) || gone(holder - 1)) QueueEngine.repair(block, holder - 1);
    };
  }

  /** Writes an empty queue into zeroed memory. */
  static format(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    capacity: number,
    maxItemBytes: number,
  ): void {
    const slotBytes = slotBytesFor(maxItemBytes);
    const i32 = new Int32Array(buffer, byteOffset, queueBytes(capacity, maxItemBytes) / 4);
    i32[VERSION] = kVersion;
    i32[CAPACITY] = capacity;
    i32[SLOT_BYTES] = slotBytes;
    i32[MAX_ITEM] = maxItemBytes;
    i32[MODULUS] = capacity * Math.floor(2 ** 29 / capacity);
    for (let i = 0; i < capacity; i++) i32[(kHeaderBytes + i * slotBytes) / 4] = 2 * i;
    Atomics.store(i32, MAGIC, kQueueMagic);
  }

  // ------------------------------------------------------------------ positions

  #next(p: number): number {
    return p + 1 === this.#m ? 0 : p + 1;
  }

  /** Int32 index of the sequence word of the slot of position p. */
  #seqAt(p: number): number {
    return (kHeaderBytes + (p % this.capacity) * this.#slotBytes) >> 2;
  }

  get size(): number {
    const i32 = this.#i32;
    const d = Atomics.load(i32, TAIL) - Atomics.load(i32, HEAD);
    return Math.max(0, Math.min(this.capacity, d < 0 ? d + this.#m : d));
  }

  get closed(): boolean {
    return Atomics.load(this.#i32, CLOSED) !== 0;
  }

  get unfinished(): number {
    return this.#unfinished();
  }

  #unfinished(): number {
    return (Atomics.load(this.#i32, PUTS) - Atomics.load(this.#i32, DONE)) | 0;
  }

  /** A free slot awaits the next put (racy: for deciding whether to sleep). */
  #hasRoom(): boolean {
    const t = Atomics.load(this.#i32, TAIL);
    return Atomics.load(this.#i32, this.#seqAt(t)) === 2 * t;
  }

  /** An item awaits the next get (racy: for deciding whether to sleep). */
  #hasItem(): boolean {
    const h = Atomics.load(this.#i32, HEAD);
    return Atomics.load(this.#i32, this.#seqAt(h)) === 2 * h + 1;
  }

  // ------------------------------------------------------------------ producer side

  /**
   * Copies `e` into the next free slot and publishes it. Called holding the producer mutex;
   * releases it. `commit` (a put's hold on its item's handles, heap/held.ts) is disarmed in the
   * same step that moves the tail: from then on the handles are the queue's.
   */
  #publish(e: Encoded, commit?: HeldCommit): number {
    const i32 = this.#i32;
    // TAIL and HEAD change only under their mutex: plain access there (the mutex orders it).
    const t = i32[TAIL] as number;
    const seq = this.#seqAt(t);
    if (i32[CLOSED] !== 0) {
      unlock(i32, PLOCK);
      return CLOSED_;
    }
    if (Atomics.load(i32, seq) !== 2 * t) {
      unlock(i32, PLOCK);
      return FULL;
    }
    this.#write(e, seq);
    const next = this.#next(t);
    const held = commit?.i32;
    const disarm = commit === undefined ? 0 : commit.index;
    // Commit: straight-line stores (no call or loop, so no termination point in between). A
    // thread stopped after the tail store has its slot published by `repair`.
    i32[PUTS] = ((i32[PUTS] as number) + 1) | 0; // published by the seq store below
    i32[TAIL] = next;
    if (held !== undefined) held[disarm] = 0;
    Atomics.store(i32, seq, 2 * t + 1);
    this.#afterPublish();
    return OK;
  }

  /** Copies an encoded item into the slot whose sequence word is at `seq`. */
  #write(e: Encoded, seq: number): void {
    const i32 = this.#i32;
    const body = seq * 4 + kSlotHeader;
    let length = e.length;
    switch (e.tag) {
      case Tag.number:
        this.#f64[body >> 3] = e.num;
        break;
      case Tag.string:
        length = this.#u8.write(e.str, body, this.maxItemBytes, 'utf8');
        break;
      case Tag.bigint:
        this.#i64[body >> 3] = e.big;
        break;
      case Tag.shared:
      case Tag.value:
        this.#u8.set(e.bytes as Uint8Array, body);
        break;
    }
    i32[seq + 1] = length;
    i32[seq + 2] = e.tag;
    i32[seq + 3] = e.handles.length;
  }

  /** Releases the producer mutex and wakes whoever needs it. */
  #afterPublish(): void {
    const i32 = this.#i32;
    unlock(i32, PLOCK);
    if (Atomics.load(i32, GET_WAITERS) > 0) this.#signal(GET_SIGNALED, NOT_EMPTY);
    if (Atomics.load(i32, PUT_WAITERS) > 0 && this.#hasRoom()) this.#signal(PUT_SIGNALED, NOT_FULL);
  }

  /**
   * Batched publishing: copies as many of `es[from...]` as there are free slots, under one hold
   * of the producer mutex and with at most one wake-up. Returns how many, or -1 if closed.
   */
  #publishMany(es: readonly Encoded[], from: number, commits?: ReadonlyArray<HeldCommit>): number {
    const i32 = this.#i32;
    if (i32[CLOSED] !== 0) {
      unlock(i32, PLOCK);
      return -1;
    }
    let t = i32[TAIL] as number;
    let n = 0;
    while (from + n < es.length) {
      const seq = this.#seqAt(t);
      if (Atomics.load(i32, seq) !== 2 * t) break;
      this.#write(es[from + n] as Encoded, seq);
      const next = this.#next(t);
      const commit = commits?.[from + n];
      const held = commit?.i32;
      const disarm = commit === undefined ? 0 : commit.index;
      i32[PUTS] = ((i32[PUTS] as number) + 1) | 0;
      i32[TAIL] = next;
      if (held !== undefined) held[disarm] = 0;
      Atomics.store(i32, seq, 2 * t + 1);
      t = next;
      n++;
    }
    this.#afterPublish();
    return n;
  }

  /**
   * Puts every item of `es`, in order, waiting for room as needed. On timeout or close, the
   * first `put` items are in the queue and the error says how many (`details.put`).
   */
  putMany(es: readonly Encoded[], timeout: number, commits?: ReadonlyArray<HeldCommit>): number {
    const i32 = this.#i32;
    let deadline = -1;
    let from = 0;
    while (from < es.length) {
      if (!lockWithin(i32, PLOCK, deadline === -1 ? timeout : remaining(deadline), this.#stale))
        throw this.#fullError('SharedQueue.putMany()', timeout, from);
      const n = this.#publishMany(es, from, commits);
      if (n < 0) throw this.#closedError('SharedQueue.putMany()', from);
      from += n;
      if (from === es.length) break;
      if (deadline === -1) deadline = deadlineOf(timeout);
      if (this.#spinFor(true)) continue;
      const left = remaining(deadline);
      if (left === 0) throw this.#fullError('SharedQueue.putMany()', timeout, from);
      this.#sleep(PUT_WAITERS, PUT_SIGNALED, NOT_FULL, left, true);
    }
    return from;
  }

  /**
   * Wakes one sleeper on `futex` unless a wake-up is already on its way (its flag is set): a
   * steady stream of puts then costs one notify per sleep, not one per item. Whoever wakes clears
   * the flag, and a consumer (producer) that finds more items (room) passes the wake-up on.
   */
  #signal(flag: number, futex: number): void {
    const i32 = this.#i32;
    if (Atomics.load(i32, flag) === 0 && Atomics.exchange(i32, flag, 1) === 0) {
      Atomics.add(i32, futex, 1);
      notifyWord(i32, futex, 1);
    }
  }

  /** Sleeps until a consumer (producer) signals, the deadline passes, or the queue closes. */
  #sleep(waiters: number, flag: number, futex: number, left: number, room: boolean): void {
    const i32 = this.#i32;
    Atomics.add(i32, waiters, 1);
    Atomics.store(i32, flag, 0);
    const v = Atomics.load(i32, futex);
    if (!(room ? this.#hasRoom() : this.#hasItem()) && !this.closed) waitWord(i32, futex, v, left);
    Atomics.sub(i32, waiters, 1);
    Atomics.store(i32, flag, 0);
  }

  async #sleepAsync(
    waiters: number,
    flag: number,
    futex: number,
    left: number,
    room: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const i32 = this.#i32;
    Atomics.add(i32, waiters, 1);
    Atomics.store(i32, flag, 0);
    const v = Atomics.load(i32, futex);
    let w = 'not-equal';
    if (!(room ? this.#hasRoom() : this.#hasItem()) && !this.closed)
      w = await waitAsync(i32, futex, v, left, signal);
    Atomics.sub(i32, waiters, 1);
    Atomics.store(i32, flag, 0);
    return w;
  }

  #closedError(what: string, put?: number): QueueClosedError {
    return new QueueClosedError(
      `${what} failed: the queue is closed (close() was called), so it takes no more items` +
        (put === undefined ? '' : ` (${put} of the items were put before)`),
      put === undefined ? undefined : { details: { put } },
    );
  }

  /**
   * Puts without waiting for room: false when full. It may wait up to `mutexMs` for another
   * producer to finish its put (0: only spin), and reports false if that does not happen.
   */
  tryPut(
    e: Encoded,
    mutexMs = kTryMutexMs,
    what = 'SharedQueue.tryPut()',
    commit?: HeldCommit,
  ): boolean {
    if (!lockWithin(this.#i32, PLOCK, mutexMs, this.#stale)) return false;
    const r = this.#publish(e, commit);
    if (r === CLOSED_) throw this.#closedError(what);
    return r === OK;
  }

  /** Blocks until there is room (or throws QUEUE_FULL after `timeout` ms, QUEUE_CLOSED). */
  put(e: Encoded, timeout: number, commit?: HeldCommit): void {
    const i32 = this.#i32;
    let deadline = -1;
    for (;;) {
      // The mutex wait counts against the timeout too (its holder may have been terminated).
      if (!lockWithin(i32, PLOCK, deadline === -1 ? timeout : remaining(deadline), this.#stale))
        throw this.#fullError('SharedQueue.put()', timeout);
      const r = this.#publish(e, commit);
      if (r === OK) return;
      if (r === CLOSED_) throw this.#closedError('SharedQueue.put()');
      if (deadline === -1) deadline = deadlineOf(timeout);
      if (this.#spinFor(true)) continue;
      const left = remaining(deadline);
      if (left === 0) throw this.#fullError('SharedQueue.put()', timeout);
      this.#sleep(PUT_WAITERS, PUT_SIGNALED, NOT_FULL, left, true);
    }
  }

  async putAsync(
    e: Encoded,
    timeout: number,
    signal: AbortSignal | undefined,
    commit?: HeldCommit,
  ): Promise<void> {
    const i32 = this.#i32;
    const deadline = deadlineOf(timeout);
    for (;;) {
      if (signal?.aborted) throw abortError(signal, 'SharedQueue.putAsync()');
      while (!lockWithin(i32, PLOCK, 0, this.#stale)) await waitFree(i32, PLOCK, this.#stale);
      const r = this.#publish(e, commit);
      if (r === OK) return;
      if (r === CLOSED_) throw this.#closedError('SharedQueue.putAsync()');
      const left = remaining(deadline);
      if (left === 0) throw this.#fullError('SharedQueue.putAsync()', timeout);
      if (this.#spinFor(true, kAsyncSpins)) continue;
      const w = await this.#sleepAsync(PUT_WAITERS, PUT_SIGNALED, NOT_FULL, left, true, signal);
      if (w === 'aborted') throw abortError(signal as AbortSignal, 'SharedQueue.putAsync()');
    }
  }

  #fullError(what: string, timeout: number, put?: number): QueueFullError {
    return new QueueFullError(
      `${what} timed out after ${timeout} ms: the queue stayed full (capacity ${this.capacity})` +
        (put === undefined ? '' : `; the first ${put} items were put`) +
        millisecondsHint(timeout),
      {
        details:
          put === undefined
            ? { timeout, capacity: this.capacity }
            : { timeout, capacity: this.capacity, put },
      },
    );
  }

  /** Spins briefly until a slot frees up (producer) or an item arrives (consumer), or closed. */
  #spinFor(room: boolean, spins = kSpins): boolean {
    for (let i = 0; i < spins; i++) {
      if (room ? this.#hasRoom() : this.#hasItem()) return true;
      if (this.closed) return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ consumer side

  /**
   * Takes the next item; called holding the consumer mutex, which it releases. Shared objects
   * are attached under the mutex, before the slot is freed, so that an unknown heap leaves the
   * item in the queue and a consumer terminated meanwhile can be repaired.
   */
  #take(): Taken {
    const i32 = this.#i32;
    const h = i32[HEAD] as number;
    const seq = this.#seqAt(h);
    if (Atomics.load(i32, seq) !== 2 * h + 1) {
      const closed = this.closed;
      unlock(i32, CLOCK);
      if (closed && !this.#hasItem()) return kClosed;
      return kEmpty;
    }
    const body = seq * 4 + kSlotHeader;
    const length = i32[seq + 1] as number;
    const tag = i32[seq + 2] as number;
    let value: unknown;
    let blob: Uint8Array | undefined;
    let records: Record_[] = [];
    let attaching = false;
    try {
      switch (tag) {
        case Tag.null:
          value = null;
          break;
        case Tag.false:
          value = false;
          break;
        case Tag.true:
          value = true;
          break;
        case Tag.number:
          value = this.#f64[body >> 3];
          break;
        case Tag.string:
          value = this.#u8.toString('utf8', body, body + length);
          break;
        case Tag.bigint:
          value = this.#i64[body >> 3];
          break;
        case Tag.shared:
        case Tag.value: {
          if (!(length >= 0 && length <= this.maxItemBytes))
            throw new CorruptError(`Queue slot claims ${length} bytes`);
          const n = recordCount(tag, length, i32[seq + 3] as number);
          records = this.#records(body, n);
          checkHeaps(records);
          if (tag === Tag.value) {
            blob = new Uint8Array(length - n * 32);
            blob.set(this.#u8.subarray(body + n * 32, body + length));
          }
          if (n === 0) break;
          // The views (array offsets, shapes) ride in the v8 bytes: decode before attaching.
          const d = blob === undefined ? undefined : decodeValue(blob, n);
          attaching = true;
          const objects = attachRecords(records, d?.views ?? []);
          value = d === undefined ? objects[0] : plugObjects(d.root, d.paths, objects);
          blob = undefined;
          break;
        }
        default:
          throw new CorruptError(`Queue slot has unknown tag ${tag}`);
      }
    } catch (err) {
      if (err instanceof UnknownHeapError) {
        unlock(i32, CLOCK); // the item stays for a consumer that knows the heap
      } else {
        // The item cannot be delivered: release its references and drop it, so that it does
        // not block the queue, then report.
        if (!attaching) releaseRecords(records);
        this.#commitTake(h, seq);
      }
      throw err;
    }
    this.#commitTake(h, seq);
    if (blob !== undefined) value = decodeValue(blob, 0).root;
    return value;
  }

  /**
   * Batched taking: called holding the consumer mutex (which it releases), appends up to `max`
   * items to `out` with at most one wake-up. Primitives are taken in a run; an item holding
   * shared objects (or a damaged one) is only ever taken first and alone, by #take, so that its
   * errors behave exactly as for get(). Returns kEmpty / kClosed when nothing was taken.
   */
  #takeMany(max: number, out: unknown[]): Taken {
    const i32 = this.#i32;
    let h = i32[HEAD] as number;
    const first = out.length;
    while (out.length - first < max) {
      const seq = this.#seqAt(h);
      if (Atomics.load(i32, seq) !== 2 * h + 1) break;
      const tag = i32[seq + 2] as number;
      const body = seq * 4 + kSlotHeader;
      let value: unknown;
      if (tag === Tag.number) value = this.#f64[body >> 3];
      else if (tag === Tag.string)
        value = this.#u8.toString('utf8', body, body + (i32[seq + 1] as number));
      else if (tag === Tag.null) value = null;
      else if (tag === Tag.true) value = true;
      else if (tag === Tag.false) value = false;
      else if (tag === Tag.bigint) value = this.#i64[body >> 3];
      else break;
      out.push(value);
      let free = h + this.capacity;
      if (free >= this.#m) free -= this.#m;
      h = this.#next(h);
      i32[HEAD] = h;
      Atomics.store(i32, seq, 2 * free);
    }
    if (out.length > first) {
      this.#afterTake();
      return out;
    }
    const r = this.#take();
    if (r !== kEmpty && r !== kClosed) out.push(r);
    return r === kEmpty || r === kClosed ? r : out;
  }

  /** Up to `max` items, waiting (like get) until there is at least one. */
  getMany(max: number, timeout: number): unknown[] {
    const i32 = this.#i32;
    let deadline = -1;
    for (;;) {
      let r: Taken = kEmpty;
      if (this.#hasItem() || this.closed) {
        if (!lockWithin(i32, CLOCK, deadline === -1 ? timeout : remaining(deadline), this.#stale))
          throw this.#emptyError('SharedQueue.getMany()', timeout);
        r = this.#takeMany(max, []);
      }
      if (r !== kEmpty && r !== kClosed) return r as unknown[];
      if (r === kClosed) throw this.#drainedError('SharedQueue.getMany()');
      if (deadline === -1) deadline = deadlineOf(timeout);
      if (this.#spinFor(false)) continue;
      const left = remaining(deadline);
      if (left === 0) throw this.#emptyError('SharedQueue.getMany()', timeout);
      this.#sleep(GET_WAITERS, GET_SIGNALED, NOT_EMPTY, left, false);
    }
  }

  /** Async {@link getMany}: never blocks the event loop. */
  async getManyAsync(
    max: number,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown[]> {
    const i32 = this.#i32;
    const deadline = deadlineOf(timeout);
    for (;;) {
      if (signal?.aborted) throw abortError(signal, 'SharedQueue.getManyAsync()');
      let r: Taken = kEmpty;
      if (this.#hasItem() || this.closed) {
        while (!lockWithin(i32, CLOCK, 0, this.#stale)) await waitFree(i32, CLOCK, this.#stale);
        r = this.#takeMany(max, []);
      }
      if (r !== kEmpty && r !== kClosed) return r as unknown[];
      if (r === kClosed) throw this.#drainedError('SharedQueue.getManyAsync()');
      const left = remaining(deadline);
      if (left === 0) throw this.#emptyError('SharedQueue.getManyAsync()', timeout);
      if (this.#spinFor(false, kAsyncSpins)) continue;
      const w = await this.#sleepAsync(GET_WAITERS, GET_SIGNALED, NOT_EMPTY, left, false, signal);
      if (w === 'aborted') throw abortError(signal as AbortSignal, 'SharedQueue.getManyAsync()');
    }
  }

  #commitTake(h: number, seq: number): void {
    const i32 = this.#i32;
    let free = h + this.capacity;
    if (free >= this.#m) free -= this.#m;
    // Commit: straight-line stores.
    i32[HEAD] = this.#next(h);
    Atomics.store(i32, seq, 2 * free);
    this.#afterTake();
  }

  /** Releases the consumer mutex and wakes whoever needs it. */
  #afterTake(): void {
    const i32 = this.#i32;
    unlock(i32, CLOCK);
    if (Atomics.load(i32, PUT_WAITERS) > 0) this.#signal(PUT_SIGNALED, NOT_FULL);
    // Pass a wake-up on: items are left and other consumers sleep (their wake-up may have been
    // skipped while the flag was set for this one).
    if (Atomics.load(i32, GET_WAITERS) > 0 && this.#hasItem())
      this.#signal(GET_SIGNALED, NOT_EMPTY);
  }

  #records(body: number, n: number): Record_[] {
    const out: Record_[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(this.#f64, this.#i32, body + i * 32));
    return out;
  }

  /** The next item, or kEmpty / kClosed (closed and drained), without waiting for one (see tryPut). */
  tryGet(mutexMs = kTryMutexMs): Taken {
    if (!this.#hasItem() && !this.closed) return kEmpty;
    if (!lockWithin(this.#i32, CLOCK, mutexMs, this.#stale)) return kEmpty;
    return this.#take();
  }

  get(timeout: number): unknown {
    const i32 = this.#i32;
    let deadline = -1;
    for (;;) {
      let r: Taken = kEmpty;
      if (this.#hasItem() || this.closed) {
        if (!lockWithin(i32, CLOCK, deadline === -1 ? timeout : remaining(deadline), this.#stale))
          throw this.#emptyError('SharedQueue.get()', timeout);
        r = this.#take();
      }
      if (r !== kEmpty && r !== kClosed) return r;
      if (r === kClosed) throw this.#drainedError('SharedQueue.get()');
      if (deadline === -1) deadline = deadlineOf(timeout);
      if (this.#spinFor(false)) continue;
      const left = remaining(deadline);
      if (left === 0) throw this.#emptyError('SharedQueue.get()', timeout);
      this.#sleep(GET_WAITERS, GET_SIGNALED, NOT_EMPTY, left, false);
    }
  }

  async getAsync(timeout: number, signal: AbortSignal | undefined): Promise<unknown> {
    const i32 = this.#i32;
    const deadline = deadlineOf(timeout);
    for (;;) {
      if (signal?.aborted) throw abortError(signal, 'SharedQueue.getAsync()');
      let r: Taken = kEmpty;
      if (this.#hasItem() || this.closed) {
        while (!lockWithin(i32, CLOCK, 0, this.#stale)) await waitFree(i32, CLOCK, this.#stale);
        r = this.#take();
      }
      if (r !== kEmpty && r !== kClosed) return r;
      if (r === kClosed) throw this.#drainedError('SharedQueue.getAsync()');
      const left = remaining(deadline);
      if (left === 0) throw this.#emptyError('SharedQueue.getAsync()', timeout);
      if (this.#spinFor(false, kAsyncSpins)) continue;
      const w = await this.#sleepAsync(GET_WAITERS, GET_SIGNALED, NOT_EMPTY, left, false, signal);
      if (w === 'aborted') throw abortError(signal as AbortSignal, 'SharedQueue.getAsync()');
    }
  }

  #emptyError(what: string, timeout: number): QueueEmptyError {
    return new QueueEmptyError(
      `${what} timed out after ${timeout} ms: the queue stayed empty${millisecondsHint(timeout)}`,
      { details: { timeout } },
    );
  }

  #drainedError(what: string): QueueClosedError {
    return new QueueClosedError(`${what}: the queue is closed and every item has been taken`);
  }

  // ------------------------------------------------------------------ close, tasks

  /** Closes the queue for every thread: puts fail from now on, gets drain and then fail. */
  close(): void {
    const i32 = this.#i32;
    if (Atomics.load(i32, CLOSED) !== 0) return;
    // Under the producer mutex, so no put publishes after it. If a terminated producer still holds
    // the mutex (awaiting repair), close anyway: it will publish nothing more.
    const locked = lockWithin(i32, PLOCK, kTryMutexMs, this.#stale);
    Atomics.store(i32, CLOSED, 1);
    if (locked) unlock(i32, PLOCK);
    Atomics.add(i32, NOT_EMPTY, 1);
    notifyWord(i32, NOT_EMPTY);
    Atomics.add(i32, NOT_FULL, 1);
    notifyWord(i32, NOT_FULL);
  }

  taskDone(): void {
    const i32 = this.#i32;
    for (;;) {
      const d = Atomics.load(i32, DONE);
      const u = (Atomics.load(i32, PUTS) - d) | 0;
      if (u <= 0) {
        throw new InvalidArgumentError(
          'SharedQueue.taskDone() was called more times than items were put: call it once per item taken',
        );
      }
      if (Atomics.compareExchange(i32, DONE, d, (d + 1) | 0) === d) {
        if (u === 1 && Atomics.load(i32, JOIN_WAITERS) > 0) notifyWord(i32, DONE);
        return;
      }
    }
  }

  async join(timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const i32 = this.#i32;
    const deadline = deadlineOf(timeout);
    for (;;) {
      const d = Atomics.load(i32, DONE);
      const u = (Atomics.load(i32, PUTS) - d) | 0;
      if (u <= 0) return;
      if (signal?.aborted) throw abortError(signal, 'SharedQueue.join()');
      const left = remaining(deadline);
      if (left === 0) {
        throw new ShmframeTimeoutError(
          `SharedQueue.join() timed out after ${timeout} ms with ${u} item(s) not marked done${millisecondsHint(timeout)}`,
          { details: { timeout, unfinished: u } },
        );
      }
      Atomics.add(i32, JOIN_WAITERS, 1);
      const w = await waitAsync(i32, DONE, d, left, signal);
      Atomics.sub(i32, JOIN_WAITERS, 1);
      if (w === 'aborted') throw abortError(signal as AbortSignal, 'SharedQueue.join()');
    }
  }

  /** Blocking join, for workers. */
  joinSync(timeout: number): void {
    const i32 = this.#i32;
    const deadline = deadlineOf(timeout);
    for (;;) {
      const d = Atomics.load(i32, DONE);
      const u = (Atomics.load(i32, PUTS) - d) | 0;
      if (u <= 0) return;
      const left = remaining(deadline);
      if (left === 0) {
        throw new ShmframeTimeoutError(
          `SharedQueue.joinSync() timed out after ${timeout} ms with ${u} item(s) not marked done${millisecondsHint(timeout)}`,
          { details: { timeout, unfinished: u } },
        );
      }
      Atomics.add(i32, JOIN_WAITERS, 1);
      waitWord(i32, DONE, d, left);
      Atomics.sub(i32, JOIN_WAITERS, 1);
    }
  }

  // ------------------------------------------------------------------ lifetime hooks

  /**
   * Drops the references carried by items never taken (the kind's `dispose`: runs once, in the
   * thread that drops the queue's last reference).
   */
  static dispose(block: FreedBlock): void {
    const v = views(block.buffer, block.byteOffset, block.byteLength & ~7);
    if (Atomics.load(v.i32, MAGIC) !== kQueueMagic) return;
    const h = readHeader(v.i32, block.byteLength & ~7);
    let unknown = 0;
    let p = Atomics.load(v.i32, HEAD);
    for (let n = 0; n < h.capacity; n++) {
      const seq = (kHeaderBytes + (p % h.capacity) * h.slotBytes) >> 2;
      if (Atomics.load(v.i32, seq) !== 2 * p + 1) break;
      const tag = v.i32[seq + 2] as number;
      const length = v.i32[seq + 1] as number;
      const count = recordCount(tag, Math.min(length, h.maxItemBytes), v.i32[seq + 3] as number);
      const records: Record_[] = [];
      for (let i = 0; i < count; i++)
        records.push(readRecord(v.f64, v.i32, seq * 4 + kSlotHeader + i * 32));
      unknown += releaseRecords(records);
      Atomics.store(v.i32, seq, 0);
      p = p + 1 === h.m ? 0 : p + 1;
    }
    if (unknown > 0) {
      process.emitWarning(
        `shmframe: a SharedQueue freed with unconsumed items held ${unknown} reference(s) to objects of heaps ` +
          `this thread (${tidIn(block.buffer)}) never saw; they could not be released`,
        { code: 'SHMFRAME_QUEUE_LEAK' },
      );
    }
  }

  /**
   * Finishes or undoes what thread `tid` left half-done when it was released (terminated or
   * exited) while inside a put or a get, and wakes everyone.
   */
  static repair(block: FreedBlock, tid: number): void {
    const v = views(block.buffer, block.byteOffset, block.byteLength & ~7);
    const i32 = v.i32;
    if (Atomics.load(i32, MAGIC) !== kQueueMagic) return;
    const h = readHeader(i32, block.byteLength & ~7);
    const seqAt = (p: number): number => (kHeaderBytes + (p % h.capacity) * h.slotBytes) >> 2;
    const prev = (p: number): number => (p === 0 ? h.m - 1 : p - 1);
    let repaired = false;
    if (heldBy(i32, PLOCK, tid)) {
      // Died after moving the tail but before publishing: the slot is full, so publish it.
      const t = prev(Atomics.load(i32, TAIL));
      if (Atomics.load(i32, seqAt(t)) === 2 * t) Atomics.store(i32, seqAt(t), 2 * t + 1);
      repaired = forceUnlock(i32, PLOCK, tid);
    }
    if (heldBy(i32, CLOCK, tid)) {
      // Died after moving the head but before freeing the slot: the item is still there, so
      // put the head back and let another consumer take it.
      const p = prev(Atomics.load(i32, HEAD));
      if (Atomics.load(i32, seqAt(p)) === 2 * p + 1) Atomics.store(i32, HEAD, p);
      // It may have attached some of the next item's objects (consuming their tickets) before
      // it died: give those records fresh tickets, so the next consumer still gets them.
      const head = Atomics.load(i32, HEAD);
      const seq = seqAt(head);
      if (Atomics.load(i32, seq) === 2 * head + 1) {
        const tag = i32[seq + 2] as number;
        const n = recordCount(
          tag,
          Math.min(i32[seq + 1] as number, h.maxItemBytes),
          i32[seq + 3] as number,
        );
        rearmRecords(v.f64, i32, seq * 4 + kSlotHeader, n, tid);
      }
      repaired = forceUnlock(i32, CLOCK, tid) || repaired;
    }
    if (repaired) {
      Atomics.add(i32, NOT_EMPTY, 1);
      notifyWord(i32, NOT_EMPTY);
      Atomics.add(i32, NOT_FULL, 1);
      notifyWord(i32, NOT_FULL);
    }
  }
}

function readHeader(
  i32: Int32Array,
  byteLength: number,
): { capacity: number; maxItemBytes: number; slotBytes: number; m: number } {
  if (Atomics.load(i32, MAGIC) !== kQueueMagic || i32[VERSION] !== kVersion) {
    throw new CorruptError('Block is not a SharedQueue of this layout version (bad magic)');
  }
  const capacity = i32[CAPACITY] as number;
  const maxItemBytes = i32[MAX_ITEM] as number;
  const slotBytes = i32[SLOT_BYTES] as number;
  const m = i32[MODULUS] as number;
  if (
    !(capacity >= 1 && capacity <= kMaxCapacity) ||
    !(maxItemBytes >= 8) ||
    slotBytes !== slotBytesFor(maxItemBytes) ||
    m < capacity ||
    m % capacity !== 0 ||
    kHeaderBytes + capacity * slotBytes > byteLength
  ) {
    throw new CorruptError(
      `SharedQueue header is inconsistent (capacity ${capacity}, maxItemBytes ${maxItemBytes}) with its ${byteLength}-byte block`,
    );
  }
  return { capacity, maxItemBytes, slotBytes, m };
}
