/**
 * 32-bit word access to a whole heap buffer. A TypedArray holds at most 2^32 elements on
 * Node 20 (measured: `new Int32Array(sab)` works up to 16 GiB), so heaps above 16 GiB are
 * covered by several Int32Array segments; the first segment is the fast path.
 */
const kSegmentWords = 2 ** 32;

export class Words {
  readonly #s0: Int32Array;
  readonly #segments: Int32Array[];

  constructor(buffer: SharedArrayBuffer) {
    const total = Math.floor(buffer.byteLength / 4);
    this.#segments = [];
    for (let start = 0; start < total; start += kSegmentWords) {
      this.#segments.push(
        new Int32Array(buffer, start * 4, Math.min(kSegmentWords, total - start)),
      );
    }
    this.#s0 = this.#segments[0] as Int32Array;
  }

  #seg(i: number): Int32Array {
    return this.#segments[Math.floor(i / kSegmentWords)] as Int32Array;
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
  /** Control words live in the first segment, so waits and notifies use it directly. */
  wait(i: number, value: number, timeout?: number): 'ok' | 'not-equal' | 'timed-out' {
    return Atomics.wait(this.#s0, i, value, timeout);
  }
  notify(i: number, count?: number): number {
    return Atomics.notify(this.#s0, i, count);
  }
}
