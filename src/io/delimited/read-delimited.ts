/**
 * `readDelimited`: delimited text files into SharedFrames, in parallel, straight into the shared
 * columns.
 *
 * The plan (every step bounded in memory; the frame is the only large allocation):
 * 1. On this thread, per file: the byte order mark, `skipRows`, the header (`text/prelude.ts`).
 * 2. Each file's data is cut into byte ranges ("parts"); a part owns the records that START in
 *    it (see `text/scan.ts` for the rule with quoted newlines).
 * Then each frame (one per file with `concat: false`, else one) goes through 3-7 on its own, so
 * the workers parse the first file while later ones are still being scanned:
 * 3. Scan, in workers (or on this thread while cold workers start): each part's record count (an
 *    upper bound, exact for ordinary files), its newlines (for line numbers) and, with quoting,
 *    its quote state.
 * 4. Measure, only with utf8 / category columns: each part's text bytes and labels, so the
 *    frame's string and dictionary regions are sized exactly.
 * 5. The frame is created with the counted capacity; each part gets its own row range.
 * 6. Parse, in workers: each part parses its records straight into its rows.
 * 7. On this thread: parts that held fewer records than counted (blank or bad lines) are moved
 *    down to close the gaps, and the length is published once. With the `hdf5` option, the
 *    finished frame is written to the HDF5 file now, while the workers parse the next frames.
 * Any failure closes the frames: nothing half-built stays in the heap.
 */
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import {
  AbortedError,
  InvalidArgumentError,
  decodeError,
  describe,
  type EncodedError,
} from '../../errors.js';
import type { Heap } from '../../heap/heap.js';
import type { SharedFrame } from '../../frame/shared-frame.js';
import type { SchemaOf } from '../../frame/schema-types.js';
import { resolveSchema, type SchemaSpec } from '../schema-spec.js';
import { resolveDialect, type Dialect, type DialectOptions } from '../text/dialect.js';
import type { BadLine } from '../text/engine.js';
import { fieldColumns, readPrelude, type Prelude } from '../text/prelude.js';
import { sniffDelimiter } from '../text/sniff.js';
import type { RangeScan } from '../text/scan.js';
import { ByteProgress, checkLoadProgress, type LoadProgress } from './progress.js';
import {
  scanRangeTask,
  type MeasureArgs,
  type MeasureResult,
  type ParseArgs,
  type ParseResult,
  type RangeArgs,
} from './tasks.js';
import { createRunner, type Runner } from './runner.js';
import { writeAtomically } from '../atomic.js';
import type { FrameColumns } from '../frame-columns.js';
import { NativeHDF5File } from '../hdf5/native-writer.js';
import { checkCompoundSchema, checkName, nativeCompound } from '../hdf5/write-hdf5.js';
import {
  createFrame,
  finishFrame,
  makeReport,
  planParts,
  type LoadReport,
  type Part,
} from './plan.js';

export type { BadLine } from '../text/engine.js';
export type { LoadProgress } from './progress.js';
export type { LoadReport } from './plan.js';

/**
 * Options of {@link readDelimited}. `Spec` is the type of `schema`: written as a literal (any of
 * its forms, numpy's text included), it types the frames (`col('pos')` is an Int32Array).
 */
export interface ReadDelimitedOptions<Spec extends SchemaSpec = SchemaSpec> extends DialectOptions {
  /**
   * Column names and dtypes, in file order (by name when `header` is true): `{ name: dtype }`,
   * `[name, dtype][]`, numpy's list (also as Python text, `"[('chr', 'S10'), ('pos', '<i4')]"`)
   * or `'chr:S10,pos:i4'`. dtypes: every SharedArray dtype, `utf8`, `category`.
   */
  schema: Spec;
  /** The first line (after `skipRows`, blank and comment lines) names the columns. @default false */
  header?: boolean;
  /** Lines to skip at the start of each file, comments included (np.loadtxt's `skiprows`). @default 0 */
  skipRows?: number;
  /**
   * Worker threads; 0 parses on this thread.
   * @default min(os.availableParallelism(), parts), or 0 for inputs under 2 MiB
   */
  workers?: number;
  /** Progress in bytes: `true` or a label draws a bar on stderr when it is a terminal. */
  progress?: LoadProgress;
  /** One frame for all files (true) or one per file (false). @default true */
  concat?: boolean;
  /**
   * A malformed line: `'error'` rejects with SHMFRAME_ERR_PARSE (file:line:column, field,
   * expected type); `'skip'` skips and counts it; a function skips it and is called with its
   * description (at most `maxBadLineSamples` per part are described, all are counted).
   * @default 'error'
   */
  onBadLine?: 'error' | 'skip' | ((bad: BadLine) => void);
  /** Called once with the load's figures (rows, bytes, bad lines, time). */
  onReport?: (report: LoadReport) => void;
  /** Bad lines described per part (the rest are only counted). @default 20 */
  maxBadLineSamples?: number;
  /** Heap for the frames. @default Heap.default() */
  heap?: Heap;
  /** Target size of the byte ranges files are split into. @default total / (4 x workers), 4 MiB to 256 MiB */
  partBytes?: number;
  /** Read buffer per worker, in bytes. @default 1 MiB */
  chunkBytes?: number;
  /** Aborts the load (SHMFRAME_ERR_ABORTED); nothing is left in the heap. */
  signal?: AbortSignal;
  /**
   * Also write the frames to one HDF5 file, each as soon as it is complete, while later files
   * are still parsing: a compound dataset per frame, as `writeHDF5` writes it (h5py reads seed
   * 004's structured dtype). Dataset names: `names`, else each file's name without its extension
   * (`concat: false`) or `'data'`. `direct`: see `writeHDF5`. The file appears (atomically)
   * only when the whole load succeeds. The frames are returned as usual.
   * @example await readDelimited(files, { schema, concat: false, hdf5: 'combined.h5' })
   */
  hdf5?: string | HDF5Output;
}

/** Where {@link ReadDelimitedOptions.hdf5} writes. */
export interface HDF5Output {
  path: string;
  /** One dataset name per frame. */
  names?: readonly string[];
  /** Direct I/O for the data (see `writeHDF5`). @default false */
  direct?: boolean;
}

/** Inputs smaller than this are parsed on the calling thread unless `workers` is given. */
const kLocalBytes = 2 << 20;
/** Inputs up to this size are scanned by the calling thread while the workers start. */
const kScanHereBytes = 256 << 20;

function checkOptions(
  paths: unknown,
  options: unknown,
): {
  files: string[];
  o: ReadDelimitedOptions;
} {
  const files = typeof paths === 'string' ? [paths] : paths;
  if (
    !Array.isArray(files) ||
    files.length === 0 ||
    files.some((p) => typeof p !== 'string' || p === '')
  )
    throw new InvalidArgumentError(
      `Expected \`paths\` to be a file path or a non-empty array of paths, got ${describe(paths)}`,
    );
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(
      `Expected options with a \`schema\`, e.g. readDelimited(path, { schema: { x: 'f8' } }), got ${describe(options)}`,
    );
  const o = options as ReadDelimitedOptions;
  if (o.schema === undefined)
    throw new InvalidArgumentError(
      "Expected `schema`: the columns' names and dtypes, e.g. { chr: 'S10', pos: 'i4' } or 'chr:S10,pos:i4'",
    );
  const int = (v: unknown, what: string, min: number): void => {
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min))
      throw new InvalidArgumentError(
        `Expected \`${what}\` to be an integer >= ${min}, got ${describe(v)}`,
      );
  };
  int(o.skipRows, 'skipRows', 0);
  int(o.workers, 'workers', 0);
  int(o.partBytes, 'partBytes', 1);
  int(o.chunkBytes, 'chunkBytes', 16);
  int(o.maxBadLineSamples, 'maxBadLineSamples', 0);
  if (
    o.onBadLine !== undefined &&
    o.onBadLine !== 'error' &&
    o.onBadLine !== 'skip' &&
    typeof o.onBadLine !== 'function'
  )
    throw new InvalidArgumentError(
      `Expected \`onBadLine\` to be 'error', 'skip' or a function, got ${describe(o.onBadLine)}`,
    );
  checkLoadProgress(o.progress);
  checkHDF5Output(o.hdf5, files as string[], o.concat !== false);
  return { files: files as string[], o };
}

function checkHDF5Output(h: unknown, files: string[], concat: boolean): void {
  if (h === undefined) return;
  const out = typeof h === 'string' ? { path: h } : h;
  if (
    typeof out !== 'object' ||
    out === null ||
    typeof (out as HDF5Output).path !== 'string' ||
    (out as HDF5Output).path === ''
  )
    throw new InvalidArgumentError(
      `Expected \`hdf5\` to be a file path or { path, names?, direct? }, got ${describe(h)}`,
    );
  const { names, direct } = out as HDF5Output;
  if (direct !== undefined && typeof direct !== 'boolean')
    throw new InvalidArgumentError(
      `Expected \`hdf5.direct\` to be true or false, got ${describe(direct)}`,
    );
  const want = concat ? 1 : files.length;
  if (
    names !== undefined &&
    (!Array.isArray(names) || names.length !== want || names.some((n) => typeof n !== 'string'))
  )
    throw new InvalidArgumentError(
      `Expected \`hdf5.names\` to be ${want} dataset name(s), one per frame, got ${describe(names)}`,
    );
  const all = datasetNames(out as HDF5Output, files, concat).map((n) => checkName(n));
  const twice = all.find((n, i) => all.indexOf(n) !== i);
  if (twice !== undefined)
    throw new InvalidArgumentError(
      `Two frames would be written to the HDF5 dataset ${twice}: name them with \`hdf5.names\``,
    );
}

function datasetNames(out: HDF5Output, files: string[], concat: boolean): string[] {
  if (out.names !== undefined) return [...out.names];
  return concat ? ['data'] : files.map((f) => basename(f, extname(f)));
}

/**
 * Reads delimited text files (TSV, CSV, whitespace-separated like np.loadtxt) into a SharedFrame,
 * parsing byte ranges of the files in parallel worker threads straight into the shared columns.
 *
 * @example
 * // seed 004: four genomic text files, one frame, then one HDF5 file
 * const frame = await readDelimited(['data1.txt', 'data2.txt'], {
 *   schema: [['chr', 'S10'], ['pos', '<i4'], ['pct', '<f4'], ['c', '<i4'], ['t', '<i4']],
 *   workers: 2,
 * });
 * await writeHDF5('combined.h5', { data: frame });
 * frame.close();
 */
export async function readDelimited<const Spec extends SchemaSpec>(
  paths: string | readonly string[],
  options: ReadDelimitedOptions<Spec> & { concat: false },
): Promise<Array<SharedFrame<SchemaOf<Spec>>>>;
export async function readDelimited<const Spec extends SchemaSpec>(
  paths: string | readonly string[],
  options: ReadDelimitedOptions<Spec> & { concat?: true },
): Promise<SharedFrame<SchemaOf<Spec>>>;
export async function readDelimited<const Spec extends SchemaSpec>(
  paths: string | readonly string[],
  options: ReadDelimitedOptions<Spec>,
): Promise<SharedFrame<SchemaOf<Spec>> | Array<SharedFrame<SchemaOf<Spec>>>>;
export async function readDelimited(
  paths: string | readonly string[],
  options: ReadDelimitedOptions,
): Promise<SharedFrame | SharedFrame[]> {
  const t0 = performance.now();
  const { files, o } = checkOptions(paths, options);
  const columns = resolveSchema(o.schema);
  const schemaPairs = columns.map((c) => [c.name, c.dtype] as [string, string]);
  if (o.hdf5 !== undefined) checkCompoundSchema('data', schemaPairs);
  const dialect = resolveDialect(
    o.delimiter === 'auto'
      ? {
          ...o,
          delimiter: sniffDelimiter(files[0] as string, {
            comment: o.comment === undefined ? '#' : o.comment,
            skipRows: o.skipRows ?? 0,
            columns: columns.length,
          }),
        }
      : o,
    files[0] as string,
  );
  const concat = o.concat !== false;
  const header = o.header === true;
  if (o.signal?.aborted) throw aborted(o.signal);

  // 1. Preludes.
  const preludes: Prelude[] = [];
  const maps: number[][] = [];
  for (const path of files) {
    const p = readPrelude(path, path, dialect, { header, skipRows: o.skipRows ?? 0 });
    preludes.push(p);
    maps.push(
      fieldColumns(
        schemaPairs.map((s) => s[0]),
        p.header,
        path,
      ),
    );
  }
  const totalBytes = preludes.reduce((s, p) => s + (p.size - p.dataStart), 0);

  // 2. Parts.
  const cpus = availableParallelism();
  const guess = Math.max(1, o.workers ?? cpus);
  const partBytes =
    o.partBytes ?? Math.min(256 << 20, Math.max(4 << 20, Math.ceil(totalBytes / (4 * guess))));
  const parts: Part[] = [];
  preludes.forEach((p, file) => {
    for (let s = p.dataStart; s < p.size || s === p.dataStart; s += partBytes) {
      parts.push({
        file,
        frame: concat ? 0 : file,
        start: s,
        end: Math.min(p.size, s + partBytes),
        state: 0,
        line: 0,
        records: 0,
        rowStart: 0,
        bytes: [],
        byteStart: [],
        labels: [],
      });
      if (s >= p.size) break;
    }
  });
  // Starting workers costs tens of milliseconds: small inputs are parsed on this thread.
  const workers = o.workers ?? (totalBytes < kLocalBytes ? 0 : Math.min(cpus, parts.length));
  const measure = columns.some((c) => c.kind !== 'fixed');
  const progress = new ByteProgress(o.progress, totalBytes * (measure ? 3 : 2));
  const control = new SharedArrayBuffer(4);
  new Int32Array(control)[0] = 0x7fffffff;
  const slots = new SharedArrayBuffer(8 * parts.length * 3);
  const slotView = new Float64Array(slots);
  const onAbort = (): void => {
    Atomics.store(new Int32Array(control), 0, -1);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setInterval(() => progress.update(slotView.reduce((a, b) => a + b, 0)), 100);
  timer.unref();
  const frames: SharedFrame[] = []; // frames[f], set as each is created
  let runner: Runner | undefined;
  try {
    runner = createRunner(workers, o.heap);
    const base = (part: Part, i: number, pass: number): RangeArgs => ({
      slot: pass * parts.length + i,
      progress: slots,
      path: files[part.file] as string,
      file: files[part.file] as string,
      schema: schemaPairs,
      fieldColumns: maps[part.file] as number[],
      delimiter: dialect.delimiter,
      quote: dialect.quote,
      comment: dialect.comment,
      nullValues: dialect.nullValues,
      start: part.start,
      end: part.end,
      size: (preludes[part.file] as Prelude).size,
      chunkBytes: o.chunkBytes,
      index: i,
      control,
    });
    // 3. Scan. Workers take tens to hundreds of milliseconds to start; scanning is fast (newlines
    // counted 16 bytes at a time), so for moderate inputs this thread scans everything while
    // they boot.
    // Workers that already run (a previous load's) scan in parallel instead.
    const scanHere = workers > 0 && totalBytes <= kScanHereBytes && !runner.warm();
    const scanned: Array<(RangeScan & { size: number }) | undefined> = scanHere
      ? parts.map((part, i) => scanRangeTask(base(part, i, 0)))
      : [];
    const onBadLine: ParseArgs['onBadLine'] =
      o.onBadLine === undefined || o.onBadLine === 'error' ? 'error' : 'skip';
    const maxSamples = o.maxBadLineSamples ?? (typeof o.onBadLine === 'function' ? 1000 : 20);
    const parsed: ParseResult[] = new Array<ParseResult>(parts.length);
    const active = runner;
    const all = async <T>(tasks: Array<Promise<T>>): Promise<T[]> => {
      // Every task settles before this returns (none is left writing into a frame).
      const settled = await Promise.allSettled(tasks);
      const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return settled.map((x) => (x as PromiseFulfilledResult<T>).value);
    };
    // Each frame (one per file with concat: false) goes through 3-7 on its own, so the workers
    // parse the first file while later files are still being scanned, and a finished frame can
    // be written (`hdf5`) while the others parse. Pool tasks run in the order they are sent.
    const nFrames = concat ? 1 : files.length;
    const partsOf: number[][] = Array.from({ length: nFrames }, () => []);
    parts.forEach((p, i) => partsOf[p.frame]?.push(i));
    const loadFrame = async (f: number, onFrame?: (f: number) => void): Promise<void> => {
      const idx = partsOf[f] as number[];
      const own = idx.map((i) => parts[i] as Part);
      const scans = await all(
        idx.map((i) =>
          scanned[i] !== undefined
            ? Promise.resolve(scanned[i] as RangeScan & { size: number })
            : active.run<RangeArgs, RangeScan & { size: number }>(
                'scan',
                base(parts[i] as Part, i, 0),
              ),
        ),
      );
      if (o.signal?.aborted) throw aborted(o.signal);
      planParts(own, scans, preludes, files);
      // 4. Measure.
      if (measure) {
        const measured = await all(
          idx.map((i) =>
            active.run<MeasureArgs, MeasureResult>('measure', {
              ...base(parts[i] as Part, i, 1),
              state: (parts[i] as Part).state,
              line: (parts[i] as Part).line,
            }),
          ),
        );
        if (o.signal?.aborted) throw aborted(o.signal);
        throwFirst(measured.map((m) => m.error));
        measured.forEach((m, k) => {
          const part = own[k] as Part;
          part.bytes = m.bytes;
          part.labels = m.labels;
        });
      }
      // 5. The frame.
      const frame = createFrame(columns, own, o.heap, files, f, concat);
      frames[f] = frame;
      // 6. Parse.
      const results = await all(
        idx.map((i) => {
          const part = parts[i] as Part;
          return active.run<ParseArgs, ParseResult>('parse', {
            ...base(part, i, measure ? 2 : 1),
            frame,
            state: part.state,
            line: part.line,
            rowStart: part.rowStart,
            rowEnd: part.rowStart + part.records,
            bytesStart: columns.map((_, c) => part.byteStart[c] ?? 0),
            bytesEnd: columns.map((_, c) => (part.byteStart[c] ?? 0) + (part.bytes[c] ?? 0)),
            onBadLine,
            maxSamples,
          });
        }),
      );
      results.forEach((r, k) => (parsed[idx[k] as number] = r));
      if (o.signal?.aborted) throw aborted(o.signal);
      throwFirst(results.map((r) => r.error));
      // 7. Close the gaps, publish.
      finishFrame(frame, parts, parsed, f, columns);
      onFrame?.(f);
    };
    // Every frame settles before this returns; the first failure in file order is thrown.
    const loadAll = (onFrame?: (f: number) => void): Promise<void[]> =>
      all(Array.from({ length: nFrames }, (_, f) => loadFrame(f, onFrame)));
    if (o.hdf5 === undefined) await loadAll();
    else {
      const out = typeof o.hdf5 === 'string' ? { path: o.hdf5 } : o.hdf5;
      const names = datasetNames(out, files, concat);
      await writeAtomically(out.path, async (temp) => {
        const file = new NativeHDF5File(temp, out.path, {
          direct: out.direct === true,
          expectedBytes: totalBytes,
        });
        const holds: FrameColumns[] = [];
        let writes: Promise<void> = Promise.resolve();
        try {
          await loadAll((f) => {
            writes = writes.then(() =>
              file.add(nativeCompound(names[f] as string, frames[f] as SharedFrame, holds)),
            );
            writes.catch(() => {}); // observed below, once every frame is loaded
          });
          await writes;
          file.finish();
        } finally {
          await writes.catch(() => {});
          for (const h of holds) h.release();
          file.abort();
        }
      });
    }
    const report = makeReport(files, preludes, parts, parsed, workers, t0);
    progress.stop(totalBytes * (measure ? 3 : 2));
    if (typeof o.onBadLine === 'function') for (const b of report.badLineSamples) o.onBadLine(b);
    o.onReport?.(report);
    return concat ? (frames[0] as SharedFrame) : frames;
  } catch (err) {
    frames.forEach((f) => f.close());
    progress.stop(0);
    throw err;
  } finally {
    clearInterval(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await runner?.close();
  }
}

function aborted(signal: AbortSignal): AbortedError {
  return new AbortedError('readDelimited was aborted through its `signal`; nothing was kept', {
    cause: signal.reason,
  });
}

function throwFirst(errors: ReadonlyArray<EncodedError | undefined>): void {
  const first = errors.find((e) => e !== undefined);
  if (first !== undefined) throw decodeError(first);
}

export type { Dialect };
