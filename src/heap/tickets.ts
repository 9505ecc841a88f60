/**
 * The ticket table: one slot per outstanding handle. A handle carries one reference; the first
 * `attach` consumes its ticket with a single compare-and-swap and adopts the reference. A second
 * attach of the same handle (posted to two workers, say) finds the ticket gone and takes a fresh
 * reference instead, so a handle can never drop a count it does not own.
 */
import { CorruptError, HeapFullError } from '../errors.js';
import { H_TABLES, H_TICKET_CURSOR, H_TICKET_SERIAL, kTicketWords } from './layout.js';
import type { Words } from './words.js';

export interface Ticket {
  slot: number;
  serial: number;
}

export class Tickets {
  readonly #w: Words;
  readonly #cap: number;

  /** `capacity` comes from the checked header (never re-read from the heap). */
  constructor(w: Words, capacity: number) {
    this.#w = w;
    this.#cap = capacity;
  }

  get capacity(): number {
    return this.#cap;
  }

  /**
   * Claims a slot for a handle of `unit`. `slotWord`/`phaseWord` (or -1) record, for whoever
   * cleans up after this thread, which slot was being claimed and that the claim succeeded.
   */
  create(unit: number, slotWord = -1, phaseWord = -1): Ticket {
    const w = this.#w;
    // Serials stay below 2^30 so that they read back positive from an Int32 word, and
    // kFreshSerial is never issued.
    const serial = (w.add(H_TICKET_SERIAL, 1) & 0x3fffffff) + 1;
    const start = (w.add(H_TICKET_CURSOR, 1) >>> 0) % this.#cap;
    for (let i = 0; i < this.#cap; i++) {
      const slot = (start + i) % this.#cap;
      const at = H_TABLES + slot * kTicketWords;
      if (w.load(at) !== 0) continue;
      if (slotWord >= 0) w.store(slotWord, slot);
      if (w.casMark(at, 0, serial, phaseWord, 2) === 0) {
        w.store(at + 1, unit);
        return { slot, serial };
      }
    }
    throw new HeapFullError(
      `Cannot create a handle: all ${this.#cap} handle slots of this heap are taken by handles that ` +
        `were never attached. Attach (or heap.releaseHandle()) the handles you post, or read ` +
        `obj.handle once per receiver.`,
      { details: { outstandingHandles: this.#cap } },
    );
  }

  /** True when the ticket was still outstanding; it is consumed now (and `phaseWord` set to 1). */
  consume(ticket: Ticket, unit: number, phaseWord = -1): boolean {
    const w = this.#w;
    if (
      !Number.isInteger(ticket.slot) ||
      ticket.slot < 0 ||
      ticket.slot >= this.#cap ||
      !(ticket.serial > 0)
    ) {
      throw new CorruptError(
        `Handle names ticket slot ${String(ticket.slot)} (serial ${String(ticket.serial)}), outside this heap's ` +
          `${this.#cap} slots: the handle is damaged or forged.`,
      );
    }
    const at = H_TABLES + ticket.slot * kTicketWords;
    if (w.load(at) !== ticket.serial || w.load(at + 1) >>> 0 !== unit) return false;
    return w.casMark(at, ticket.serial, 0, phaseWord, 1) === ticket.serial;
  }

  /** Whether the ticket is still outstanding. */
  isOutstanding(ticket: Ticket, unit: number): boolean {
    if (!(ticket.slot >= 0 && ticket.slot < this.#cap)) return false;
    const at = H_TABLES + ticket.slot * kTicketWords;
    return this.#w.load(at) === ticket.serial && this.#w.load(at + 1) >>> 0 === unit;
  }

  /** Handles created and not yet attached or released (a scan of the table). */
  outstanding(): number {
    let n = 0;
    for (let slot = 0; slot < this.#cap; slot++)
      if (this.#w.load(H_TABLES + slot * kTicketWords) !== 0) n++;
    return n;
  }

  /** Drops an orphaned claim (its handle never left the thread that died making it). */
  clear(slot: number): void {
    if (slot >= 0 && slot < this.#cap) this.#w.store(H_TABLES + slot * kTicketWords, 0);
  }
}

/**
 * A serial no ticket ever has: a handle carrying it takes a fresh reference when attached
 * (`heap.lookup` builds such handles; the published entry keeps its own).
 */
export const kFreshSerial = 0x7fffffff;
