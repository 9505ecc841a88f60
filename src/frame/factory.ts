/**
 * The engines behind SharedFrame's factories: each checks its input, allocates one block, fills it
 * and returns the block reference with this thread's store. On any error the block is freed, so
 * a failed factory leaves the heap as it was.
 */
import { InvalidArgumentError } from '../errors.js';
import { BlockRef } from '../heap/block-ref.js';
import type { Heap } from '../heap/heap.js';
import { KindCode } from '../heap/kinds.js';
import { appendStaged } from './append.js';
import {
  checkOptions,
  heapOf,
  indexOf,
  prepareColumns,
  prepareEntries,
  recordsToColumns,
  requestsFor,
  type FrameOptions,
  type FromOptions,
  type Prepared,
} from './build.js';
import { readArrowSource, stageArrow } from './from-arrow.js';
import { F_LENGTH, F_RESERVED, planLayout, writeLayout, type ColumnRequest } from './layout.js';
import { checkRows, parseSchema } from './schema.js';
import { storeFor, writeValidity, type FrameStore } from './store.js';

/** A new frame block: this thread's reference and store. */
export interface FrameParts {
  ref: BlockRef;
  store: FrameStore;
}

/** Allocates a frame block for `requests` and fills it; frees it again if `fill` throws. */
export function allocate(
  requests: ColumnRequest[],
  capacity: number,
  index: number,
  heap: Heap,
  fill: (store: FrameStore) => void,
): FrameParts {
  const layout = planLayout(requests, capacity, index);
  const ref = BlockRef.allocate(
    heap,
    KindCode.frame,
    layout.payloadBytes,
    `a SharedFrame of ${requests.length} columns x ${capacity} rows`,
    false,
  );
  try {
    writeLayout(heap.buffer, ref.byteOffset, layout);
    // Read the layout back through the same checks an attach makes.
    const store = storeFor(
      heap.id,
      ref.unit,
      ref.generation,
      heap.buffer,
      ref.byteOffset,
      ref.byteLength,
    );
    fill(store);
    return { ref, store };
  } catch (err) {
    ref.release();
    throw err;
  }
}

/** Zero-filled rows [0, n): numbers 0, false, epoch, empty |S; utf8 and category null. */
function zeroRows(store: FrameStore, n: number): void {
  for (let i = 0; i < store.ncols; i++) {
    const c = store.column(i);
    if (c.kind === 'fixed') {
      new Uint8Array(c.data.buffer, c.data.byteOffset, n * c.dt.itemsize).fill(0);
      writeValidity(c, 0, n, undefined);
    } else if (c.kind === 'category') (c.data as Int32Array).fill(-1, 0, n);
    else (c.data as Int32Array).fill(0, 0, n + 1);
  }
  store.header[F_RESERVED] = n;
  Atomics.store(store.header, F_LENGTH, n);
}

export function createParts(schema: unknown, options: unknown): FrameParts {
  const opts = checkOptions<FrameOptions>(options, 'SharedFrame.create');
  const cols = parseSchema(schema);
  const length = opts.length === undefined ? 0 : checkRows(opts.length, 'length');
  if (opts.capacity === undefined && opts.length === undefined)
    throw new InvalidArgumentError(
      'Expected `capacity` (the rows the frame can hold; frames do not grow), got undefined: ' +
        'SharedFrame.create(schema, { capacity: 1000 })',
    );
  const capacity = opts.capacity === undefined ? length : checkRows(opts.capacity, 'capacity');
  if (length > capacity)
    throw new InvalidArgumentError(
      `Expected \`length\` (${length}) to be at most \`capacity\` (${capacity})`,
    );
  const index = indexOf(
    opts.index,
    cols.map((c) => c.name),
  );
  const heap = heapOf(opts);
  const requests = requestsFor(cols, opts, capacity, 0);
  return allocate(requests, capacity, index, heap, (store) => {
    if (length > 0) zeroRows(store, length);
  });
}

function checkCapacity(options: FromOptions, rows: number, what: string): number {
  const capacity = options.capacity === undefined ? rows : checkRows(options.capacity, 'capacity');
  if (capacity < rows)
    throw new InvalidArgumentError(
      `Expected \`capacity\` to be at least the ${rows} rows ${what}, got ${capacity}`,
    );
  return capacity;
}

function fromPrepared(p: Prepared, options: FromOptions): FrameParts {
  const index = indexOf(
    options.index,
    p.cols.map((c) => c.name),
  );
  const capacity = checkCapacity(options, p.rows, 'given');
  const requests = requestsFor(p.cols, options, capacity, p.rows, p.measured);
  return allocate(requests, capacity, index, heapOf(options), (store) => {
    p.staged.forEach((s, k) => (s.col = store.column(k)));
    appendStaged(store, p.staged, p.rows);
  });
}

export function fromColumnsParts(columns: unknown, options: unknown): FrameParts {
  const opts = checkOptions<FromOptions>(options, 'SharedFrame.from');
  return fromPrepared(prepareColumns(columns, opts), opts);
}

export function fromRecordsParts(rows: unknown, options: unknown): FrameParts {
  const opts = checkOptions<FromOptions>(options, 'SharedFrame.fromRecords');
  return fromPrepared(prepareEntries(recordsToColumns(rows, opts.schema), opts), opts);
}

export function fromArrowParts(table: unknown, options: unknown): FrameParts {
  const opts = checkOptions<FromOptions>(options, 'SharedFrame.fromArrow');
  const src = readArrowSource(table);
  const cols = src.names.map((name, i) => ({ name, type: src.types[i]! }));
  const capacity = checkCapacity(opts, src.numRows, 'of the table');
  const measured = cols.map(({ type }, i) => ({
    stringBytes: type.kind === 'utf8' ? src.stringBytes[i] : undefined,
    labels: type.kind === 'category' ? src.categories[i] : undefined,
    labelBytes: type.kind === 'category' ? src.categoryBytes[i] : undefined,
  }));
  const requests = requestsFor(cols, opts, capacity, src.numRows, measured);
  const index = indexOf(opts.index ?? src.index, src.names);
  return allocate(requests, capacity, index, heapOf(opts), (store) => {
    for (const b of src.batches) {
      const staged = b.columns.map((d, k) => stageArrow(store.column(k), d));
      appendStaged(store, staged, b.length);
    }
  });
}
