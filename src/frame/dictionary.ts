/**
 * The dictionary of a category column: labels stored as utf8 (int32 offsets + bytes) in the frame
 * block, appended under a small lock in the column record, and read through a per-thread cache
 * (decoded labels and a label -> code map) that catches up with the shared count on a miss.
 */
import { HeapFullError, InvalidArgumentError, describe } from '../errors.js';
import {
  C_BYTES_CAP,
  C_BYTES_USED,
  C_DICT_CAP,
  C_DICT_COUNT,
  C_DICT_LOCK,
  C_DICT_WAITERS,
} from './layout.js';
import { lockOwned, unlockOwned } from '../heap/owned-mutex.js';
import { checkUnicode } from './stage.js';

export class Dictionary {
  readonly #words: Int32Array;
  readonly #offsets: Int32Array;
  readonly #bytes: Buffer;
  readonly #column: string;
  readonly #labels: string[] = [];
  readonly #codes = new Map<string, number>();
  readonly #gone: (tid: number) => boolean;

  constructor(
    words: Int32Array,
    offsets: Int32Array,
    bytes: Buffer,
    column: string,
    gone: (tid: number) => boolean = () => false,
  ) {
    this.#gone = gone;
    this.#words = words;
    this.#offsets = offsets;
    this.#bytes = bytes;
    this.#column = column;
  }

  /** Labels published so far (in any thread). */
  get size(): number {
    return Atomics.load(this.#words, C_DICT_COUNT);
  }

  get capacity(): number {
    return this.#words[C_DICT_CAP] as number;
  }

  /** The raw dictionary regions, for Arrow export. */
  get offsets(): Int32Array {
    return this.#offsets;
  }
  get bytes(): Buffer {
    return this.#bytes;
  }

  #sync(): void {
    const n = Atomics.load(this.#words, C_DICT_COUNT);
    const offsets = this.#offsets;
    for (let i = this.#labels.length; i < n; i++) {
      const label = this.#bytes.toString('utf8', offsets[i] as number, offsets[i + 1] as number);
      this.#labels.push(label);
      this.#codes.set(label, i);
    }
  }

  /** The label of `code`, or undefined when the code is not in the dictionary. */
  label(code: number): string | undefined {
    if (code >= this.#labels.length) this.#sync();
    return this.#labels[code];
  }

  /** Every label, in code order (a snapshot). */
  labels(): string[] {
    this.#sync();
    return this.#labels.slice();
  }

  /** The code of `label`, or -1. */
  find(label: string): number {
    let code = this.#codes.get(label);
    if (code === undefined) {
      this.#sync();
      code = this.#codes.get(label);
    }
    return code ?? -1;
  }

  /** The code of `label`, appending it to the shared dictionary if it is new. */
  codeOf(label: unknown, where: string): number {
    if (typeof label !== 'string') {
      throw new InvalidArgumentError(
        `Expected a string label (or null) for ${where} (category), got ${describe(label)}`,
      );
    }
    checkUnicode(label, where);
    const known = this.find(label);
    if (known >= 0) return known;
    const words = this.#words;
    if (lockOwned(words, C_DICT_LOCK, C_DICT_WAITERS, this.#gone)) {
      // Taken over from a thread that died holding it: the published count is the truth, and a
      // label it was adding (bytes, offset, byte counter) is dropped.
      const count = Atomics.load(words, C_DICT_COUNT);
      words[C_BYTES_USED] = this.#offsets[count] as number;
    }
    try {
      this.#sync();
      const again = this.#codes.get(label);
      if (again !== undefined) return again;
      const count = this.#labels.length;
      const used = words[C_BYTES_USED] as number;
      const len = Buffer.byteLength(label);
      const cap = words[C_DICT_CAP] as number;
      const bytesCap = words[C_BYTES_CAP] as number;
      if (count >= cap || used + len > bytesCap) {
        throw new HeapFullError(
          `The dictionary of category column ${JSON.stringify(this.#column)} is full ` +
            `(${count} of ${cap} labels, ${used} of ${bytesCap} bytes) and cannot take ${describe(label)}. ` +
            `Create the frame with larger \`categories\` / \`categoryBytes\` options.`,
          { details: { labels: count, capacity: cap, bytes: used, bytesCapacity: bytesCap } },
        );
      }
      this.#bytes.write(label, used, 'utf8');
      this.#offsets[count + 1] = used + len;
      words[C_BYTES_USED] = used + len;
      Atomics.store(words, C_DICT_COUNT, count + 1);
      this.#labels.push(label);
      this.#codes.set(label, count);
      return count;
    } finally {
      unlockOwned(words, C_DICT_LOCK, C_DICT_WAITERS);
    }
  }

  /**
   * Checks that `labels` (new ones only) would fit, without adding them: lets an append fail
   * before it changes anything. Concurrent appenders may still fill the dictionary meanwhile.
   */
  checkRoom(labels: Iterable<string>): void {
    let count = this.size;
    let used = Atomics.load(this.#words, C_BYTES_USED);
    const fresh = new Set<string>();
    for (const l of labels) {
      if (fresh.has(l) || this.find(l) >= 0) continue;
      fresh.add(l);
      count++;
      used += Buffer.byteLength(l);
    }
    const cap = this.capacity;
    const bytesCap = this.#words[C_BYTES_CAP] as number;
    if (count > cap || used > bytesCap) {
      throw new HeapFullError(
        `The dictionary of category column ${JSON.stringify(this.#column)} cannot take ${fresh.size} new labels ` +
          `(it would hold ${count} of ${cap} labels, ${used} of ${bytesCap} bytes). ` +
          `Create the frame with larger \`categories\` / \`categoryBytes\` options.`,
        { details: { labels: count, capacity: cap, bytes: used, bytesCapacity: bytesCap } },
      );
    }
  }
}
