/**
 * Progress of a map/imap: a callback, and/or a bar on stderr drawn with cli-progress when stderr
 * is a terminal (nothing is printed otherwise, so logs and pipes stay clean).
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError, describe } from '../errors.js';
import type { ProgressOption } from './types.js';

interface Bar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}
type BarClass = new (options: object) => Bar;

/** The stream a bar is drawn on (a terminal: `process.stderr` when it is a TTY). */
export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

let BarCtor: BarClass | undefined;
function loadBar(): BarClass {
  // Loaded on first use: most processes (and every worker) never draw a bar.
  BarCtor ??= (createRequire(import.meta.url)('cli-progress') as { SingleBar: BarClass }).SingleBar;
  return BarCtor;
}

export function checkProgress(value: unknown): ProgressOption | undefined {
  if (
    value === undefined ||
    typeof value === 'boolean' ||
    typeof value === 'string' ||
    typeof value === 'function'
  )
    return value as ProgressOption | undefined;
  throw new InvalidArgumentError(
    `Expected \`progress\` to be true, a label string or a function (done, total) => void, got ${describe(value)}`,
  );
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function rate(r: number): string {
  if (r === 0 || !Number.isFinite(r)) return '0/s';
  if (r < 1) return `${(1 / r).toFixed(2)}s/it`;
  return r < 100 ? `${r.toFixed(1)}/s` : `${Math.round(r)}/s`;
}

/** One bar line: `label |█████░░░░| 120/250 48% | 11.5/s | ETA 0:11` (or count and rate). */
export function formatLine(
  label: string,
  done: number,
  total: number | undefined,
  elapsedMs: number,
  width = 30,
): string {
  const r = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const head = label === '' ? '' : `${label} `;
  if (total === undefined) {
    return `${head}${done} done | ${rate(r)} | ${clock(elapsedMs / 1000)}`;
  }
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(frac * width);
  const bar = '\u2588'.repeat(full) + '\u2591'.repeat(width - full);
  const eta = done >= total ? clock(elapsedMs / 1000) : `ETA ${clock((total - done) / r)}`;
  return `${head}|${bar}| ${done}/${total} ${Math.floor(frac * 100)}% | ${rate(r)} | ${eta}`;
}

export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #callback: ((done: number, total: number | undefined) => void) | null;
  readonly #stream: ProgressStream | null;
  #bar: Bar | null = null;
  #done = 0;
  #start = 0;

  private constructor(
    label: string,
    total: number | undefined,
    callback: ((done: number, total: number | undefined) => void) | null,
    stream: ProgressStream | null,
  ) {
    this.#label = label;
    this.#total = total;
    this.#callback = callback;
    this.#stream = stream;
  }

  /** A reporter for `option`, or null when there is nothing to report to. */
  static create(
    option: ProgressOption | undefined,
    label: string,
    total: number | undefined,
    stream: ProgressStream = process.stderr,
  ): Progress | null {
    if (option === undefined || option === false) return null;
    if (typeof option === 'function') return new Progress(label, total, option, null);
    if (stream.isTTY !== true) return null;
    return new Progress(typeof option === 'string' ? option : label, total, null, stream);
  }

  get done(): number {
    return this.#done;
  }

  start(): void {
    this.#start = performance.now();
    if (this.#stream !== null) {
      const Ctor = loadBar();
      this.#bar = new Ctor({
        stream: this.#stream,
        format: () =>
          formatLine(this.#label, this.#done, this.#total, performance.now() - this.#start),
        hideCursor: false,
        linewrap: false,
        fps: 10,
      });
      this.#bar.start(this.#total ?? 0, 0);
    }
    this.#callback?.(0, this.#total);
  }

  /** `n` more tasks completed. */
  tick(n: number): void {
    this.#done += n;
    this.#bar?.update(this.#done);
    this.#callback?.(this.#done, this.#total);
  }

  /** Draws the final state and releases the bar's timer (always called, also on failure). */
  stop(): void {
    const bar = this.#bar;
    this.#bar = null;
    bar?.stop();
  }
}
