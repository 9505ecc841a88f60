/**
 * Arrow IPC files (Feather v2) and streams, through apache-arrow (an optional peer dependency).
 * `writeArrow` writes `frame.toArrow()`, whose buffers are views of the shared memory, in record
 * batches streamed to the file: nothing is copied on the way but the IPC metadata. `readArrow`
 * reads either format and copies the table once into a new frame in the heap.
 */
import { closeSync, createWriteStream, readFileSync, readSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { CorruptError, InvalidArgumentError, ShmframeError, describe } from '../../errors.js';
import type { Heap } from '../../heap/heap.js';
import { SharedFrame } from '../../frame/shared-frame.js';
import { loadArrow } from '../../frame/arrow.js';
import { writeAtomically } from '../atomic.js';
import { ioError, openRead } from '../text/file.js';

/** Options of {@link writeArrow}. */
export interface WriteArrowOptions {
  /**
   * `'file'` (random access; Feather v2) or `'stream'` (sequential).
   * @default 'stream' for *.arrows paths, otherwise 'file'
   */
  format?: 'file' | 'stream';
  /** Rows per record batch. @default 1048576 */
  batchRows?: number;
}

/** Options of {@link readArrow}. */
export interface ReadArrowOptions {
  /** Heap for the frame. @default Heap.default() */
  heap?: Heap;
}

/**
 * Writes a frame as an Arrow IPC file (Feather v2, readable by pyarrow, polars, DuckDB, R...) or
 * stream. Needs the optional peer dependency `apache-arrow`.
 * @example
 * await writeArrow('combined.arrow', frame);   // pyarrow.feather.read_table('combined.arrow')
 */
export async function writeArrow(
  path: string,
  frame: SharedFrame,
  options: WriteArrowOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  if (!SharedFrame.isSharedFrame(frame))
    throw new InvalidArgumentError(`Expected a SharedFrame to write, got ${describe(frame)}`);
  const format = options.format ?? (path.toLowerCase().endsWith('.arrows') ? 'stream' : 'file');
  if (format !== 'file' && format !== 'stream')
    throw new InvalidArgumentError(
      `Expected \`format\` to be 'file' or 'stream', got ${describe(format)}`,
    );
  const batchRows = options.batchRows ?? 1 << 20;
  if (!(Number.isSafeInteger(batchRows) && batchRows > 0))
    throw new InvalidArgumentError(
      `Expected \`batchRows\` to be a positive integer, got ${describe(batchRows)}`,
    );
  const A = loadArrow('writeArrow');
  const table = frame.toArrow({ arrow: A });
  await writeAtomically(path, async (temp) => {
    const Writer = format === 'file' ? A.RecordBatchFileWriter : A.RecordBatchStreamWriter;
    const writer = new Writer();
    const out = createWriteStream(temp);
    const done = finished(out);
    writer.toNodeStream().pipe(out);
    try {
      const n = table.numRows;
      if (n === 0) writer.write(table);
      for (let r = 0; r < n; r += batchRows) {
        for (const batch of table.slice(r, Math.min(n, r + batchRows)).batches) writer.write(batch);
        // Let the file stream catch up before queueing more (the batches are views, but the
        // queue of pending writes should stay short).
        if (out.writableNeedDrain)
          await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
      writer.finish();
      writer.close();
      await done;
    } catch (err) {
      out.destroy();
      throw ioError(path, 'write', err);
    }
  });
}

/**
 * Reads an Arrow IPC file (Feather v2) or stream into a new SharedFrame (one copy into the heap).
 * Needs the optional peer dependency `apache-arrow`.
 * @example
 * const frame = await readArrow('combined.arrow');
 */
export async function readArrow(
  path: string,
  options: ReadArrowOptions = {},
): Promise<SharedFrame> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError(`Expected \`path\` to be a file path, got ${describe(path)}`);
  let bytes: Buffer;
  try {
    const fd = openRead(path); // a regular file, or SHMFRAME_ERR_IO without blocking
    try {
      const head = Buffer.alloc(8);
      readSync(fd, head, 0, 8, 0);
      const isFile = head.subarray(0, 6).toString('latin1') === 'ARROW1';
      const isStream = head.readUInt32LE(0) === 0xffffffff || head.readInt32LE(0) > 0;
      if (!isFile && !isStream)
        throw new CorruptError(`${JSON.stringify(path)} is not an Arrow IPC file or stream`);
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof ShmframeError) throw err;
    throw ioError(path, 'read', err);
  }
  const A = loadArrow('readArrow');
  let table: ReturnType<typeof A.tableFromIPC>;
  try {
    table = A.tableFromIPC(bytes);
  } catch (err) {
    throw new CorruptError(
      `${JSON.stringify(path)} is not a readable Arrow IPC file or stream: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return SharedFrame.fromArrow(table, options.heap === undefined ? {} : { heap: options.heap });
}
