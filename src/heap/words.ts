import { CorruptError } from '../errors.js';

/**
 * 32-bit word access to a whole heap buffer. A TypedArray holds at most 2^32 elements on
 * Node 20 (measured: `new Int32Array(sab)` works up to 16 GiB), so heaps above 16 GiB are
 * covered by several Int32Array segments; the first segment is the fast path.
 */
import { type NativeBinding, tryNative } from '../native/binding.js';
import { notifyWord, waitWord } from './futex.js';

const kSegmentWords = 2 ** 32;

export class Words {
  readonly #s0: Int32Array;
  readonly #segments: Int32Array[];
  /**
   * For a process heap (mapped by the addon): the addon's marked operations and this mapping's id,
   * so that the *Mark operations are one native call each (see addMark). Null for a thread heap.
   */
  #native: Required<Pick<NativeBinding, 'addMark' | 'decMark' | 'casMark'>> | null = null;
  #nativeId = -1;
  /** Words in the heap: the native calls check their indexes here (JavaScript's are checked). */
  readonly #total: number;

  constructor(buffer: SharedArrayBuffer) {
    const total = Math.floor(buffer.byteLength / 4);
    this.#total = total;
    this.#segments = [];
    for (let start = 0; start < total; start += kSegmentWords) {
      this.#segments.push(
        new Int32Array(buffer, start * 4, Math.min(kSegmentWords, total - start)),
      );
    }
    this.#s0 = this.#segments[0] as Int32Array;
  }

  /**
   * Makes the *Mark operations native calls, for a process heap (HeapCore calls it once it read
   * the backing): a thread heap never loads the addon for them. Stays in JavaScript when the addon
   * predates these calls or `buffer` is not one of its mappings.
   */
  markNatively(buffer: SharedArrayBuffer): void {
    const nat = tryNative();
    if (nat?.markBase === undefined || !nat.addMark || !nat.decMark || !nat.casMark) return;
    const id = nat.markBase(buffer);
    if (id < 0) return;
    this.#native = { addMark: nat.addMark, decMark: nat.decMark, casMark: nat.casMark };
    this.#nativeId = id;
  }

  #seg(i: number): Int32Array {
    const seg = this.#segments[Math.floor(i / kSegmentWords)];
    // Callers check every index taken from the heap first; this is the last line, so that a
    // missed one is a coded error rather than a TypeError on an undefined segment.
    if (seg === undefined) throw new CorruptError(`Heap word ${i} is outside the heap`);
    return seg;
  }

  get(i: number): number {
    return i < kSegmentWords
      ? (this.#s0[i] as number)
      : (this.#seg(i)[i % kSegmentWords] as number);
  }
  /** Unsigned read. */
  getU(i: number): number {
    return this.get(i) >>> 0;
  }
  set(i: number, v: number): void {
    if (i < kSegmentWords) this.#s0[i] = v;
    else this.#seg(i)[i % kSegmentWords] = v;
  }
  /** The words of the first segment (the heap's header and tables are always in it). */
  get first(): Int32Array {
    return this.#s0;
  }

  /** Plain stores of `v` into words [i, i + n) (n small: within one segment or across two). */
  fill(i: number, n: number, v: number): void {
    if (i + n <= kSegmentWords) this.#s0.fill(v, i, i + n);
    else for (let k = i; k < i + n; k++) this.set(k, v);
  }
  load(i: number): number {
    return i < kSegmentWords
      ? Atomics.load(this.#s0, i)
      : Atomics.load(this.#seg(i), i % kSegmentWords);
  }
  store(i: number, v: number): void {
    if (i < kSegmentWords) Atomics.store(this.#s0, i, v);
    else Atomics.store(this.#seg(i), i % kSegmentWords, v);
  }
  add(i: number, v: number): number {
    return i < kSegmentWords
      ? Atomics.add(this.#s0, i, v)
      : Atomics.add(this.#seg(i), i % kSegmentWords, v);
  }
  sub(i: number, v: number): number {
    return i < kSegmentWords
      ? Atomics.sub(this.#s0, i, v)
      : Atomics.sub(this.#seg(i), i % kSegmentWords, v);
  }
  cas(i: number, expected: number, value: number): number {
    return i < kSegmentWords
      ? Atomics.compareExchange(this.#s0, i, expected, value)
      : Atomics.compareExchange(this.#seg(i), i % kSegmentWords, expected, value);
  }
  // The *Mark methods do an atomic operation and then record that it happened in `mark` (a word
  // of the first segment; -1 for none) with no call or loop in between: V8 delivers
  // Worker.terminate() at function and builtin entries and loop back-edges, so a terminated
  // thread has either done both or neither, and whoever cleans up after it knows which. The mark
  // is a plain store on purpose: a second Atomics call is a builtin entry where termination was
  // seen to land (a leak in about 1 of 500 kills); the mark is read only after the thread died.
  // A process killed with SIGKILL stops at any instruction, and unoptimized JavaScript runs up to
  // hundreds of them between the two (a leaked block in about 1 of 1000 kills of churning
  // processes): in a process heap both go through one native call, the addon's sf_*_mark, where
  // one instruction separates them.

  #checked(i: number): number {
    if (!(i >= 0 && i < this.#total)) throw new CorruptError(`Heap word ${i} is outside the heap`);
    return i;
  }

  #checkedMark(mark: number): number {
    return mark < 0 ? -1 : this.#checked(mark);
  }

  /** Atomics.add, then marks phase 1. */
  addMark(i: number, v: number, mark: number): number {
    const n = this.#native;
    if (n !== null) return n.addMark(this.#nativeId, this.#checked(i), v, this.#checkedMark(mark));
    const a = i < kSegmentWords ? this.#s0 : this.#seg(i);
    const j = i % kSegmentWords;
    const before = Atomics.add(a, j, v);
    if (mark >= 0) this.#s0[mark] = 1;
    return before;
  }

  /** Atomics.sub of 1, then marks phase 2 if this dropped the last count, else phase 1. */
  decMark(i: number, mark: number): number {
    const n = this.#native;
    if (n !== null) return n.decMark(this.#nativeId, this.#checked(i), this.#checkedMark(mark));
    const a = i < kSegmentWords ? this.#s0 : this.#seg(i);
    const j = i % kSegmentWords;
    const before = Atomics.sub(a, j, 1);
    if (mark >= 0) this.#s0[mark] = before === 1 ? 2 : 1;
    return before;
  }

  /** Atomics.compareExchange, then marks `phase` if it succeeded. */
  casMark(i: number, expected: number, value: number, mark: number, phase: number): number {
    const n = this.#native;
    if (n !== null)
      return n.casMark(
        this.#nativeId,
        this.#checked(i),
        expected,
        value,
        this.#checkedMark(mark),
        phase,
      );
    const a = i < kSegmentWords ? this.#s0 : this.#seg(i);
    const j = i % kSegmentWords;
    const before = Atomics.compareExchange(a, j, expected, value);
    if (before === expected && mark >= 0) this.#s0[mark] = phase;
    return before;
  }

  /**
   * Control words live in the first segment, so waits and notifies use it directly (through
   * futex.ts, which reaches other processes in a process heap).
   */
  wait(i: number, value: number, timeout?: number): 'ok' | 'not-equal' | 'timed-out' {
    return waitWord(this.#s0, i, value, timeout);
  }
  notify(i: number, count?: number): number {
    return notifyWord(this.#s0, i, count);
  }
}
