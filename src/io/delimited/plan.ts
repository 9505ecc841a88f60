/**
 * The bookkeeping of a load on the calling thread: the parts of each file (from the scans), the
 * frames sized from the counts and measurements, closing the gaps once the workers are done,
 * and the report.
 */
import { InvalidArgumentError, ShapeError } from '../../errors.js';
import type { Heap } from '../../heap/heap.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import { kMaxRows } from '../../frame/schema.js';
import type { ColumnSpec } from '../schema-spec.js';
import { ByteDict } from '../text/byte-dict.js';
import type { BadLine } from '../text/engine.js';
import type { Prelude } from '../text/prelude.js';
import { chainStates, type RangeScan } from '../text/scan.js';
import { commitRows, moveRowsCompact, openFrame, setValidRange } from './frame-access.js';
import type { ParseResult } from './tasks.js';

/** What a load did. */
export interface LoadReport {
  rows: number;
  /** Bytes of input. */
  bytes: number;
  badLines: number;
  /** Descriptions of the first bad lines (see `maxBadLineSamples`). */
  badLineSamples: BadLine[];
  files: Array<{ path: string; rows: number; bytes: number; badLines: number }>;
  parts: number;
  workers: number;
  seconds: number;
}

/** One byte range of one file. */
export interface Part {
  file: number;
  frame: number;
  start: number;
  end: number;
  scan?: RangeScan;
  state: number;
  line: number;
  records: number;
  rowStart: number;
  /** Per column: measured utf8 bytes, where they start in the frame's text region, labels. */
  bytes: number[];
  byteStart: number[];
  labels: Array<string[] | undefined>;
}

/** Start states, line numbers and record counts of every part, from the scans. */
export function planParts(
  parts: Part[],
  scans: ReadonlyArray<RangeScan & { size: number }>,
  preludes: Prelude[],
  files: string[],
): void {
  let i = 0;
  while (i < parts.length) {
    const file = (parts[i] as Part).file;
    let j = i;
    while (j < parts.length && (parts[j] as Part).file === file) j++;
    const p = preludes[file] as Prelude;
    const fileScans = scans.slice(i, j);
    for (const s of fileScans)
      if (s.size !== p.size)
        throw new InvalidArgumentError(
          `${JSON.stringify(files[file])} changed size while loading (${p.size} then ${s.size} bytes)`,
        );
    const { states, records } = chainStates(fileScans);
    let line = p.line;
    for (let k = i; k < j; k++) {
      const part = parts[k] as Part;
      part.scan = fileScans[k - i];
      part.state = states[k - i] as number;
      part.records = records[k - i] as number;
      part.line = line;
      line += (part.scan as RangeScan).lf;
    }
    i = j;
  }
}

export function createFrame(
  columns: readonly ColumnSpec[],
  parts: Part[],
  heap: Heap | undefined,
  files: string[],
  f: number,
  concat: boolean,
): SharedFrame {
  let capacity = 0;
  for (const part of parts) {
    part.rowStart = capacity;
    capacity += part.records;
  }
  const what = concat ? `${files.length} file(s)` : JSON.stringify(files[f]);
  if (capacity > kMaxRows)
    throw new ShapeError(
      `${what} hold up to ${capacity} records, more than a frame's ${kMaxRows} rows: load them with concat: false or in groups`,
    );
  const stringBytes: Record<string, number> = {};
  const categories: Record<string, number> = {};
  const categoryBytes: Record<string, number> = {};
  const dicts: Array<ByteDict | undefined> = columns.map((c) =>
    c.kind === 'category' ? new ByteDict() : undefined,
  );
  columns.forEach((c, ci) => {
    if (c.kind === 'utf8') {
      let total = 0;
      for (const part of parts) {
        if (part.byteStart.length === 0) part.byteStart = columns.map(() => 0);
        part.byteStart[ci] = total;
        total += part.bytes[ci] ?? 0;
      }
      if (total > kMaxRows)
        throw new ShapeError(
          `Column ${JSON.stringify(c.name)} of ${what} holds ${total} bytes of text, more than a utf8 column's ${kMaxRows}: use 'category' or load fewer rows per frame`,
        );
      stringBytes[c.name] = Math.max(64, total);
    } else if (c.kind === 'category') {
      const d = dicts[ci] as ByteDict;
      for (const part of parts)
        for (const label of part.labels[ci] ?? []) {
          const b = Buffer.from(label, 'utf8');
          d.intern(b, 0, b.length);
        }
      categories[c.name] = Math.max(1, d.size);
      categoryBytes[c.name] = Math.max(64, d.byteLength);
    }
  });
  const frame = SharedFrame.create(
    columns.map((c) => [c.name, c.dtype] as [string, string]),
    { capacity, heap, stringBytes, categories, categoryBytes },
  );
  try {
    const access = openFrame(frame);
    try {
      const store = access.store;
      columns.forEach((c, ci) => {
        const col = store.column(ci);
        setValidRange(col, 0, capacity);
        const d = dicts[ci];
        if (d !== undefined)
          for (const label of d.values()) col.dict?.codeOf(label, `column ${c.name}`);
      });
    } finally {
      access.release();
    }
    return frame;
  } catch (err) {
    frame.close();
    throw err;
  }
}

export function finishFrame(
  frame: SharedFrame,
  parts: Part[],
  parsed: ParseResult[],
  f: number,
  columns: readonly ColumnSpec[],
): void {
  const access = openFrame(frame);
  try {
    const store = access.store;
    let cursor = 0;
    const byteCursor = columns.map(() => 0);
    parts.forEach((part, i) => {
      if (part.frame !== f) return;
      const rows = (parsed[i] as ParseResult).rows;
      moveRowsCompact(store, part.rowStart, cursor, rows, byteCursor);
      cursor += rows;
    });
    commitRows(store, cursor);
  } finally {
    access.release();
  }
}

export function makeReport(
  files: string[],
  preludes: Prelude[],
  parts: Part[],
  parsed: ParseResult[],
  workers: number,
  t0: number,
): LoadReport {
  const perFile = files.map((path, i) => ({
    path,
    rows: 0,
    bytes: (preludes[i] as Prelude).size,
    badLines: 0,
  }));
  const samples: BadLine[] = [];
  parts.forEach((part, i) => {
    const r = parsed[i] as ParseResult;
    const pf = perFile[part.file] as LoadReport['files'][number];
    pf.rows += r.rows;
    pf.badLines += r.badLines;
    samples.push(...r.samples);
  });
  return {
    rows: perFile.reduce((s, f) => s + f.rows, 0),
    bytes: perFile.reduce((s, f) => s + f.bytes, 0),
    badLines: perFile.reduce((s, f) => s + f.badLines, 0),
    badLineSamples: samples,
    files: perFile,
    parts: parts.length,
    workers,
    seconds: (performance.now() - t0) / 1000,
  };
}
