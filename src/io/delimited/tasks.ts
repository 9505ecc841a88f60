/**
 * The three passes of a delimited load over one byte range of one file. They run in pool workers
 * (`../entry/delimited-worker.ts` exports them) or, with `workers: 0`, in the calling thread.
 *
 * - scan: record and newline counts, quote/comment state transfer (see `text/scan.ts`);
 * - measure (only for utf8 / category columns): bytes of text and the distinct labels, so the
 *   frame's string and dictionary regions can be sized exactly before anything is written;
 * - parse: records straight into the frame's columns, rows [rowStart, rowEnd).
 *
 * Parse errors are returned, not thrown, so the loader can report the first one in file order
 * whatever the timing; a shared cell tells later ranges to stop once an earlier one failed.
 */
import { encodeError, type EncodedError } from '../../errors.js';
import type { SharedFrame } from '../../frame/shared-frame.js';
import { ByteDict } from '../text/byte-dict.js';
import { RecordParser, type BadLine } from '../text/engine.js';
import { closeQuietly, openRead } from '../text/file.js';
import { firstRecord, readRange, type RangeRead } from '../text/reader.js';
import { scanFileRange, type RangeScan } from '../text/scan.js';
import { buildTargets, type ColumnBuffers } from '../text/targets.js';
import { resolveSchema } from '../schema-spec.js';
import { openFrame, type FrameAccess } from './frame-access.js';
import { K_UTF8, type FieldTarget } from '../text/fields.js';

/** What every pass needs to know about the file and its dialect. */
export interface RangeArgs {
  path: string;
  /** Name shown in messages. */
  file: string;
  schema: Array<[string, string]>;
  /** Schema column of each field of this file (-1: skipped). */
  fieldColumns: number[];
  delimiter: number;
  quote: number;
  comment: number;
  nullValues: string[];
  start: number;
  end: number;
  size: number;
  chunkBytes?: number;
  /** Index of this range in file order (errors are reported in this order). */
  index: number;
  /** Float64 slots of bytes done, and this task's slot in them. */
  progress?: SharedArrayBuffer;
  slot?: number;
  /** Int32 cell 0: the lowest range index that failed (ranges after it stop); -1 aborts all. */
  control?: SharedArrayBuffer;
}

export interface ParseArgs extends RangeArgs {
  frame: SharedFrame;
  /** Scan state at `start` and the line number there. */
  state: number;
  line: number;
  rowStart: number;
  rowEnd: number;
  /** Per column: where this range's utf8 text starts and must end (0 for other columns). */
  bytesStart: number[];
  bytesEnd: number[];
  onBadLine: 'error' | 'skip';
  /** Bad lines to describe (the rest are counted). */
  maxSamples: number;
}

export interface MeasureArgs extends RangeArgs {
  state: number;
  line: number;
}

export interface ParseResult {
  rows: number;
  badLines: number;
  samples: BadLine[];
  error: EncodedError | undefined;
}

export interface MeasureResult {
  /** Per column: utf8 bytes, or the labels in order of first appearance (category). */
  bytes: number[];
  labels: Array<string[] | undefined>;
  error: EncodedError | undefined;
}

/** Thrown (and caught) to stop a range after an earlier one failed. */
class Stop extends Error {}

function progressOf(a: RangeArgs): (n: number) => void {
  const slots = a.progress === undefined ? undefined : new Float64Array(a.progress);
  const control = a.control === undefined ? undefined : new Int32Array(a.control);
  let done = 0;
  return (n) => {
    done += n;
    if (slots !== undefined) slots[a.slot ?? a.index] = done;
    if (control !== undefined && Atomics.load(control, 0) < a.index) throw new Stop();
  };
}

function fail(a: RangeArgs, err: unknown): EncodedError {
  if (a.control !== undefined) {
    const control = new Int32Array(a.control);
    for (;;) {
      const cur = Atomics.load(control, 0);
      if (cur <= a.index || Atomics.compareExchange(control, 0, cur, a.index) === cur) break;
    }
  }
  return encodeError(err);
}

/** Pass 1. */
export function scanRangeTask(a: RangeArgs): RangeScan & { size: number } {
  const scan = scanFileRange(
    a.path,
    a.start,
    a.end,
    { quote: a.quote, comment: a.comment, chunkBytes: a.chunkBytes },
    a.progress === undefined ? undefined : progressOf(a),
  );
  return scan;
}

function rangeRead(a: RangeArgs & { state: number }, fd: number): RangeRead {
  return {
    fd,
    path: a.path,
    file: a.file,
    start: a.start,
    end: a.end,
    size: a.size,
    state: a.state,
    quote: a.quote,
    comment: a.comment,
    chunkBytes: a.chunkBytes,
  };
}

/** Pass 1b: utf8 bytes and category labels. */
export function measureRangeTask(a: MeasureArgs): MeasureResult {
  const columns = resolveSchema(a.schema);
  const buffers: ColumnBuffers[] = columns.map((c) => ({
    data: undefined,
    validity: undefined,
    dict: c.kind === 'category' ? new ByteDict() : undefined,
  }));
  const targets = buildTargets(columns, a.fieldColumns, buffers, a.nullValues, true);
  const parser = new RecordParser(
    {
      file: a.file,
      delimiter: a.delimiter,
      quote: a.quote,
      comment: a.comment,
      nullValues: a.nullValues.map((v) => Buffer.from(v, 'utf8')),
      onBadLine: 'skip',
      fields: targets,
      maxSamples: 0,
    },
    0,
    Number.MAX_SAFE_INTEGER,
    a.line,
  );
  const bytes = columns.map(() => 0);
  const labels: Array<string[] | undefined> = columns.map(() => undefined);
  let fd = -1;
  try {
    fd = openRead(a.path);
    const r = rangeRead(a, fd);
    const first = firstRecord(r);
    parser.line = a.line + first.lf;
    if (first.pos >= 0) readRange(r, first.pos, parser, progressOf(a));
  } catch (err) {
    if (err instanceof Stop) return { bytes, labels, error: undefined };
    return { bytes, labels, error: fail(a, err) };
  } finally {
    if (fd >= 0) closeQuietly(fd);
  }
  targets.forEach((t, f) => {
    const c = a.fieldColumns[f] as number;
    if (c < 0) return;
    if (t.measure) bytes[c] = t.cursor;
    if (t.dict !== undefined) labels[c] = t.dict.values();
  });
  return { bytes, labels, error: undefined };
}

/**
 * Per worker: the parsers of the loads in progress, keyed by frame block and file layout, so
 * the parts a worker parses share one compiled (and JIT-warmed) fast path.
 */
const parsers = new Map<string, { parser: RecordParser; targets: FieldTarget[] }>();

function parserFor(
  a: ParseArgs,
  access: FrameAccess,
): { parser: RecordParser; targets: FieldTarget[] } {
  const key = JSON.stringify([
    access.key,
    a.schema,
    a.fieldColumns,
    a.delimiter,
    a.quote,
    a.comment,
    a.nullValues,
    a.onBadLine,
    a.maxSamples,
  ]);
  const hit = parsers.get(key);
  if (hit !== undefined) return hit;
  const columns = resolveSchema(a.schema);
  const store = access.store;
  const buffers: ColumnBuffers[] = columns.map((c, i) => {
    const col = store.column(i);
    return {
      data: col.data,
      validity: col.valid8,
      bytes: col.bytes,
      dict: c.kind === 'category' ? ByteDict.from(col.dict?.labels() ?? []) : undefined,
    };
  });
  const targets = buildTargets(columns, a.fieldColumns, buffers, a.nullValues);
  const parser = new RecordParser(
    {
      file: a.file,
      delimiter: a.delimiter,
      quote: a.quote,
      comment: a.comment,
      nullValues: a.nullValues.map((v) => Buffer.from(v, 'utf8')),
      onBadLine: a.onBadLine,
      fields: targets,
      maxSamples: a.maxSamples,
    },
    a.rowStart,
    a.rowEnd,
    a.line,
  );
  // Entries of finished loads are dropped as new ones come (the key includes the frame block,
  // whose generation changes when its memory is reused).
  if (parsers.size >= 16) parsers.delete(parsers.keys().next().value as string);
  const entry = { parser, targets };
  parsers.set(key, entry);
  return entry;
}

/** Pass 2. */
export function parseRangeTask(a: ParseArgs): ParseResult {
  const access = openFrame(a.frame);
  let fd = -1;
  let parser: RecordParser | undefined;
  try {
    const entry = parserFor(a, access);
    parser = entry.parser;
    parser.reset(a.rowStart, a.rowEnd, a.line, a.file);
    for (const t of entry.targets) {
      const c = a.fieldColumns[entry.targets.indexOf(t)] as number;
      if (c < 0 || t.kind !== K_UTF8) continue;
      t.cursor = a.bytesStart[c] as number;
      t.bytesEnd = a.bytesEnd[c] as number;
      (t.data as Int32Array)[a.rowStart] = t.cursor;
    }
    fd = openRead(a.path);
    const r = rangeRead(a, fd);
    const first = firstRecord(r);
    parser.line = a.line + first.lf;
    if (first.pos >= 0) readRange(r, first.pos, parser, progressOf(a));
    parser.checkComplete();
    return {
      rows: parser.rows,
      badLines: parser.badLines,
      samples: parser.samples.slice(),
      error: undefined,
    };
  } catch (err) {
    const rows = parser?.rows ?? 0;
    const error = err instanceof Stop ? undefined : fail(a, err);
    return { rows, badLines: parser?.badLines ?? 0, samples: parser?.samples.slice() ?? [], error };
  } finally {
    if (fd >= 0) closeQuietly(fd);
    access.release();
  }
}
