/**
 * The process table of a process heap: which processes (Node or Python) have the heap mapped.
 * Entry 0 is the table's own header (its word 0 holds the highest slot ever claimed + 1); slots
 * 1..cap are processes. A slot records (pid, start time), so a dead process is recognised even
 * after its pid was reused, and a doorbell for cross-process async wakes.
 *
 * Releasing what a dead process held is HeapCore's job (`reapDead`); this file only reads and
 * claims entries.
 */
import { bootHash, isAlive, myStartTime } from '../native/proc.js';
import { HeapFullError } from '../errors.js';
import {
  H_BOOT,
  H_PROC_CAP,
  H_PROC_START,
  P_ASYNC,
  P_DOORBELL,
  P_FD,
  P_JOINED_HI,
  P_JOINED_LO,
  P_LANG,
  P_PID,
  P_REAPER,
  P_SERIAL,
  P_START_HI,
  P_START_LO,
  P_STATE,
  kLangNode,
  kLangPython,
  kProcClaiming,
  kProcExited,
  kProcFree,
  kProcLive,
  kProcReaping,
  kProcWords,
} from './layout.js';
import type { Words } from './words.js';

/** One process of a process heap, as {@link Heap.processes} reports it. */
export interface ProcessInfo {
  pid: number;
  /** 'node' or 'python'. */
  runtime: 'node' | 'python';
  /** 'live', 'exited' (left; its pid may finish exiting), or 'dead' (awaiting release). */
  state: 'live' | 'exited' | 'dead';
  /** When it joined the heap. */
  joined: Date;
  /** True for the calling process. */
  self: boolean;
}

export interface ProcessEntry {
  slot: number;
  at: number;
  state: number;
  pid: number;
  startTime: number;
}

export class ProcessTable {
  readonly #w: Words;
  readonly start: number;
  readonly cap: number;

  constructor(w: Words) {
    this.#w = w;
    this.start = w.get(H_PROC_START);
    this.cap = w.get(H_PROC_CAP);
  }

  /** Word index of slot `s`'s entry. */
  at(slot: number): number {
    return this.start + slot * kProcWords;
  }

  /** Highest slot ever claimed + 1. */
  get top(): number {
    return Math.min(this.#w.load(this.start), this.cap + 1);
  }

  entry(slot: number): ProcessEntry {
    const w = this.#w;
    const at = this.at(slot);
    return {
      slot,
      at,
      state: w.load(at + P_STATE),
      pid: w.load(at + P_PID),
      startTime: w.getU(at + P_START_HI) * 2 ** 32 + w.getU(at + P_START_LO),
    };
  }

  /** Whether the process in `slot` may still run (false once it is provably gone). */
  alive(e: ProcessEntry): boolean {
    if (e.state === kProcFree || e.state === kProcClaiming) return e.state === kProcClaiming;
    if (this.#w.load(H_BOOT) !== bootHash()) return false;
    return isAlive(e.pid, e.startTime);
  }

  /** This process's slot, or -1. */
  findMine(): number {
    const me = process.pid;
    const start = myStartTime();
    for (let s = 1; s < this.top; s++) {
      const e = this.entry(s);
      if (e.state === kProcLive && e.pid === me && e.startTime === start) return s;
    }
    return -1;
  }

  /**
   * Claims a free slot for this process. `usable(slot)` says whether a free slot may be taken
   * now (no thread of a former occupant is still recorded in the heap).
   */
  claim(fd: number, lang: 'node' | 'python', usable: (slot: number) => boolean): number {
    const w = this.#w;
    for (let s = 1; s <= this.cap; s++) {
      const at = this.at(s);
      if (w.load(at + P_STATE) !== kProcFree || !usable(s)) continue;
      if (w.cas(at + P_STATE, kProcFree, kProcClaiming) !== kProcFree) continue;
      const start = myStartTime();
      w.store(at + P_PID, process.pid);
      w.store(at + P_START_LO, start % 2 ** 32);
      w.store(at + P_START_HI, Math.floor(start / 2 ** 32));
      w.store(at + P_ASYNC, 0);
      w.store(at + P_FD, fd);
      w.store(at + P_LANG, lang === 'node' ? kLangNode : kLangPython);
      w.store(at + P_REAPER, 0);
      w.add(at + P_SERIAL, 1);
      const now = Date.now();
      w.store(at + P_JOINED_LO, now % 2 ** 32);
      w.store(at + P_JOINED_HI, Math.floor(now / 2 ** 32));
      for (;;) {
        const top = w.load(this.start);
        if (top > s || w.cas(this.start, top, s + 1) === top) break;
      }
      w.store(at + P_STATE, kProcLive);
      return s;
    }
    throw new HeapFullError(
      `The heap's process table is full (${this.cap} processes attached): no more processes can join it`,
    );
  }

  /** Marks this process's slot as left (its pid may still finish exiting). */
  leave(slot: number): void {
    this.#w.cas(this.at(slot) + P_STATE, kProcLive, kProcExited);
  }

  /**
   * A live process holding a memfd heap open, preferring `slot` (this process): others reach the
   * heap as /proc/<pid>/fd/<fd>.
   */
  memfdHolder(slot: number): { pid: number; fd: number } | undefined {
    const w = this.#w;
    const mine = this.entry(slot);
    if (mine.state === kProcLive && w.load(mine.at + P_FD) >= 0) {
      return { pid: mine.pid, fd: w.load(mine.at + P_FD) };
    }
    for (let s = 1; s < this.top; s++) {
      const e = this.entry(s);
      if (e.state === kProcLive && w.load(e.at + P_FD) >= 0 && this.alive(e)) {
        return { pid: e.pid, fd: w.load(e.at + P_FD) };
      }
    }
    return undefined;
  }

  /** Records the fd through which this process holds a memfd heap. */
  setFd(slot: number, fd: number): void {
    this.#w.store(this.at(slot) + P_FD, fd);
  }

  /** The fd through which process `slot` holds a memfd heap. */
  fdOf(slot: number): number {
    return this.#w.load(this.at(slot) + P_FD);
  }

  /** Takes the right to release a dead process's slot; false if another process is at it. */
  beginReap(e: ProcessEntry, me: number): boolean {
    const w = this.#w;
    if (e.state !== kProcLive && e.state !== kProcExited) return false;
    if (w.cas(e.at + P_STATE, e.state, kProcReaping) !== e.state) return false;
    w.store(e.at + P_REAPER, me);
    return true;
  }

  /** Identity + 1 of the process releasing slot `e` (0 while it is being recorded). */
  reaperOf(e: ProcessEntry): number {
    return this.#w.load(e.at + P_REAPER);
  }

  /** Takes over the release of `e` from a reaper that died. */
  takeOverReap(e: ProcessEntry, deadReaper: number, me: number): boolean {
    if (deadReaper === 0) return false; // being recorded right now
    return this.#w.cas(e.at + P_REAPER, deadReaper, me) === deadReaper;
  }

  /** Frees a reaped slot. */
  endReap(e: ProcessEntry): void {
    const w = this.#w;
    w.store(e.at + P_DOORBELL, 0);
    w.store(e.at + P_ASYNC, 0);
    w.store(e.at + P_REAPER, 0);
    w.store(e.at + P_PID, 0);
    w.store(e.at + P_STATE, kProcFree);
  }

  /** Live and exited processes, for {@link Heap.processes}. */
  list(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    const w = this.#w;
    const me = process.pid;
    for (let s = 1; s < this.top; s++) {
      const e = this.entry(s);
      if (e.state === kProcFree || e.state === kProcClaiming) continue;
      const alive = this.alive(e);
      out.push({
        pid: e.pid,
        runtime: w.load(e.at + P_LANG) === kLangPython ? 'python' : 'node',
        state:
          !alive || e.state === kProcReaping ? 'dead' : e.state === kProcExited ? 'exited' : 'live',
        joined: new Date(w.getU(e.at + P_JOINED_HI) * 2 ** 32 + w.getU(e.at + P_JOINED_LO)),
        self: e.pid === me && e.startTime === myStartTime(),
      });
    }
    return out;
  }

  /** Number of live processes other than `exceptSlot`. */
  othersAlive(exceptSlot: number): number {
    let n = 0;
    for (let s = 1; s < this.top; s++) {
      if (s === exceptSlot) continue;
      const e = this.entry(s);
      if (e.state === kProcLive && this.alive(e)) n++;
    }
    return n;
  }
}
