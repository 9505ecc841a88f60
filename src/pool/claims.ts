/**
 * TaskClaims: one shared word per task a worker holds and has not started, so that the pool and
 * the worker agree, without a message, on who runs it.
 *
 * The pool writes the task's claim value into a word of the worker's ring before posting it; the
 * worker, about to start the task, and the pool, wanting it back (cancelled before it started, or
 * wanted by an idle worker), both try the same compare-and-swap from that value to 0, and exactly
 * one wins. A task the pool won back never starts in the worker, which skips it without a reply;
 * a task the worker won is running (or done), and only it can answer for it.
 *
 * Before, the pool asked for tasks back by message and the worker answered between tasks: a worker
 * inside a long synchronous task could not give back the one queued behind it, so the pool sent
 * a task of a millisecond or more only to a worker with nothing queued, and every such task waited
 * a round trip through the pool's event loop (measured: a tenth of a seed 002 task on a loaded
 * machine). With claims, the pool queues the next task behind the running one and takes it back
 * at once if another worker runs dry.
 *
 * The words live in a SharedArrayBuffer that the transport hands to the worker (a worker thread
 * gets it in its workerData; a worker process would get it in memory both processes map).
 */

/** Words in a worker's ring: more than the tasks a worker may hold at once (64). */
export const kClaimSlots = 256;

/** The value a task's word holds while nobody has claimed it: never 0, fits in an int32. */
export function claimValue(id: number): number {
  return (id % 0x7fffffff) + 1;
}

export class TaskClaims {
  readonly buffer: SharedArrayBuffer;
  readonly #w: Int32Array;
  #next = 0;

  constructor(words: SharedArrayBuffer | Int32Array = new SharedArrayBuffer(4 * kClaimSlots)) {
    this.#w = words instanceof Int32Array ? words.subarray(0, kClaimSlots) : new Int32Array(words);
    this.buffer = this.#w.buffer as SharedArrayBuffer;
  }

  /**
   * Pool side: a word for task `id`, about to be posted. Words are reused round the ring; a word
   * still holding a task taken back long ago is harmless, since its value names that task only.
   */
  offer(id: number): number {
    const at = this.#next;
    this.#next = (at + 1) % kClaimSlots;
    Atomics.store(this.#w, at, claimValue(id));
    return at;
  }

  /** Either side: claims task `id` at word `at`. True for exactly one caller, once. */
  take(at: number, id: number): boolean {
    const v = claimValue(id);
    return Atomics.compareExchange(this.#w, at, v, 0) === v;
  }
}
