/**
 * Byte progress of a load: a callback `(doneBytes, totalBytes)`, and/or a bar on stderr (only when
 * it is a terminal, so logs and pipes stay clean), drawn with cli-progress.
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError, describe } from '../../errors.js';
import { formatBytes } from '../../util/size.js';

/** `true` / a label: a bar on stderr when it is a TTY; a function: called as bytes are parsed. */
export type LoadProgress = boolean | string | ((doneBytes: number, totalBytes: number) => void);

interface Bar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

export function checkLoadProgress(value: unknown): LoadProgress | undefined {
  if (
    value === undefined ||
    typeof value === 'boolean' ||
    typeof value === 'string' ||
    typeof value === 'function'
  )
    return value as LoadProgress | undefined;
  throw new InvalidArgumentError(
    `Expected \`progress\` to be true, a label or a function (doneBytes, totalBytes) => void, got ${describe(value)}`,
  );
}

export class ByteProgress {
  #bar: Bar | undefined;
  #callback: ((done: number, total: number) => void) | undefined;
  #total: number;
  #start = performance.now();
  #last = -1;

  constructor(
    option: LoadProgress | undefined,
    total: number,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.#total = total;
    if (typeof option === 'function') this.#callback = option;
    else if ((option === true || typeof option === 'string') && stream.isTTY === true) {
      const { SingleBar } = createRequire(import.meta.url)('cli-progress') as {
        SingleBar: new (o: object) => Bar;
      };
      const label = typeof option === 'string' ? `${option} ` : 'loading ';
      this.#bar = new SingleBar({
        stream,
        format: `${label}|{bar}| {percentage}% | {done} of {all} | {rate} | ETA {eta_formatted}`,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
      });
      this.#bar.start(total, 0, { done: formatBytes(0), all: formatBytes(total), rate: '' });
    }
  }

  update(done: number): void {
    const d = Math.min(done, this.#total);
    if (d === this.#last) return;
    this.#last = d;
    this.#callback?.(d, this.#total);
    if (this.#bar !== undefined) {
      const s = (performance.now() - this.#start) / 1000;
      this.#bar.update(d, {
        done: formatBytes(d),
        all: formatBytes(this.#total),
        rate: s > 0 ? `${formatBytes(d / s)}/s` : '',
      });
    }
  }

  stop(done: number): void {
    this.update(done);
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
