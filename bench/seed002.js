// Seed 002's data for the pool cases: the 1000 x 5000 frame indexed by row label, and a helper
// that touches a heap's pages before timing.
import { SharedArray, SharedFrame } from 'shmframe';

/**
 * Touches every page of the heap once (result-sized blocks, filled, then freed): the kernel zeroes
 * a page on its first touch, and whichever method happened to reach fresh heap memory first would
 * pay for the others (a method with more results in flight reaches more of it).
 */
export function touchHeap(heap, shape) {
  const blocks = [];
  try {
    for (;;) {
      const b = SharedArray.empty(shape, 'f8', { heap });
      blocks.push(b);
      b.data.fill(0);
    }
  } catch (err) {
    if (err.code !== 'SHMFRAME_ERR_HEAP_FULL') throw err;
  } finally {
    for (const b of blocks) b.close();
  }
  return blocks.length;
}

export function makeFrame(rows, cols, heap) {
  // Random values, seeded (the same frame every run), labels Idx-0 ... as in the seed.
  let x = 12345;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 4294967296;
  };
  const columns = { label: Array.from({ length: rows }, (_, i) => `Idx-${i}`) };
  for (let j = 0; j < cols; j++) {
    columns[`Col-${j}`] = Float64Array.from({ length: rows }, rnd);
  }
  const frame = SharedFrame.from(columns, { index: 'label', heap });
  const numeric = frame.select(frame.columns.slice(1));
  const values = numeric.values(); // [rows, cols], column-major, over the frame's memory
  numeric.close();
  return { frame, values };
}

/** `tasks` row labels drawn (seeded, with repeats) from a frame of `rows` rows, as the seed does. */
export function pickLabels(tasks, rows) {
  let x = 99;
  return Array.from({ length: tasks }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return `Idx-${x % rows}`;
  });
}

/** A cheap check that two methods computed the same result: its first and last values. */
export const checksum = (a) => a.data[0] + a.data[a.size - 1];
