/**
 * Pass 1 of a parallel load: scanning a byte range of a file, fast, to learn how many records
 * start in it (an upper bound that is exact for ordinary files) and how many newlines it holds
 * (for line numbers in messages).
 *
 * Where records start. A record starts at the data start and after every newline that is not
 * inside quotes; a range owns the records that START in it (a record may end in the next range).
 * Without quoting that is simply "after every newline". With quoting (RFC 4180), whether a
 * newline is inside quotes depends on everything before it, so each range is scanned as a small
 * state machine from each possible start state (outside quotes, inside quotes, inside a comment)
 * and the ranges' results are chained in file order afterwards ({@link chainStates}): the state at
 * the start of range k is the end state of range k - 1 from its own start state. Every quote
 * character toggles "inside quotes" (valid RFC 4180 has quotes only around fields and doubled
 * inside them, so this is exact), and a comment character outside quotes runs to the newline.
 * The record parser (`engine.ts`) finds record ends by the same rule, also for malformed lines.
 *
 * Counting. Line starts followed by a newline, a CR or the comment character (blank and comment
 * lines) are not counted; lines of spaces only are (the count is an upper bound; the loader
 * closes any gap afterwards).
 */
import { closeQuietly, fileSize, openRead, readAt } from './file.js';
import { newlineCounter } from './newlines.js';

export const S_OUT = 0;
export const S_QUOTE = 1;
export const S_COMMENT = 2;
/** Outside quotes at the start of a line. */
export const S_LINE = 3;

const LF = 10;
const CR = 13;

/** What a scan learns about one range. */
export interface RangeScan {
  /** Newline bytes in the range. */
  lf: number;
  /** Per start state (S_OUT, S_QUOTE, S_COMMENT, S_LINE): record starts and end state. */
  records: number[];
  endState: number[];
}

export interface ScanOptions {
  quote: number;
  comment: number;
  chunkBytes?: number;
}

let kept: Buffer | undefined;

/** A read buffer of exactly `n` bytes, reused across scans in this thread. */
function scratch(n: number): Buffer {
  if (kept === undefined || kept.length < n) kept = Buffer.allocUnsafe(n);
  return kept.length === n ? kept : kept.subarray(0, n);
}

/** Scans `[start, end)` of an open file. */
export function scanRange(
  fd: number,
  path: string,
  start: number,
  end: number,
  options: ScanOptions,
  onBytes?: (n: number) => void,
): RangeScan {
  const chunk = Math.max(16, options.chunkBytes ?? 1 << 20);
  const { quote, comment } = options;
  // Without quotes, newlines are counted 16 bytes at a time in wasm memory (`newlines.ts`).
  const counter = quote < 0 ? newlineCounter() : undefined;
  const buf = counter !== undefined ? counter.buffer(chunk) : scratch(chunk);
  let lf = 0;
  // Per simulated start state (S_OUT, S_QUOTE, S_COMMENT): current state and record count.
  const state = [S_OUT, S_QUOTE, S_COMMENT];
  const recs = [0, 0, 0];
  // Whether the previous byte ended a line (per simulation): the next byte may start a record.
  const atLine = [false, false, false];
  // The record at `start` itself, for a range entered at a line start (S_LINE).
  let firstByte = -1;
  for (let pos = start; pos < end;) {
    const n = readAt(fd, path, buf, 0, Math.min(chunk, end - pos), pos);
    if (n === 0) break;
    if (firstByte < 0) firstByte = buf[0] as number;
    if (quote < 0) {
      // No quotes: only newlines matter (a comment ends at the newline, so the comment state
      // changes no count and no record start). Jump from newline to newline with the native
      // memchr behind Buffer.indexOf: several GB/s, where a byte loop does about 0.5.
      let r = recs[0] as number;
      if (atLine[0] === true) {
        const c = buf[0] as number;
        if (c !== LF && c !== CR && c !== comment) r++;
      }
      let pending = false;
      if (counter !== undefined) {
        // Line starts inside the chunk: after every newline but a last byte, less blank and
        // comment lines.
        const counted = counter.count(n, comment);
        lf += counted.lf;
        pending = buf[n - 1] === LF;
        r += counted.lf - (pending ? 1 : 0) - counted.blank;
      } else {
        const view = n === buf.length ? buf : buf.subarray(0, n);
        for (let p = view.indexOf(LF, 0); p >= 0; p = view.indexOf(LF, p + 1)) {
          lf++;
          if (p + 1 < n) {
            const c = view[p + 1] as number;
            if (c !== LF && c !== CR && c !== comment) r++;
          } else pending = true;
        }
      }
      state[0] = pending ? S_OUT : n > 0 ? S_OUT : (state[0] as number);
      recs[0] = r;
      atLine[0] = pending;
    } else {
      for (let k = 0; k < 3; k++) {
        let s = state[k] as number;
        let r = recs[k] as number;
        let pending = atLine[k] as boolean;
        for (let i = 0; i < n; i++) {
          const c = buf[i] as number;
          if (pending) {
            pending = false;
            if (c !== LF && c !== CR && c !== comment) r++;
          }
          if (c === LF) {
            if (k === 0) lf++;
            if (s !== S_QUOTE) {
              s = S_OUT;
              pending = true;
            }
          } else if (s === S_COMMENT) {
            // Inside a comment everything but the newline is text.
          } else if (c === quote) {
            s = s === S_QUOTE ? S_OUT : S_QUOTE;
          } else if (c === comment && s === S_OUT) {
            s = S_COMMENT;
          }
        }
        state[k] = s;
        recs[k] = r;
        atLine[k] = pending;
      }
    }
    onBytes?.(n);
    pos += n;
  }
  if (quote < 0) {
    // Without quotes only comments differ, and they end at the first newline: same counts.
    state[1] = state[0] as number;
    state[2] = state[0] as number;
    recs[1] = recs[0] as number;
    recs[2] = recs[0] as number;
    atLine[1] = atLine[0] as boolean;
    atLine[2] = atLine[0] as boolean;
  }
  const endOf = (k: number): number => (atLine[k] ? S_LINE : (state[k] as number));
  const startsRecord =
    firstByte >= 0 && firstByte !== LF && firstByte !== CR && firstByte !== comment;
  return {
    lf,
    records: [
      recs[0] as number,
      recs[1] as number,
      recs[2] as number,
      (recs[0] as number) + (startsRecord ? 1 : 0),
    ],
    endState: [endOf(0), endOf(1), endOf(2), endOf(0)],
  };
}

/** Opens, scans and closes. */
export function scanFileRange(
  path: string,
  start: number,
  end: number,
  options: ScanOptions,
  onBytes?: (n: number) => void,
): RangeScan & { size: number } {
  const fd = openRead(path);
  try {
    const size = fileSize(fd, path);
    return {
      ...scanRange(fd, path, Math.min(start, size), Math.min(end, size), options, onBytes),
      size,
    };
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Chains the scans of consecutive ranges of one file (the first starting at the data start, a
 * line start): the start state of each range, and the records starting in it.
 */
export function chainStates(scans: readonly RangeScan[]): { states: number[]; records: number[] } {
  const states: number[] = [];
  const records: number[] = [];
  let s = S_LINE;
  for (const scan of scans) {
    states.push(s);
    records.push(scan.records[s] as number);
    s = scan.endState[s] as number;
  }
  return { states, records };
}
