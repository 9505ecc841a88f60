/**
 * Published names: a small table in the heap mapping a key (up to 64 UTF-8 bytes) to an object,
 * so that a child can leave a result for its parent (seed 004) with no side channel. The table
 * holds one reference per entry, carried by a handle ticket that nobody else ever sees (a
 * process that dies between taking it and writing the entry leaves it as an outstanding handle,
 * the same as a handle lost in flight). A lookup takes a fresh reference of its own.
 */
import { HeapFullError, InvalidArgumentError } from '../errors.js';
import {
  H_NAMES_CAP,
  H_NAMES_START,
  N_GEN,
  N_KEY,
  N_KEYLEN,
  N_SERIAL,
  N_STATE,
  N_TICKET,
  N_UNIT,
  kNameBusy,
  kNameFree,
  kNameKeyBytes,
  kNameSet,
  kNameWords,
} from './layout.js';
import type { Words } from './words.js';

export interface NameEntry {
  unit: number;
  generation: number;
  ticket: number;
  serial: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Checks a key and returns its bytes. */
export function keyBytes(key: unknown): Uint8Array {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError(
      `Expected \`key\` to be a non-empty string, got ${typeof key === 'string' ? "''" : typeof key}`,
    );
  }
  const b = encoder.encode(key);
  if (b.length > kNameKeyBytes) {
    throw new InvalidArgumentError(
      `Expected \`key\` of at most ${kNameKeyBytes} UTF-8 bytes, got ${b.length} ('${key.slice(0, 20)}...')`,
    );
  }
  return b;
}

export class Names {
  readonly #w: Words;
  readonly #start: number;
  readonly #cap: number;

  constructor(w: Words) {
    this.#w = w;
    this.#start = w.get(H_NAMES_START);
    this.#cap = w.get(H_NAMES_CAP);
  }

  #at(i: number): number {
    return this.#start + i * kNameWords;
  }

  #matches(at: number, key: Uint8Array): boolean {
    const w = this.#w;
    if (w.load(at + N_KEYLEN) !== key.length) return false;
    for (let i = 0; i < key.length; i += 4) {
      let v = 0;
      for (let k = 0; k < 4 && i + k < key.length; k++) v |= (key[i + k] as number) << (8 * k);
      if (w.load(at + N_KEY + i / 4) !== v) return false;
    }
    return true;
  }

  /** The entry published under `key`, or undefined. */
  get(key: Uint8Array): NameEntry | undefined {
    const w = this.#w;
    for (let i = 0; i < this.#cap; i++) {
      const at = this.#at(i);
      if (w.load(at + N_STATE) !== kNameSet || !this.#matches(at, key)) continue;
      return this.#read(at);
    }
    return undefined;
  }

  /**
   * Publishes `entry` under `key` (call with the allocator lock held, which serialises every
   * change of the table). Returns the entry it replaced, whose reference the caller drops.
   */
  set(key: Uint8Array, entry: NameEntry): NameEntry | undefined {
    const w = this.#w;
    let free = -1;
    for (let i = 0; i < this.#cap; i++) {
      const at = this.#at(i);
      const state = w.load(at + N_STATE);
      if (state === kNameSet && this.#matches(at, key)) {
        const old = this.#read(at);
        this.#write(at, key, entry);
        return old;
      }
      if (state === kNameFree && free < 0) free = i;
    }
    if (free < 0) {
      throw new HeapFullError(
        `Cannot publish '${decoder.decode(key)}': all ${this.#cap} names of this heap are taken. ` +
          `Remove names you no longer need with heap.unpublish(key).`,
      );
    }
    const at = this.#at(free);
    w.store(at + N_STATE, kNameBusy);
    this.#write(at, key, entry);
    return undefined;
  }

  #read(at: number): NameEntry {
    const w = this.#w;
    return {
      unit: w.load(at + N_UNIT) >>> 0,
      generation: w.load(at + N_GEN),
      ticket: w.load(at + N_TICKET),
      serial: w.load(at + N_SERIAL),
    };
  }

  #write(at: number, key: Uint8Array, entry: NameEntry): void {
    const w = this.#w;
    w.store(at + N_STATE, kNameBusy);
    w.store(at + N_UNIT, entry.unit);
    w.store(at + N_GEN, entry.generation);
    w.store(at + N_TICKET, entry.ticket);
    w.store(at + N_SERIAL, entry.serial);
    w.store(at + N_KEYLEN, key.length);
    for (let k = 0; k < kNameKeyBytes / 4; k++) {
      let v = 0;
      for (let b = 0; b < 4 && 4 * k + b < key.length; b++)
        v |= (key[4 * k + b] as number) << (8 * b);
      w.store(at + N_KEY + k, v);
    }
    w.store(at + N_STATE, kNameSet);
  }

  /** Removes the entry under `key` and returns it (its reference is the caller's now). */
  take(key: Uint8Array): NameEntry | undefined {
    const w = this.#w;
    for (let i = 0; i < this.#cap; i++) {
      const at = this.#at(i);
      if (w.load(at + N_STATE) !== kNameSet || !this.#matches(at, key)) continue;
      if (w.cas(at + N_STATE, kNameSet, kNameBusy) !== kNameSet) continue;
      const e = this.#read(at);
      w.store(at + N_KEYLEN, 0);
      w.store(at + N_STATE, kNameFree);
      return e;
    }
    return undefined;
  }

  /** Every published key. */
  keys(): string[] {
    const w = this.#w;
    const out: string[] = [];
    for (let i = 0; i < this.#cap; i++) {
      const at = this.#at(i);
      if (w.load(at + N_STATE) !== kNameSet) continue;
      const n = Math.min(w.load(at + N_KEYLEN), kNameKeyBytes);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = (w.load(at + N_KEY + (k >> 2)) >>> (8 * (k & 3))) & 0xff;
      out.push(decoder.decode(b));
    }
    return out;
  }

  /** Number of published entries (each holds one outstanding ticket). */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.#cap; i++) if (this.#w.load(this.#at(i) + N_STATE) !== kNameFree) n++;
    return n;
  }
}
