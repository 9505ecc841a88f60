/**
 * `shmframe demo` (what `npm start` runs): seed 002's story end to end on generated data. A
 * 1000 x 1000 f8 frame indexed by row labels (`--full`: the seed's 1000 x 5000, 250 tasks); the
 * row transform run sequentially, through a pool
 * that structured-clones the frame in and the result out (what every other Node pool does), and
 * through shmframe's Pool passing the shared frame and returning SharedArrays; then the
 * producer-consumer pipeline at a reduced size; then one comparison table and where the memory
 * went. Bars and colour on a terminal; plain lines when piped.
 * Exit codes: 0 done, 1 a check failed (results differ, memory not freed), 2 usage.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Heap } from '../heap/heap.js';
import { formatBytes } from '../util/size.js';
import { runPipeline, type PipelineReport, type PipelineSize } from './demo-pipeline.js';
import { Output, Recorder, formatSeconds, renderTable, type PhaseResult } from './demo-report.js';
import { buildFrame, lcg, runCloned, runSequential, runShared } from './demo-transform.js';

/** The text of `shmframe demo --help`. */
export const kDemoUsage = `Usage: shmframe demo [options]        (npm start)

Runs seed 002 on generated data: builds a 1000 x 1000 f8 frame indexed by row labels, runs the
row transform (a random matrix the frame's size per task, its row means, their outer product with
the frame's row: a result the frame's size) sequentially, through a pool that structured-clones
the frame in and the result out, and through shmframe's Pool (the frame by handle, SharedArray
results), then a producer-consumer pipeline (cameras -> bounded SharedQueue -> matchers). Prints
one table (time, speed-up, peak RSS, bytes copied) and where the shared memory went. The default
size keeps the whole run well under 30 s on a busy 2-core machine; --full runs the seed's size.

Options:
  -t, --tasks N        rows transformed by each method (default 40; --full: the seed's 250)
  -w, --workers N      pool workers (default: one per core)
      --rows N         frame rows (default 1000)
      --cols N         frame columns (default 1000; --full: the seed's 5000)
      --full           the seed's size: a 1000 x 5000 frame, 250 tasks, and the pipeline's 5
                       cameras x 72 frames of 5000 x 250 descriptors, a queue of 50, 2 s put
                       timeouts, captures of up to 1 s (minutes; the cloning pool dominates)
  -q, --quick          a few seconds: a 200 x 1000 frame, 8 tasks, a small pipeline
      --no-clone       skip the cloning pool (the slowest part)
      --no-pipeline    skip the producer-consumer pipeline
      --plain          no progress bars and no colour, even on a terminal
      --progress-every S   seconds between progress lines when piped (default 3)
      --color          colour even when not on a terminal (--no-color: never)
  -h, --help           this help

Bars and colour appear only when stdout and stderr are terminals: \`npm start | cat\` prints
plain lines, with a progress line every 3 s during a long phase. NO_COLOR=1 turns colour off. Peak RSS is the process's (all threads, the shared
heap's touched pages included), per phase.

Examples:
  npm start
  npx shmframe demo --quick
  npm start -- --full
  npx shmframe demo --tasks 250 --workers 2
`;

class UsageError extends Error {}

function positive(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

function seconds(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number of seconds, got '${v}'`);
  return n;
}

interface Options {
  tasks: number;
  workers: number;
  rows: number;
  cols: number;
  quick: boolean;
  full: boolean;
  clone: boolean;
  pipeline: boolean;
  out: Output;
}

function options(argv: string[]): Options | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      tasks: { type: 'string', short: 't' },
      workers: { type: 'string', short: 'w' },
      rows: { type: 'string' },
      cols: { type: 'string' },
      quick: { type: 'boolean', short: 'q' },
      full: { type: 'boolean' },
      'no-clone': { type: 'boolean' },
      'no-pipeline': { type: 'boolean' },
      plain: { type: 'boolean' },
      'progress-every': { type: 'string' },
      color: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (v.help === true) return 'help';
  const quick = v.quick === true;
  const full = v.full === true;
  if (quick && full) throw new UsageError('--quick and --full cannot be combined');
  return {
    quick,
    full,
    tasks: positive(v.tasks, 'tasks', quick ? 8 : full ? 250 : 40),
    workers: positive(v.workers, 'workers', availableParallelism()),
    rows: positive(v.rows, 'rows', quick ? 200 : 1000),
    cols: positive(v.cols, 'cols', full ? 5000 : 1000),
    clone: v['no-clone'] !== true,
    pipeline: v['no-pipeline'] !== true,
    out: new Output({
      plain: v.plain === true,
      tickMs: seconds(v['progress-every'], 'progress-every', 3) * 1000,
      color: v['no-color'] === true ? false : v.color === true ? true : undefined,
    }),
  };
}

const kPipeline: Record<'full' | 'default' | 'quick', PipelineSize> = {
  // The seed: 5 cameras x 72 frames of 5000 x 250 f8 (10 MB), a queue of 50, 2 s put timeout,
  // captures of up to 1 s. Each match compares the first `compare` descriptors of each camera:
  // all 5000 x 5000 pairs would be 12.5 GFLOP per pair of cameras in JS.
  full: {
    cameras: 5,
    matchers: 2,
    frames: 72,
    descriptors: 5000,
    features: 250,
    capacity: 50,
    compare: 200,
    captureMs: 1000,
    putTimeout: 2000,
  },
  // Reduced so that the pipeline takes a few seconds.
  default: {
    cameras: 5,
    matchers: 2,
    frames: 12,
    descriptors: 1000,
    features: 250,
    capacity: 10,
    compare: 200,
    captureMs: 40,
    putTimeout: 200,
  },
  quick: {
    cameras: 5,
    matchers: 2,
    frames: 8,
    descriptors: 200,
    features: 64,
    capacity: 10,
    compare: 100,
    captureMs: 10,
    putTimeout: 100,
  },
};

/**
 * `shmframe demo [options]`: runs the demo and returns the exit code (0 done, 1 a check failed,
 * 2 usage). Loaded on demand by the CLI's main module.
 * @example process.exitCode = await demo(['--quick']);
 */
export async function demo(argv: string[]): Promise<number> {
  let o: Options | 'help';
  try {
    o = options(argv);
  } catch (err) {
    process.stderr.write(`shmframe demo: ${(err as Error).message}\n\n${kDemoUsage}`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(kDemoUsage);
    return 0;
  }
  const { out, rows, cols, tasks, workers } = o;
  const resultBytes = rows * cols * 8;
  // Room for the frame, the results in flight (2 per worker, one in hand) and the pipeline. The
  // heap is reserved, not touched: only pages that objects write count in RSS.
  // The pipeline runs after the transform's objects are freed: room for the larger of the two.
  const pipeSize = kPipeline[o.quick ? 'quick' : o.full ? 'full' : 'default'];
  const pipeBytes =
    (pipeSize.capacity + pipeSize.matchers * pipeSize.cameras + 2 * pipeSize.cameras) *
    pipeSize.descriptors *
    pipeSize.features *
    8;
  const heap = Heap.create({
    size: Math.max((2 * workers + 4) * resultBytes, pipeBytes) + 512 * 2 ** 20,
  });
  Heap.setDefault(heap); // the sequential baseline allocates its results there too
  const base = heap.stats();
  const rec = new Recorder(heap, out);

  out.line(out.bold('shmframe demo: seed 002 on generated data'));
  const load = loadavg()[0] ?? 0;
  out.line(
    out.dim(
      `Node ${process.version}, ${availableParallelism()} cores (load average ${load.toFixed(1)}), ${workers} pool workers, ${tasks} tasks per method`,
    ),
  );
  out.line();
  const t0 = performance.now();
  const { frame, values } = buildFrame(rows, cols);
  const frameBytes = heap.stats().used - base.used;
  out.line(
    `frame: ${rows} rows x ${cols} f8 columns indexed by label, ${formatBytes(frameBytes)} in the shared heap, built in ${formatSeconds(performance.now() - t0)}`,
  );
  const pick = lcg(99);
  const labels = Array.from({ length: tasks }, () => `Idx-${Math.floor(pick() * rows)}`);
  const module = new URL('./demo-tasks.js', import.meta.url);
  const setup = { frame, values, labels, workers, heap, module, out, rec };

  out.line();
  out.line(out.cyan(`row transform: ${tasks} rows, a [${rows}, ${cols}] f8 result each`));
  const sums: Record<string, number> = {};
  try {
    sums.sequential = await runSequential(setup);
    if (o.clone) sums['cloning pool'] = await runCloned(setup);
    sums['shmframe Pool'] = await runShared(setup);
  } finally {
    values.close();
    frame.close();
  }
  const want = sums.sequential ?? 0;
  const differ = Object.entries(sums).filter(([, v]) => Math.abs(v - want) > 1e-9 * Math.abs(want));
  for (const [name, v] of differ) out.line(`CHECK FAILED: ${name} computed ${v}, the loop ${want}`);
  out.line(`same results from every method: ${differ.length === 0 ? 'yes' : 'NO'}`);

  let pipe: PipelineReport | undefined;
  if (o.pipeline) {
    const size = pipeSize;
    out.line();
    out.line(
      out.cyan(
        `pipeline: ${size.cameras} cameras x ${size.frames} frames of [${size.descriptors}, ${size.features}] f8 -> SharedQueue(capacity ${size.capacity}, put timeout ${size.putTimeout} ms) -> ${size.matchers} matchers`,
      ),
    );
    await rec.run('pipeline', async () => {
      pipe = await runPipeline(module, heap, size, () => rec.sample(), out);
      return {
        copied: 0,
        note: `${pipe.taken} frames matched, ${pipe.skipped} skipped on a full queue (per camera: ${pipe.skippedBy.join(', ')}), ${pipe.matches} matches`,
      };
    });
    if (pipe && !pipe.complete) out.line('CHECK FAILED: frames were lost');
  }

  report(out, rec.results, frameBytes, resultBytes, pipe);
  const end = heap.stats();
  const clean =
    end.objects === base.objects && end.used === base.used && end.handles === base.handles;
  out.line(
    `  at the end: ${end.objects} objects, ${formatBytes(end.used)} used, ${end.handles} handles pending: ${clean ? 'everything freed, nothing unlinked by hand' : 'LEAKED'}`,
  );
  if (o.quick)
    out.line(
      out.dim(
        '  (--quick: tasks of a few milliseconds measure start-up more than work; run without --quick for timings)',
      ),
    );
  out.line();
  out.line(
    out.dim('Repeated timings against piscina and the Python seed: npm run bench -- seed002'),
  );
  return differ.length === 0 && (pipe?.complete ?? true) && clean ? 0 : 1;
}

/** The comparison table, then where the shared memory went. */
function report(
  out: Output,
  results: readonly PhaseResult[],
  frameBytes: number,
  resultBytes: number,
  pipe: PipelineReport | undefined,
): void {
  const seq = results[0];
  const rows = results.map((r) => [
    r.name,
    formatSeconds(r.ms),
    r.tasks ? formatSeconds(r.ms / r.tasks) : '-',
    r.tasks && seq?.tasks ? `${(seq.ms / r.ms).toFixed(2)}x` : '-',
    formatBytes(r.rss),
    r.copied === undefined ? '-' : formatBytes(r.copied),
  ]);
  out.line();
  out.line(out.bold('Results'));
  const header = ['method', 'time', 'per task', 'vs sequential', 'peak RSS', 'copied'];
  for (const l of renderTable(header, rows, [false, true, true, true, true, true]))
    out.line(`  ${l}`);
  const mine = results.find((r) => r.name.startsWith('shmframe'));
  const clone = results.find((r) => r.name.startsWith('cloning'));
  if (mine && clone)
    out.line(
      `  shmframe Pool vs the cloning pool: ${(clone.ms / mine.ms).toFixed(1)}x as fast, ${formatBytes(clone.copied ?? 0)} less copied`,
    );
  out.line();
  out.line(out.bold('Where the shared memory went (peak heap.stats().used per phase)'));
  const mem = results.map((r) => [
    r.name,
    formatBytes(r.heapPeak),
    memoryNote(r, frameBytes, resultBytes, pipe),
  ]);
  for (const l of renderTable(['phase', 'heap peak', 'what'], mem, [false, true, false]))
    out.line(`  ${l}`);
}

function memoryNote(
  r: PhaseResult,
  frameBytes: number,
  resultBytes: number,
  pipe: PipelineReport | undefined,
): string {
  if (r.name === 'pipeline' && pipe)
    return `descriptors in flight, at most (queue + newest per matcher + one per camera) = ${formatBytes(pipe.bound)}`;
  if (r.name.startsWith('cloning'))
    return `the frame (${formatBytes(frameBytes)}) only: the clones live in each thread's own memory`;
  // Block sizes are rounded up to 64-byte units and size classes: count results only when they
  // are large enough for the rounding not to matter.
  const n = Math.max(0, Math.round((r.heapPeak - frameBytes) / resultBytes));
  const what =
    resultBytes < 2 ** 20
      ? 'the frame and the results alive at once'
      : `the frame + ${n} result${n === 1 ? '' : 's'} of ${formatBytes(resultBytes)}`;
  return r.name.startsWith('sequential') ? what : `${what} (imap: 2 in flight per worker)`;
}
