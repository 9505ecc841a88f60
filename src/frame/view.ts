/**
 * Frame views (`select`, `slice`) as carried by handles, and `values()`: a SharedArray over
 * same-dtype columns of a frame block. The array layer knows nothing of frames; frames register
 * as an array host, and the host resolver checks a handle's spec against the block's layout so a
 * forged handle can only ever reach the columns of one dtype group.
 */
import { CorruptError, DtypeError, ShapeError, describe } from '../errors.js';
import type { BlockRef } from '../heap/block-ref.js';
import { KindCode } from '../heap/kinds.js';
import { kMaxElements } from '../array/layout.js';
import { SharedArray, kHostedArray, registerArrayHost } from '../array/shared-array.js';
import { groupRegion } from './layout.js';
import { storeFor, type FrameStore } from './store.js';

/** View parameters carried by the handle of a view (`select`, `slice`). */
export interface FrameView {
  /** Column indices shown, in order (all when absent). */
  columns?: number[];
  /** First row. */
  start: number;
  /** End row (exclusive), fixed; absent: the frame's live length. */
  end?: number;
}

/** Checks a view received in a handle against the block (CORRUPT when it does not fit). */
export function checkView(view: unknown, store: FrameStore): FrameView {
  if (view === undefined) return { start: 0 };
  const v = view as Partial<FrameView>;
  const n = store.ncols;
  const length = store.length();
  const start = v?.start;
  const end = v?.end;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(start) &&
    (start as number) >= 0 &&
    (end === undefined
      ? (start as number) <= length
      : Number.isSafeInteger(end) &&
        (end as number) >= (start as number) &&
        (end as number) <= length) &&
    (v.columns === undefined ||
      (Array.isArray(v.columns) &&
        v.columns.every((c) => Number.isInteger(c) && c >= 0 && c < n) &&
        new Set(v.columns).size === v.columns.length));
  if (!ok) throw new CorruptError(`Handle carries an invalid frame view: ${describe(view)}`);
  return {
    start: start as number,
    ...(end === undefined ? {} : { end }),
    ...(v.columns === undefined ? {} : { columns: (v.columns as number[]).slice() }),
  };
}

/**
 * Columns `cols` (indices) of rows [start, start + length) as one column-major SharedArray over
 * the frame's memory, holding `ref` (released on error).
 */
export function valuesArray(
  ref: BlockRef,
  store: FrameStore,
  names: readonly string[],
  cols: readonly number[],
  start: number,
  length: number,
): SharedArray {
  const cs = cols.map((i) => store.layout.columns[i]!);
  if (cs.length === 0) throw new ShapeError('A frame without columns has no values');
  const dtypes = [...new Set(cs.map((c) => c.type.dtype))];
  if (dtypes.length > 1 || cs[0]!.type.kind !== 'fixed')
    throw new DtypeError(
      `values() needs columns of one fixed-width dtype to view them without copying, got ${dtypes.join(', ')}: ` +
        `select() the columns of one dtype first`,
    );
  const pos = cs.map((c) => c.pos);
  const step = pos.length > 1 ? pos[1]! - pos[0]! : 1;
  if (step <= 0 || pos.some((p, k) => p !== pos[0]! + k * step))
    throw new ShapeError(
      `values() cannot view columns ${JSON.stringify(names)} as one array: they are not evenly spaced in schema ` +
        `order among the ${dtypes[0]} columns. Select them in schema order (e.g. a run of adjacent ${dtypes[0]} columns).`,
    );
  const first = cs[0]!;
  const offset = pos[0]! * first.stride + start;
  if (length > 0 && offset + (cs.length - 1) * step * first.stride + length > kMaxElements)
    throw new ShapeError(
      'values() would span more than 2^32 elements, the most a TypedArray can address on Node 20: select fewer columns',
    );
  const own = ref.dup();
  try {
    return SharedArray[kHostedArray](
      own,
      { code: KindCode.frame, spec: { group: first.group } },
      { offset, shape: [length, cs.length], strides: [1, step * first.stride] },
    );
  } catch (err) {
    own.release();
    throw err;
  }
}

registerArrayHost(KindCode.frame, (ref, spec) => {
  const group = (spec as { group?: unknown } | null)?.group;
  const { heap } = ref;
  // The thread's cached store: its layout was checked when it was first opened.
  const store = storeFor(
    heap.id,
    ref.unit,
    ref.generation,
    heap.buffer,
    ref.byteOffset,
    ref.byteLength,
  );
  const r = groupRegion(store.layout, group);
  return { dt: r.dt, dataOffset: ref.byteOffset + r.data, size: r.size };
});
