/**
 * Pass 2: streams one byte range of a file through a RecordParser, in fixed-size chunks, so the
 * memory a load needs beyond the frame is one chunk buffer per worker (it grows only for a
 * single record longer than the chunk).
 */
import { CorruptError, ParseError } from '../../errors.js';
import { kConsumed, kIncomplete, kLimit, type RecordParser } from './engine.js';
import { readAt } from './file.js';
import { S_COMMENT, S_LINE, S_OUT, S_QUOTE } from './scan.js';

const LF = 10;
/** Longest record accepted (a bigger one is almost surely a runaway quote). */
export const kMaxRecordBytes = 1 << 30;

export interface RangeRead {
  fd: number;
  path: string;
  /** Display name in messages. */
  file: string;
  /** Records starting in [start, end) are parsed. */
  start: number;
  end: number;
  size: number;
  /** Scan state at `start` (S_LINE when a record starts there). */
  state: number;
  quote: number;
  comment: number;
  chunkBytes?: number;
}

/**
 * Finds the first record starting at or after `start`: its position (or -1 when none starts
 * before `end`) and the newlines skipped on the way.
 */
export function firstRecord(r: RangeRead): { pos: number; lf: number } {
  if (r.state === S_LINE) return { pos: r.start, lf: 0 };
  const chunk = 1 << 16;
  const buf = Buffer.allocUnsafe(chunk);
  let s = r.state;
  let lf = 0;
  for (let at = r.start; at < r.end;) {
    const n = readAt(r.fd, r.path, buf, 0, Math.min(chunk, r.end - at), at);
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const c = buf[i];
      if (c === LF) {
        lf++;
        if (s !== S_QUOTE) return { pos: at + i + 1 < r.end ? at + i + 1 : -1, lf };
      } else if (s === S_COMMENT) {
        // comment text
      } else if (c === r.quote) {
        s = s === S_QUOTE ? S_OUT : S_QUOTE;
      } else if (c === r.comment && s === S_OUT) {
        s = S_COMMENT;
      }
    }
    at += n;
  }
  return { pos: -1, lf };
}

/**
 * Parses the records that start in `[from, r.end)` (`from` is a record start) with `parser`.
 * `onBytes(n)` reports progress in bytes of the range.
 */
export function readRange(
  r: RangeRead,
  from: number,
  parser: RecordParser,
  onBytes?: (n: number) => void,
): void {
  let cap = Math.max(16, r.chunkBytes ?? 1 << 20);
  // One buffer per thread, reused by every range it reads (1 MiB allocations per range showed
  // up in profiles); a range that grew it for a long record leaves it grown.
  let buf: Buffer = readBuffer(cap + 1);
  cap = buf.length - 1;
  let bufStart = from; // file offset of buf[0]
  let have = 0;
  let filePos = from;
  let reported = from;
  for (;;) {
    const want = cap - have;
    const n = filePos < r.size ? readAt(r.fd, r.path, buf, have, want, filePos) : 0;
    have += n;
    filePos += n;
    const eof = filePos >= r.size || n < want;
    let regionEnd: number;
    if (eof) {
      if (have === 0) break;
      if (buf[have - 1] !== LF) buf[have++] = LF; // a virtual newline ends the last line
      regionEnd = have;
    } else {
      const lastLF = buf.lastIndexOf(LF, have - 1);
      if (lastLF < 0) {
        buf = grow(buf, have, r, bufStart);
        cap = buf.length - 1;
        continue;
      }
      regionEnd = lastLF + 1;
    }
    const limit = r.end - bufStart;
    const consumed = parser.parse(buf, 0, regionEnd, limit, eof);
    const done = parser.status === kLimit || (eof && parser.status === kConsumed);
    const progressTo = Math.min(r.end, bufStart + consumed);
    if (progressTo > reported) {
      onBytes?.(progressTo - reported);
      reported = progressTo;
    }
    if (done) break;
    if (parser.status === kIncomplete && consumed === 0 && have >= cap) {
      buf = grow(buf, have, r, bufStart);
      cap = buf.length - 1;
      continue;
    }
    if (eof && parser.status === kIncomplete) {
      // Cannot happen: at end of file the parser reports or skips an unterminated record.
      throw new CorruptError(`${r.file}: the parser stopped before the end of the file`);
    }
    buf.copyWithin(0, consumed, have);
    bufStart += consumed;
    have -= consumed;
  }
  if (r.end > reported) onBytes?.(r.end - reported);
}

let kept: Buffer | undefined;

function readBuffer(n: number): Buffer {
  if (kept === undefined || kept.length < n) kept = Buffer.allocUnsafe(n);
  return kept.length === n ? kept : kept.subarray(0, n);
}

function grow(buf: Buffer, have: number, r: RangeRead, at: number): Buffer {
  if (buf.length - 1 >= kMaxRecordBytes) {
    throw new ParseError(
      `${r.file}: a record starting at byte ${at} is longer than ${kMaxRecordBytes} bytes: is a quote left open?`,
      { details: { file: r.file, line: 0, column: 0, field: '', expected: 'a shorter record' } },
    );
  }
  const next = Buffer.allocUnsafe(Math.min(kMaxRecordBytes, (buf.length - 1) * 2) + 1);
  buf.copy(next, 0, 0, have);
  kept = next;
  return next;
}
