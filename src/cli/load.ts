/**
 * `shmframe load`: delimited text files -> one HDF5, Arrow, .npy or .npz file, parsed in parallel
 * worker threads straight into a shared frame (seed 004's whole script, as one command).
 * Exit codes: 0 done, 1 bad input or I/O (message on stderr), 2 usage.
 */
import { basename, extname } from 'node:path';
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ShmframeError } from '../errors.js';
import { Heap } from '../heap/heap.js';
import { formatBytes, parseSize } from '../util/size.js';
import type { SharedFrame } from '../frame/shared-frame.js';
import { readDelimited, type LoadReport } from '../io/delimited/read-delimited.js';
import { loadH5 } from '../io/hdf5/h5wasm.js';
import { ownWriterWrites, writeHDF5 } from '../io/hdf5/write-hdf5.js';

export const kLoadUsage = `Usage: shmframe load FILE... --schema SCHEMA --out OUT [options]

Parses delimited text files (TSV, CSV, whitespace-separated like np.loadtxt) in parallel worker
threads into one shared frame, then writes it to OUT.

Required:
  -s, --schema SCHEMA      columns in file order: 'chr:S10,pos:i4,pct:f4' or numpy's list
                           "[('chr','S10'),('pos','<i4')]"; dtypes: i1..i8 u1..u8 f4 f8 bool
                           S<n> M8[D|s|ms|us|ns] utf8 category
  -o, --out OUT            output file

Output:
  -f, --format FMT         h5 | arrow | npy | npz (default: from OUT's extension: .h5 .hdf5
                           .arrow .arrows .feather .npy .npz)
      --layout LAYOUT      HDF5 frames: compound (one dataset of records, as h5py writes a numpy
                           structured array; default) or columns (a group, one dataset per column)
      --dataset NAME       HDF5 dataset / .npz entry name (default: data)
      --per-file           one dataset per input file, named after the file (h5, npz)
      --compression LEVEL  gzip level 1-9 (h5), or deflate the entries (npz)
      --chunk-rows N       HDF5 rows per chunk (default: contiguous datasets, no chunks)
      --direct             write the HDF5 data with direct I/O (Linux O_DIRECT): little CPU,
                           no page cache; best on SSDs (see docs/io.md)

Parsing:
  -d, --delimiter D        tab, comma, space, whitespace (runs of spaces/tabs), auto (detected
                           from the first lines), or one character
                           (default: comma for .csv, tab for .tsv, else whitespace)
      --header             the first line names the columns (matched to the schema by name)
      --skip-rows N        lines to skip at the start of each file
      --comment C          comment character, or none (default: #)
      --quote C            quote character, or none (default: " for comma files)
      --null TEXT          a field text meaning null (repeatable)
      --on-bad-line MODE   error (default) or skip (skipped lines are counted and reported)
  -w, --workers N          worker threads (default: one per core, at most one per part)
      --heap-size SIZE     shared heap size (default: SHMFRAME_HEAP_SIZE or half the RAM)
  -q, --quiet              no progress bar, no summary
  -h, --help               this help

Examples:
  shmframe load data/*.txt --schema 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' --out combined.h5
  shmframe load data/*.txt -s 'chr:S10,pos:i4,pct:f4,c:i4,t:i4' -o combined.h5 --per-file -w 4
  shmframe load sales.csv --header -s 'date:M8[D],store:category,amount:f8' -o sales.arrow
  shmframe load big.tsv -s 'id:i8,x:f8,y:f8' -o big.npy --null NA --on-bad-line skip
`;

class UsageError extends Error {}

type Format = 'h5' | 'arrow' | 'npy' | 'npz';

function formatOf(out: string, given: string | undefined): Format {
  if (given !== undefined) {
    const f = given.toLowerCase();
    if (f === 'h5' || f === 'hdf5') return 'h5';
    if (f === 'arrow' || f === 'feather' || f === 'ipc') return 'arrow';
    if (f === 'npy' || f === 'npz') return f;
    throw new UsageError(`--format must be h5, arrow, npy or npz, got '${given}'`);
  }
  const ext = extname(out).toLowerCase();
  if (ext === '.h5' || ext === '.hdf5' || ext === '.he5') return 'h5';
  if (ext === '.arrow' || ext === '.arrows' || ext === '.feather' || ext === '.ipc') return 'arrow';
  if (ext === '.npy' || ext === '.npz') return ext.slice(1) as Format;
  throw new UsageError(
    `cannot tell the format of '${out}' from its extension: pass --format h5|arrow|npy|npz`,
  );
}

function charOption(v: string | undefined, what: string): string | null | undefined {
  if (v === undefined) return undefined;
  const named: Record<string, string | null> = {
    tab: '\t',
    '\\t': '\t',
    comma: ',',
    space: ' ',
    semicolon: ';',
    pipe: '|',
    whitespace: null,
    none: null,
  };
  if (v in named) return named[v];
  if (v === 'auto' && what === 'delimiter') return 'auto';
  if (v.length !== 1)
    throw new UsageError(
      `--${what} must be one character (or tab, comma, space, whitespace, none), got '${v}'`,
    );
  return v;
}

function intOption(v: string | undefined, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${what} must be an integer >= ${min}, got '${v}'`);
  return n;
}

function stemOf(path: string): string {
  const b = basename(path);
  const e = extname(b);
  return e === '' ? b : b.slice(0, -e.length);
}

export async function load(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        schema: { type: 'string', short: 's' },
        out: { type: 'string', short: 'o' },
        format: { type: 'string', short: 'f' },
        layout: { type: 'string' },
        dataset: { type: 'string' },
        'per-file': { type: 'boolean' },
        compression: { type: 'string' },
        'chunk-rows': { type: 'string' },
        direct: { type: 'boolean' },
        delimiter: { type: 'string', short: 'd' },
        header: { type: 'boolean' },
        'skip-rows': { type: 'string' },
        comment: { type: 'string' },
        quote: { type: 'string' },
        null: { type: 'string', multiple: true },
        'on-bad-line': { type: 'string' },
        workers: { type: 'string', short: 'w' },
        'heap-size': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const o = parsed.values;
  if (o.help === true) {
    process.stdout.write(kLoadUsage);
    return 0;
  }
  let plan;
  try {
    if (parsed.positionals.length === 0) throw new UsageError('no input files');
    if (o.schema === undefined) throw new UsageError('--schema is required');
    if (o.out === undefined) throw new UsageError('--out is required');
    const format = formatOf(o.out, o.format);
    const layout = o.layout ?? 'compound';
    if (layout !== 'compound' && layout !== 'columns')
      throw new UsageError(`--layout must be compound or columns, got '${layout}'`);
    if (o.layout !== undefined && format !== 'h5')
      throw new UsageError('--layout applies to HDF5 output only');
    if (o['per-file'] === true && format !== 'h5' && format !== 'npz')
      throw new UsageError('--per-file needs h5 or npz output (one dataset per file)');
    const badLine = o['on-bad-line'] ?? 'error';
    if (badLine !== 'error' && badLine !== 'skip')
      throw new UsageError(`--on-bad-line must be error or skip, got '${badLine}'`);
    const compression = intOption(o.compression, 'compression', 1);
    if (compression !== undefined && compression > 9)
      throw new UsageError('--compression must be 1-9');
    plan = {
      files: parsed.positionals,
      schema: o.schema,
      out: o.out,
      format,
      layout: layout as 'compound' | 'columns',
      dataset: o.dataset ?? 'data',
      perFile: o['per-file'] === true,
      compression,
      chunkRows: intOption(o['chunk-rows'], 'chunk-rows', 1),
      direct: o.direct === true,
      delimiter: charOption(o.delimiter, 'delimiter'),
      quote: charOption(o.quote, 'quote'),
      comment: charOption(o.comment, 'comment'),
      header: o.header === true,
      skipRows: intOption(o['skip-rows'], 'skip-rows', 0),
      nullValues: o.null,
      onBadLine: badLine as 'error' | 'skip',
      workers: intOption(o.workers, 'workers', 0),
      heapSize: o['heap-size'],
      quiet: o.quiet === true,
    };
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message);
    throw err;
  }
  try {
    return await run(plan);
  } catch (err) {
    const e = err as Error;
    process.stderr.write(
      `shmframe load: ${ShmframeError.isShmframeError(e) ? `${e.code}: ` : ''}${e.message}\n`,
    );
    return 1;
  }
}

function usage(message: string): number {
  process.stderr.write(`shmframe load: ${message}\nRun 'shmframe load --help' for the options.\n`);
  return 2;
}

interface Plan {
  files: string[];
  schema: string;
  out: string;
  format: Format;
  layout: 'compound' | 'columns';
  dataset: string;
  perFile: boolean;
  compression: number | undefined;
  chunkRows: number | undefined;
  direct: boolean;
  delimiter: string | null | undefined;
  quote: string | null | undefined;
  comment: string | null | undefined;
  header: boolean;
  skipRows: number | undefined;
  nullValues: string[] | undefined;
  onBadLine: 'error' | 'skip';
  workers: number | undefined;
  heapSize: string | undefined;
  quiet: boolean;
}

/** Dataset / entry names: --dataset, or with --per-file each file's stem (made unique). */
function datasetNames(p: Plan): string[] {
  if (!p.perFile) return [p.dataset];
  const out: string[] = [];
  for (const f of p.files) {
    let name = stemOf(f);
    while (out.includes(name)) name += '_';
    out.push(name);
  }
  return out;
}

async function run(p: Plan): Promise<number> {
  const heap =
    p.heapSize === undefined
      ? undefined
      : Heap.create({ size: parseSize(p.heapSize, 'heap-size') });
  let report: LoadReport | undefined;
  const names = datasetNames(p);
  // Uncompressed, unchunked compound HDF5: each frame is written by shmframe's own writer as soon
  // as it is parsed, while the workers parse the next files (no h5wasm).
  const streamed =
    p.format === 'h5' &&
    ownWriterWrites({ layout: p.layout, compression: p.compression, chunkRows: p.chunkRows });
  // Otherwise h5wasm takes ~150 ms to load (4 MB of JS and wasm): start it now, so that it loads
  // while the workers parse (the main thread mostly waits then). A failure is left for writeHDF5
  // to report, which loads it again and throws SHMFRAME_ERR_DEPENDENCY.
  if (p.format === 'h5' && !streamed) loadH5('writeHDF5').catch(() => undefined);
  const loaded = await readDelimited(p.files, {
    schema: p.schema,
    delimiter: p.delimiter,
    quote: p.quote,
    comment: p.comment,
    header: p.header,
    skipRows: p.skipRows,
    nullValues: p.nullValues,
    onBadLine: p.onBadLine,
    workers: p.workers,
    progress: p.quiet ? undefined : 'loading',
    concat: !p.perFile,
    heap,
    onReport: (r) => (report = r),
    hdf5: streamed ? { path: p.out, names, direct: p.direct } : undefined,
  });
  const frames: SharedFrame[] = Array.isArray(loaded) ? loaded : [loaded];
  try {
    const r = report as LoadReport;
    if (!p.quiet) {
      const mbps = r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0;
      process.stdout.write(
        `loaded ${r.rows} rows from ${r.files.length} file${r.files.length === 1 ? '' : 's'} (${formatBytes(r.bytes)}) in ${r.seconds.toFixed(2)} s: ` +
          `${mbps.toFixed(1)} MB/s, ${r.workers} worker${r.workers === 1 ? '' : 's'}, ${r.badLines} bad line${r.badLines === 1 ? '' : 's'}\n`,
      );
      for (const b of r.badLineSamples.slice(0, 5))
        process.stderr.write(`  skipped ${b.message}\n`);
      if (r.badLines > 5)
        process.stderr.write(
          `  ... and ${r.badLines - Math.min(5, r.badLineSamples.length)} more\n`,
        );
    }
    const t1 = performance.now();
    const named = (): Record<string, SharedFrame> =>
      Object.fromEntries(names.map((n, i) => [n, frames[i] as SharedFrame]));
    let what: string;
    if (p.format === 'h5') {
      // Streamed files were written during the load; the others are written now, by h5wasm.
      if (!streamed) {
        await writeHDF5(p.out, named(), {
          layout: p.layout,
          chunkRows: p.chunkRows,
          compression: p.compression,
          direct: p.direct,
        });
      }
      what = `${p.layout} dataset${names.length === 1 ? '' : 's'} ${names.map((n) => `"${n}"`).join(', ')}`;
    } else if (p.format === 'npz') {
      const { writeNpz } = await import('../io/npy/npz.js');
      const entries = named();
      await writeNpz(p.out, entries, { compress: p.compression !== undefined });
      what = `entries ${Object.keys(entries)
        .map((n) => `"${n}"`)
        .join(', ')}`;
    } else if (p.format === 'npy') {
      const { writeNpy } = await import('../io/npy/npy.js');
      await writeNpy(p.out, frames[0] as SharedFrame);
      what = 'a numpy structured array';
    } else {
      const { writeArrow } = await import('../io/arrow/arrow-ipc.js');
      await writeArrow(p.out, frames[0] as SharedFrame);
      what = 'an Arrow IPC table';
    }
    if (!p.quiet) {
      const s = (performance.now() - t1) / 1000;
      process.stdout.write(
        `wrote ${p.out} (${what}, ${formatBytes(statSync(p.out).size)}) ${streamed ? 'while loading' : `in ${s.toFixed(2)} s`}\n`,
      );
    }
    return 0;
  } finally {
    for (const f of frames) f.close();
  }
}
