/**
 * Output of `shmframe demo`: colours (only on a terminal), progress bars (only on a terminal),
 * plain aligned tables, and the peak resident memory of each phase.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Heap } from '../heap/heap.js';
import { Progress } from '../pool/progress.js';
import { formatBytes } from '../util/size.js';

/**
 * How the demo writes: to a terminal (bars on stderr, colour) or to a pipe or a file (plain
 * lines, no escape codes). Bars need both stdout and stderr to be terminals, so that
 * `npm start | cat` and `npm start > log` never carry bars.
 * @example const out = new Output({ plain: false, color: undefined }); out.line(out.bold('hi'));
 */
export class Output {
  /** Draw progress bars (on stderr). */
  readonly bars: boolean;
  /** Milliseconds between plain progress lines (see {@link Ticker}). */
  readonly tickMs: number;
  readonly #color: boolean;

  constructor(options: { plain: boolean; color: boolean | undefined; tickMs?: number }) {
    this.tickMs = options.tickMs ?? 3000;
    const terminal = process.stdout.isTTY === true && process.stderr.isTTY === true;
    this.bars = terminal && !options.plain;
    const env = process.env;
    this.#color =
      options.color ??
      (terminal &&
        !options.plain &&
        env.NO_COLOR === undefined &&
        env.TERM !== 'dumb' &&
        env.FORCE_COLOR !== '0');
  }

  line(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  #paint(code: string, text: string): string {
    return this.#color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
  bold(text: string): string {
    return this.#paint('1', text);
  }
  dim(text: string): string {
    return this.#paint('2', text);
  }
  green(text: string): string {
    return this.#paint('32', text);
  }
  cyan(text: string): string {
    return this.#paint('36', text);
  }

  /** A bar for a loop run on this thread (null when not drawing bars). */
  bar(label: string, total: number): Progress | null {
    return this.bars ? Progress.create(label, label, total, process.stderr) : null;
  }

  /**
   * Progress for a phase: the bar on a terminal, else a {@link Ticker} that prints a plain line
   * every few seconds (a piped run would otherwise print nothing for as long as a phase takes).
   */
  progress(label: string, total: number, unit = 'tasks'): Progress | Ticker {
    return this.bar(label, total) ?? this.ticker(label, total, unit);
  }

  /** Plain progress lines every {@link tickMs} (for phases that draw their bar elsewhere). */
  ticker(label: string, total: number, unit = 'tasks'): Ticker {
    return new Ticker(this, label, total, unit, this.tickMs);
  }
}

/**
 * Plain-line progress for pipes and files: `  cloning pool: 12/40 tasks after 3.0 s`, at most
 * one line every `everyMs` (and none for a phase that finishes sooner).
 * @example const t = new Ticker(out, 'cloning pool', 40); for (...) t.tick(1);
 */
export class Ticker {
  readonly #out: Output;
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #everyMs: number;
  #t0 = performance.now();
  #last = this.#t0;
  done = 0;

  constructor(out: Output, label: string, total: number, unit = 'tasks', everyMs = 3000) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#unit = unit;
    this.#everyMs = everyMs;
  }

  start(): void {
    this.#t0 = this.#last = performance.now();
  }

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    if (now - this.#last < this.#everyMs || this.done >= this.#total) return;
    this.#last = now;
    this.#out.line(
      `  ${this.#label}: ${this.done}/${this.#total} ${this.#unit} after ${formatSeconds(now - this.#t0)}`,
    );
  }

  stop(): void {}
}

/**
 * Milliseconds for people: `850 ms`, `12.3 s`, `1 min 05 s`.
 * @example formatSeconds(12_345) // '12.3 s'
 */
export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

/**
 * A plain text table: a header row, a rule, the rows; columns padded to their widest cell,
 * right-aligned where `right[i]`. No escape codes, so it reads the same in a file.
 * @example renderTable(['method', 'time'], [['sequential', '4.1 s']], [false, true])
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}

function statusBytes(field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync('/proc/self/status', 'utf8'),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The peak resident memory of this process (all its threads, the shared heap's touched pages
 * included) during one phase. On Linux the kernel's own high-water mark (VmHWM) is reset at the
 * start of the phase (`/proc/self/clear_refs`), so the peak is exact; elsewhere RSS is sampled
 * every 20 ms and whenever {@link PeakRss.sample} is called.
 * @example const p = new PeakRss(); p.start(); work(); console.log(p.stop());
 */
export class PeakRss {
  #exact = false;
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;

  start(): void {
    this.#peak = process.memoryUsage.rss();
    try {
      writeFileSync('/proc/self/clear_refs', '5');
      this.#exact = statusBytes('VmHWM') !== undefined;
    } catch {
      this.#exact = false;
    }
    if (!this.#exact) {
      this.#timer = setInterval(() => this.sample(), 20);
      this.#timer.unref();
    }
  }

  sample(): void {
    if (!this.#exact) this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
  }

  /** Ends the phase and returns its peak in bytes. */
  stop(): number {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#exact) return Math.max(this.#peak, statusBytes('VmHWM') ?? 0);
    this.sample();
    return this.#peak;
  }

  /** Whether the peak is the kernel's high-water mark (true) or sampled (false). */
  get exact(): boolean {
    return this.#exact;
  }
}

/** One line of the comparison table. */
export interface PhaseResult {
  name: string;
  /** Wall-clock time, ms. */
  ms: number;
  /** Tasks run (row-transform phases). */
  tasks?: number;
  /** Peak RSS of the process during the phase, bytes. */
  rss: number;
  /** Peak `heap.stats().used` during the phase, bytes. */
  heapPeak: number;
  /** Bytes copied between threads (structured clone); 0 when everything went by handle. */
  copied?: number;
  /** What the phase did, for the summary line. */
  note?: string;
}

/**
 * Runs the demo's phases one after the other, timing each and tracking its peak RSS and peak
 * shared-heap use (sampled every 10 ms while the main thread waits, and whenever a phase calls
 * {@link Recorder.sample}).
 * @example const rec = new Recorder(heap, out); await rec.run('sequential', async () => ({ tasks }));
 */
export class Recorder {
  readonly results: PhaseResult[] = [];
  readonly #heap: Heap;
  readonly #out: Output;
  #heapPeak = 0;

  constructor(heap: Heap, out: Output) {
    this.#heap = heap;
    this.#out = out;
  }

  /** Records the heap's current use in the running phase's peak. */
  sample(): void {
    this.#heapPeak = Math.max(this.#heapPeak, this.#heap.stats().used);
  }

  async run(
    name: string,
    body: () => Promise<Omit<PhaseResult, 'name' | 'ms' | 'rss' | 'heapPeak'>>,
  ): Promise<PhaseResult> {
    const rss = new PeakRss();
    this.#heapPeak = 0;
    this.sample();
    const sampler = setInterval(() => this.sample(), 10);
    rss.start();
    const start = performance.now();
    let extra;
    try {
      extra = await body();
    } finally {
      clearInterval(sampler);
    }
    const ms = performance.now() - start;
    this.sample();
    const r: PhaseResult = { name, ms, rss: rss.stop(), heapPeak: this.#heapPeak, ...extra };
    this.results.push(r);
    const per = r.tasks ? `, ${formatSeconds(ms / r.tasks)} per task` : '';
    const note = r.note ? ` (${r.note})` : '';
    this.#out.line(
      `${this.#out.green('done')} ${name}: ${formatSeconds(ms)}${per}, peak RSS ${formatBytes(r.rss)}${note}`,
    );
    return r;
  }
}
