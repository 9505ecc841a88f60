/**
 * `loc(label)`: the row of a label in the frame's index column, through a label -> row Map built
 * lazily in each thread. The Map extends itself as rows are appended, is rebuilt when the index
 * column was edited through the frame API in any thread (`writeCell`/`writeNull` bump a counter
 * in the column record), and checks every hit against the memory, so a stale entry is never
 * returned. Duplicate labels are
 * remembered and reported when one of them is looked up.
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { C_EDITS } from './layout.js';
import { readCell, type Col, type FrameStore } from './store.js';

interface IndexTable {
  map: Map<unknown, number>;
  dups: Map<unknown, number[]>;
  scanned: number;
  edits: number;
}

/** Map key of a label: Dates by their time, numbers into bigint columns as bigints. */
export function labelKey(c: Col, label: unknown): unknown {
  if (label instanceof Date) return label.getTime();
  if (c.dt.bigint && c.dt.kind !== 'M' && typeof label === 'number' && Number.isSafeInteger(label))
    return BigInt(label);
  if (c.dt.kind === 'M' && typeof label === 'bigint') return label;
  return label;
}

function cellKey(c: Col, row: number): unknown {
  const v = readCell(c, row);
  return v instanceof Date ? v.getTime() : v;
}

function build(c: Col, t: IndexTable, length: number): void {
  for (let row = t.scanned; row < length; row++) {
    const key = cellKey(c, row);
    if (key === null) continue;
    const first = t.map.get(key);
    if (first === undefined) t.map.set(key, row);
    else {
      const rows = t.dups.get(key) ?? [first];
      rows.push(row);
      t.dups.set(key, rows);
    }
  }
  t.scanned = length;
}

/** The row of `label` in rows [0, length) of the index column, or -1. */
export function findLabel(store: FrameStore, length: number, label: unknown): number {
  const c = store.column(store.layout.index);
  const edits = Atomics.load(c.words, C_EDITS);
  let t = store.indexCache as IndexTable | undefined;
  if (t === undefined || t.edits !== edits || t.scanned > length) {
    t = { map: new Map(), dups: new Map(), scanned: 0, edits };
    store.indexCache = t;
  }
  if (t.scanned < length) build(c, t, length);
  const key = labelKey(c, label);
  const dup = t.dups.get(key);
  if (dup !== undefined) {
    throw new InvalidArgumentError(
      `Index column ${JSON.stringify(c.name)} holds the label ${describe(label)} more than once ` +
        `(rows ${dup.slice(0, 5).join(', ')}${dup.length > 5 ? ', ...' : ''}): loc needs unique labels`,
      {
        details: {
          label: typeof label === 'bigint' ? String(label) : label,
          rows: dup.slice(0, 5),
        },
      },
    );
  }
  const row = t.map.get(key);
  if (row === undefined || row >= length) return -1;
  // A thread may have rewritten the cell through a TypedArray view: trust memory, not the map.
  const now = cellKey(c, row);
  if (now !== key && !(now !== now && key !== key)) {
    store.indexCache = undefined;
    return findLabel(store, length, label);
  }
  return row;
}
