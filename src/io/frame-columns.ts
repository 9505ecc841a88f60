/**
 * A writer's view of a SharedFrame: the columns it shows and its rows, as the frame layer's raw
 * column regions (values, validity bits, utf8 offsets and bytes, category codes and labels). The
 * block stays referenced until `release()`.
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { SharedFrame } from '../frame/shared-frame.js';
import type { Col } from '../frame/store.js';
import { openFrame } from './delimited/frame-access.js';

export interface FrameColumns {
  cols: Col[];
  /** First row in the block, and rows shown. */
  start: number;
  length: number;
  release(): void;
}

export function frameColumns(frame: SharedFrame, what = 'frame'): FrameColumns {
  if (!SharedFrame.isSharedFrame(frame))
    throw new InvalidArgumentError(`Expected ${what} to be a SharedFrame, got ${describe(frame)}`);
  const access = openFrame(frame);
  const { store, view } = access;
  const shown = view.columns ?? Array.from({ length: store.ncols }, (_, i) => i);
  const end = view.end ?? store.length();
  return {
    cols: shown.map((i) => store.column(i)),
    start: view.start,
    length: Math.max(0, end - view.start),
    release: access.release,
  };
}

/** Whether row `row` (block row) of `c` is valid. */
export function isValidAt(c: Col, row: number): boolean {
  return (((c.valid32[row >>> 5] as number) >>> (row & 31)) & 1) === 1;
}

/** True when every row in [start, start + n) is valid (word at a time). */
export function allValid(c: Col, start: number, n: number): boolean {
  const v = c.valid32;
  let r = start;
  const end = start + n;
  while (r < end) {
    if ((r & 31) === 0 && r + 32 <= end) {
      if (v[r >>> 5] !== -1) return false;
      r += 32;
    } else {
      if (!isValidAt(c, r)) return false;
      r++;
    }
  }
  return true;
}

/** The UTF-8 bytes of utf8 row `row` (a view). */
export function utf8At(c: Col, row: number): Uint8Array {
  const o = c.data as Int32Array;
  return (c.bytes as Buffer).subarray(o[row] as number, o[row + 1] as number);
}
