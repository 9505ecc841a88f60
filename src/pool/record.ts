/**
 * ResultRecord: a few shared words per worker where the worker notes the handles of a result it
 * is about to post. A handle's reference belongs to its ticket, not to the worker's ledger, so if
 * the worker were terminated between creating the handles and posting them, `releaseThread`
 * would not find them. The pool reads the record after the worker exits and releases any handle
 * still outstanding; one that reached the pool was attached, and releasing it is a no-op.
 */
import type { Handle } from '../heap/handle.js';
import { Heap } from '../heap/heap.js';

const kEntryWords = 5;
const kEntries = 1024;
/** Int32 words of a record. */
export const kRecordWords = 1 + kEntries * kEntryWords;

export class ResultRecord {
  readonly buffer: SharedArrayBuffer;
  readonly #w: Int32Array;

  /**
   * Over a buffer of its own (a worker thread gets it in workerData) or over words of a heap (a
   * worker process maps the same heap).
   */
  constructor(words: SharedArrayBuffer | Int32Array = new SharedArrayBuffer(4 * kRecordWords)) {
    this.#w = words instanceof Int32Array ? words.subarray(0, kRecordWords) : new Int32Array(words);
    this.buffer = this.#w.buffer as SharedArrayBuffer;
  }

  /** Notes the handles about to be posted (the first 1024: 20 KiB of words per worker). */
  begin(handles: readonly Handle[]): void {
    Atomics.store(this.#w, 0, 0);
    for (const h of handles) this.add(h);
  }

  /**
   * Notes one more handle, as soon as it is made (the count is raised after its words are
   * written, so the pool never reads a half-written entry).
   */
  add(h: Handle): void {
    const w = this.#w;
    const n = Atomics.load(w, 0);
    if (n >= kEntries) return;
    const at = 1 + n * kEntryWords;
    w[at] = (h.heap % 2 ** 32) | 0;
    w[at + 1] = Math.floor(h.heap / 2 ** 32);
    w[at + 2] = h.unit;
    w[at + 3] = h.ticket;
    w[at + 4] = h.serial;
    Atomics.store(w, 0, n + 1);
  }

  /**
   * Set by a transport whose posts are not delivered when post() returns (a worker process's IPC
   * channel, whose writes may wait in the process while the socket is full): `end()` then keeps
   * the entries, and the transport drops them with {@link shift} once each message has left the
   * process. Listing a handle that already arrived is harmless: the pool reads the record only
   * after the worker is gone and every message it sent was handled, and releasing an attached or
   * released handle does nothing.
   */
  deferEnd = false;

  /** The handles were posted (or released): they belong to the message now. */
  end(): void {
    if (!this.deferEnd) Atomics.store(this.#w, 0, 0);
  }

  /** Entries noted so far (a deferring transport counts a message's entries with it). */
  get count(): number {
    return Atomics.load(this.#w, 0);
  }

  /**
   * Drops the first `k` entries (those of messages that left the process), keeping the others in
   * order. A worker killed midway leaves some entries listed twice, which is harmless (see
   * {@link deferEnd}); none is lost, since the count goes down only after the move.
   */
  shift(k: number): void {
    const w = this.#w;
    const n = Atomics.load(w, 0);
    const drop = Math.min(k, n);
    if (drop <= 0) return;
    w.copyWithin(1, 1 + drop * kEntryWords, 1 + n * kEntryWords);
    Atomics.store(w, 0, n - drop);
  }

  /** After the worker exited: releases what it noted and did not post. Returns how many. */
  releaseOutstanding(): number {
    const w = this.#w;
    const n = Atomics.load(w, 0);
    let released = 0;
    for (let i = 0; i < n; i++) {
      const at = 1 + i * kEntryWords;
      const id = ((w[at] as number) >>> 0) + (w[at + 1] as number) * 2 ** 32;
      const heap = Heap.byId(id);
      if (heap === undefined) continue;
      try {
        if (
          heap.releaseHandle({
            heap: id,
            unit: (w[at + 2] as number) >>> 0,
            ticket: w[at + 3] as number,
            serial: w[at + 4] as number,
          })
        )
          released++;
      } catch {
        // a damaged entry: nothing to release
      }
    }
    Atomics.store(w, 0, 0);
    return released;
  }
}
