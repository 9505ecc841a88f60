/**
 * The record parser: bytes of delimited text in, values written straight into column buffers.
 *
 * `parse(buf, pos, end, limit, eof)` works on a region whose last byte, `buf[end - 1]`, is a
 * newline (the driver guarantees it, adding one at end of file), so the fast path scans without
 * bounds checks: every unquoted field stops at a newline at the latest. The fast path handles
 * well-formed records (numbers parsed digit by digit as they are scanned, no strings); anything
 * unusual (a quote, a null value, surrounding spaces, a comment after the last field, a bad
 * value) sends the whole record to the general path, `#slowRecord`, which tokenizes with bounds
 * checks, unquotes, trims, checks null values, and either converts or reports the bad line.
 *
 * Record boundaries are exactly those of `scanState` in `scan.ts` (a newline outside quotes,
 * where every quote character toggles "inside quotes" and a comment runs to the newline), also
 * for malformed lines, so a file split into ranges parses exactly as it does in one piece.
 */
import { CorruptError, ParseError } from '../../errors.js';
import {
  convert,
  convertWhy,
  K_BYTES,
  K_CAT,
  K_GENERIC,
  K_SKIP,
  K_UTF8,
  restoreValid,
  storeNull,
  type FieldTarget,
} from './fields.js';
import { compileFastPath, type FastParse } from './compile.js';
import { delimiterHint } from './sniff.js';

/** Delimiter value meaning "runs of spaces and tabs" (np.loadtxt's default). */
export const kWhitespace = -1;

export interface ParserOptions {
  /** File name shown in messages. */
  file: string;
  /** Delimiter byte, or {@link kWhitespace}. */
  delimiter: number;
  /** Quote byte, or -1 for none. */
  quote: number;
  /** Comment byte, or -1 for none. */
  comment: number;
  /** Byte strings that mean null. */
  nullValues: readonly Uint8Array[];
  onBadLine: 'error' | 'skip';
  /** One target per field of a record, in file order. */
  fields: readonly FieldTarget[];
  /** Bad lines to describe in `samples` (the rest are only counted). @default 20 */
  maxSamples?: number;
}

/** A skipped bad line. */
export interface BadLine {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** `parse` consumed the region (more input may follow). */
export const kConsumed = 0;
/** The next record starts at or after `limit`: this parser is done. */
export const kLimit = 1;
/** A record (a quoted field) runs past the region: call again with more bytes. */
export const kIncomplete = 2;

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;

export class RecordParser {
  readonly #o: ParserOptions;
  /** File name in messages (a parser may parse parts of several files of one layout). */
  #file: string;
  readonly #nf: number;
  readonly #fast: FastParse;
  #rowStart: number;
  readonly #t: readonly FieldTarget[];
  readonly #delim: number;
  readonly #quote: number;
  readonly #comment: number;
  readonly #skip: boolean;
  #scratch = new Uint8Array(256);
  // Field content of the last token: in `buf` or in `#scratch` (when unescaped).
  #tokSrc: Uint8Array = this.#scratch;
  #tokS = 0;
  #tokE = 0;
  #tokNext = 0;

  /** Next row to write. */
  row: number;
  /** Rows may be written below this. */
  rowEnd: number;
  /** 1-based line number of the next record's first line. */
  line: number;
  badLines = 0;
  readonly samples: BadLine[] = [];
  status = kConsumed;
  #regionStart = 0;
  // utf8 cursors at the start of the record being written (row #snapRow): the fast path may
  // have stored some fields of a record before handing it to the slow path, which starts over.
  #snapRow = -1;
  readonly #snap: number[] = [];

  constructor(options: ParserOptions, rowStart: number, rowEnd: number, line: number) {
    this.#o = options;
    this.#file = options.file;
    this.#t = options.fields;
    this.#nf = options.fields.length;
    this.#delim = options.delimiter;
    this.#quote = options.quote;
    this.#comment = options.comment;
    this.#skip = options.onBadLine === 'skip';
    this.row = rowStart;
    this.rowEnd = rowEnd;
    this.line = line;
    this.#rowStart = rowStart;
    const fields = options.fields.map((t) => {
      let k = t.kind;
      if (t.nullFirst && k !== K_SKIP) k = K_GENERIC;
      if (t.kind === K_UTF8) k = t.measure ? K_GENERIC : K_UTF8;
      if (t.kind === K_CAT && t.data === undefined) k = K_GENERIC;
      return {
        kind: k,
        data: t.kind === K_UTF8 && t.measure ? undefined : t.data,
        width: t.width,
        target: t,
      };
    });
    this.#fast = compileFastPath(
      { delimiter: this.#delim, quote: this.#quote, comment: this.#comment, fields },
      this,
      {
        slow: (buf, rs, end, eof) => this.#slowRecord(buf, rs, end, eof),
        generic: (buf, pos, f, row) => this.#generic(buf, pos, f, row),
        blank: (buf, pos) => this.#blank(buf, pos),
        overflow: () => this.#overflow(),
      },
    );
  }

  /**
   * Parses the records that start in `buf[pos, limit)` and lie in `buf[pos, end)`;
   * `buf[end - 1]` must be a newline. Returns where it stopped; `status` says why.
   */
  parse(buf: Uint8Array, pos: number, end: number, limit: number, eof: boolean): number {
    this.#regionStart = pos;
    return this.#fast(buf, pos, end, limit, eof);
  }

  /**
   * Points the parser at a new range of rows (the next part of a file, in a worker that parses
   * several): the compiled fast path and its warm JIT state are kept. Targets' utf8 cursors
   * must be set by the caller.
   */
  reset(rowStart: number, rowEnd: number, line: number, file = this.#file): void {
    this.#file = file;
    this.#rowStart = rowStart;
    this.row = rowStart;
    this.rowEnd = rowEnd;
    this.line = line;
    this.badLines = 0;
    this.samples.length = 0;
    this.status = kConsumed;
    this.#snapRow = -1;
    for (const t of this.#t) t.overflow = false;
  }

  /** Records written so far. */
  get rows(): number {
    return this.row - this.#rowStart;
  }

  #blank(buf: Uint8Array, pos: number): number {
    let q = pos;
    const d0 = this.#delim;
    // Spaces and tabs, except the delimiter itself (a line of tabs in a TSV is a record).
    for (let c = buf[q]; (c === SP || c === TAB) && c !== d0; c = buf[q]) q++;
    const d = buf[q];
    if (d === LF) return q + 1;
    if (d === CR && buf[q + 1] === LF) return q + 2;
    if (d === this.#comment && d !== undefined) return buf.indexOf(LF, q) + 1;
    return -1;
  }

  /** Tokenizes the field at `pos` and converts it; the separator position, or -1 to go slow. */
  #generic(buf: Uint8Array, pos: number, f: number, row: number): number {
    const delim = this.#delim;
    const comment = this.#comment;
    const quote = this.#quote;
    const s = pos;
    let c: number;
    if (delim === kWhitespace) {
      while (
        (c = buf[pos] as number) !== SP &&
        c !== TAB &&
        c !== LF &&
        c !== CR &&
        c !== comment &&
        c !== quote
      )
        pos++;
    } else {
      while (
        (c = buf[pos] as number) !== delim &&
        c !== LF &&
        c !== CR &&
        c !== comment &&
        c !== quote
      )
        pos++;
    }
    if (c === quote) return -1;
    if (row !== this.#snapRow) this.#snapshot(row);
    const tf = this.#t[f] as FieldTarget;
    if (tf.nullFirst && this.#isNull(buf, s, pos)) storeNull(tf, row);
    else if (!convert(tf, buf, s, pos, row)) return -1;
    return pos;
  }

  #snapshot(row: number): void {
    this.#snapRow = row;
    const t = this.#t;
    for (let f = 0; f < t.length; f++) this.#snap[f] = (t[f] as FieldTarget).cursor;
  }

  /** Puts utf8 cursors back where they were when row `row` started. */
  #rewind(row: number): void {
    if (this.#snapRow !== row) return;
    const t = this.#t;
    for (let f = 0; f < t.length; f++) {
      const tf = t[f] as FieldTarget;
      tf.cursor = this.#snap[f] as number;
      tf.overflow = false;
    }
  }

  /**
   * Throws when a written record held more text than the measuring pass counted (only possible
   * if the file changed between the passes): its text was not stored.
   */
  checkComplete(): void {
    for (const t of this.#t) {
      if (t.overflow)
        throw new CorruptError(
          `${this.#file}: column ${JSON.stringify(t.name)} holds more text than was measured before parsing: did the file change while loading?`,
        );
    }
  }

  #overflow(): never {
    throw new CorruptError(
      `${this.#file}:${this.line}: more records than were counted for this part of the file: did the file change while loading?`,
    );
  }

  #isNull(src: Uint8Array, s: number, e: number): boolean {
    const n = e - s;
    for (const v of this.#o.nullValues) {
      if (v.length !== n) continue;
      let i = 0;
      while (i < n && v[i] === src[s + i]) i++;
      if (i === n) return true;
    }
    return false;
  }

  /**
   * Tokenizes the field at `pos`: sets `#tokSrc/#tokS/#tokE` (content) and `#tokNext` (the
   * separator after it). Returns 0, or -1 when a quoted field runs past `end`, or a positive
   * code for a malformed quote: 1 stray quote in an unquoted field, 2 text after a closing quote.
   */
  #token(buf: Uint8Array, pos: number, end: number): number {
    const delim = this.#delim;
    const ws = delim === kWhitespace;
    const quote = this.#quote;
    const comment = this.#comment;
    if (quote >= 0 && buf[pos] === quote) {
      let p = pos + 1;
      let out = 0;
      let escaped = false;
      for (;;) {
        if (p >= end) return -1;
        const c = buf[p] as number;
        if (c === quote) {
          if (p + 1 >= end) return -1;
          if (buf[p + 1] === quote) {
            if (!escaped) {
              escaped = true;
              out = this.#copyScratch(buf, pos + 1, p, 0);
            }
            out = this.#copyScratch(buf, p, p + 1, out);
            p += 2;
            continue;
          }
          break;
        }
        if (escaped) out = this.#copyScratch(buf, p, p + 1, out);
        p++;
      }
      // p is the closing quote.
      if (escaped) {
        this.#tokSrc = this.#scratch;
        this.#tokS = 0;
        this.#tokE = out;
        this.#scratch[out] = 0;
      } else {
        this.#tokSrc = buf;
        this.#tokS = pos + 1;
        this.#tokE = p;
      }
      p++;
      const c = buf[p];
      if (c === delim || c === LF || c === CR || c === comment || (ws && (c === SP || c === TAB))) {
        this.#tokNext = p;
        return 0;
      }
      this.#tokNext = p;
      return 2;
    }
    let p = pos;
    let c: number;
    if (ws) {
      while (
        (c = buf[p] as number) !== SP &&
        c !== TAB &&
        c !== LF &&
        c !== CR &&
        c !== comment &&
        c !== quote
      )
        p++;
    } else {
      while (
        (c = buf[p] as number) !== delim &&
        c !== LF &&
        c !== CR &&
        c !== comment &&
        c !== quote
      )
        p++;
    }
    this.#tokSrc = buf;
    this.#tokS = pos;
    this.#tokE = p;
    this.#tokNext = p;
    if (c === quote) {
      // Find where the field would have ended, for the message.
      return 1;
    }
    return 0;
  }

  #copyScratch(buf: Uint8Array, s: number, e: number, at: number): number {
    const n = e - s;
    if (at + n + 1 > this.#scratch.length) {
      let cap = this.#scratch.length * 2;
      while (cap < at + n + 1) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#scratch.subarray(0, at));
      this.#scratch = next;
    }
    this.#scratch.set(buf.subarray(s, e), at);
    return at + n;
  }

  /**
   * The general path for one record starting at `rs`: returns the position after it, or -1 when
   * it runs past `end` (more bytes needed). Writes the row, or reports / skips the bad line.
   */
  #slowRecord(buf: Uint8Array, rs: number, end: number, eof: boolean): number {
    const nf = this.#nf;
    const t = this.#t;
    const delim = this.#delim;
    const ws = delim === kWhitespace;
    const comment = this.#comment;
    const row = this.row;
    if (this.#snapRow === row) this.#rewind(row);
    else this.#snapshot(row);
    let pos = rs;
    for (let f = 0; f < nf; f++) {
      const fs = pos;
      const r = this.#token(buf, pos, end);
      if (r < 0) {
        if (!eof) return -1;
        return this.#bad(
          buf,
          rs,
          fs,
          end,
          eof,
          f,
          'a closing quote',
          'an unterminated quoted field',
        );
      }
      if (r === 1)
        return this.#bad(
          buf,
          rs,
          this.#tokNext,
          end,
          eof,
          f,
          `no quote character inside an unquoted field (RFC 4180)`,
          'a stray quote',
          `quote the whole field, or pass quote: null to read quotes as text`,
        );
      if (r === 2)
        return this.#bad(
          buf,
          rs,
          this.#tokNext,
          end,
          eof,
          f,
          'a delimiter or the end of the line after a closing quote',
          JSON.stringify(String.fromCharCode(buf[this.#tokNext] as number)),
        );
      const tf = t[f] as FieldTarget;
      let s = this.#tokS;
      let e = this.#tokE;
      const src = this.#tokSrc;
      if (tf.kind !== K_BYTES && tf.kind !== K_UTF8 && tf.kind !== K_CAT && tf.kind !== K_SKIP) {
        while (s < e && (src[s] === SP || src[s] === TAB)) s++;
        while (e > s && (src[e - 1] === SP || src[e - 1] === TAB)) e--;
      }
      if (this.#isNull(src, s, e)) {
        storeNull(tf, row);
      } else if (!convert(tf, src, s, e, row)) {
        const why = convertWhy;
        return this.#bad(
          buf,
          rs,
          fs,
          end,
          eof,
          f,
          tf.dtype,
          `${JSON.stringify(decodeText(src, s, e))}${why === '' ? '' : `: ${why}`}`,
          undefined,
          decodeText(src, s, e),
        );
      }
      pos = this.#tokNext;
      let c = buf[pos] as number;
      if (f < nf - 1) {
        if (c === delim) {
          pos++;
          continue;
        }
        if (ws && (c === SP || c === TAB)) {
          do pos++;
          while ((c = buf[pos] as number) === SP || c === TAB);
          if (c !== LF && c !== CR && c !== comment && pos < end) continue;
        }
        return this.#bad(buf, rs, pos, end, eof, -1, `${nf} fields`, `${f + 1}`);
      }
      // After the last field: optional spaces, a comment, then the newline.
      while ((c = buf[pos] as number) === SP || c === TAB) pos++;
      if (c === comment) {
        pos = buf.indexOf(LF, pos);
        c = LF;
      }
      if (c === CR && buf[pos + 1] === LF) pos++;
      else if (c !== LF) return this.#bad(buf, rs, pos, end, eof, -2, `${nf} fields`, 'more');
      pos++;
    }
    this.line += countLF(buf, rs, pos);
    for (const tf of t)
      if (tf.kind === K_UTF8 && !tf.measure) (tf.data as Int32Array)[row + 1] = tf.cursor;
    this.row = row + 1;
    return pos;
  }

  /**
   * A bad record: throws a ParseError, or (onBadLine 'skip') counts it, undoes what it wrote,
   * and returns the position after it (or -1 when its end is not in the region yet).
   * `f` is the field index, -1 for too few fields, -2 for too many.
   */
  #bad(
    buf: Uint8Array,
    rs: number,
    at: number,
    end: number,
    eof: boolean,
    f: number,
    expected: string,
    got: string,
    fix?: string,
    text = '',
  ): number {
    // The end of this record, as scanState sees it (every quote toggles).
    const recEnd = this.#recordEnd(buf, rs, end);
    if (recEnd < 0 && !eof) return -1;
    const line = this.line + countLF(buf, rs, at);
    const column = columnOf(buf, this.#regionStart, at);
    const t = f >= 0 ? this.#t[f] : undefined;
    const where = `${this.#file}:${line}:${column}`;
    let message: string;
    if (f === -1) message = `${where}: expected ${expected}, got ${got}: the line ends early`;
    else if (f === -2)
      message = `${where}: expected ${expected}, got ${got}: an extra field starts here`;
    else
      message = `${where}: expected ${expected} for column ${JSON.stringify(t?.name)} (field ${f + 1}), got ${got}`;
    if (fix !== undefined) message += `; ${fix}`;
    // The usual cause of a wrong field count or an odd field: another delimiter than the file's.
    const lineEnd = recEnd < 0 ? end : recEnd;
    const hint = delimiterHint(
      decodeText(buf, rs, lineEnd).replace(/\r?\n$/, ''),
      this.#delim,
      this.#nf,
      f === -1 && got === '1',
      f >= 0 ? text : undefined,
    );
    if (hint !== undefined)
      message = `${where}: ${hint}. Read that way: ${message.slice(where.length + 2)}`;
    if (!this.#skip) {
      throw new ParseError(message, {
        details: {
          file: this.#file,
          line,
          column,
          field: text,
          expected,
          columnName: t?.name ?? '',
          fieldIndex: f,
        },
      });
    }
    this.badLines++;
    if (this.samples.length < (this.#o.maxSamples ?? 20))
      this.samples.push({ file: this.#file, line, column, message });
    // Undo: the row will be rewritten by the next record; restore validity and utf8 cursors.
    const row = this.row;
    for (const tf of this.#t) restoreValid(tf, row);
    this.#rewind(row);
    const next = recEnd < 0 ? end : recEnd;
    this.line += countLF(buf, rs, next);
    return next;
  }

  /** Position after the newline ending the record at `rs` (every quote toggles), or -1. */
  #recordEnd(buf: Uint8Array, rs: number, end: number): number {
    const quote = this.#quote;
    const comment = this.#comment;
    let inQuote = false;
    let inComment = false;
    for (let p = rs; p < end; p++) {
      const c = buf[p];
      if (c === LF) {
        if (!inQuote) return p + 1;
      } else if (inComment) {
        continue;
      } else if (c === quote) {
        inQuote = !inQuote;
      } else if (c === comment && !inQuote) {
        inComment = true;
      }
    }
    return -1;
  }
}

function countLF(buf: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) if (buf[i] === LF) n++;
  return n;
}

/** 1-based column (in characters) of `at` on its line (which starts after the last LF before it). */
function columnOf(buf: Uint8Array, floor: number, at: number): number {
  let ls = floor;
  for (let i = at - 1; i >= floor; i--) {
    if (buf[i] === LF) {
      ls = i + 1;
      break;
    }
  }
  let col = 1;
  for (let i = ls; i < at; i++) if (((buf[i] as number) & 0xc0) !== 0x80) col++;
  return col;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A field's text for a message (at most 60 characters). */
export function decodeText(src: Uint8Array, s: number, e: number): string {
  const text = decoder.decode(src.subarray(s, Math.min(e, s + 240)));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
