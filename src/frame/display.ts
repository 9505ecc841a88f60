/**
 * Text display of a frame, like pandas: a header row of names, a row of dtypes, right-aligned
 * numbers and left-aligned text; long frames show their first and last rows around `...`, wide
 * ones their first and last columns around `...`.
 */

/** Display options of `toString`. */
export interface DisplayOptions {
  /**
   * Frames with more rows than this show only `minRows` (half from the top, half from the end).
   * @default 60
   */
  maxRows?: number;
  /** Rows shown when a frame is truncated. @default 10 */
  minRows?: number;
  /** Widest line, in characters; columns beyond it are elided in the middle. @default 100 */
  width?: number;
  /** Longest cell, in characters; longer text ends with `…`. @default 30 */
  maxCellWidth?: number;
}

export interface TableSource {
  names: readonly string[];
  dtypes: readonly string[];
  length: number;
  /** The label of row 0: a view's first row's position in its frame. @default 0 */
  firstLabel?: number;
  cell(row: number, col: number): unknown;
  footer: string;
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return String(v);
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return 'NaT';
    const iso = v.toISOString();
    if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
    return iso.replace('T', ' ').replace(/(\.000)?Z$/, '');
  }
  if (typeof v === 'string') return v.replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return String(v);
}

/**
 * A float column's cells, pandas-style: one number of decimals for the whole column (enough for
 * every value, at most 6), or scientific notation when magnitudes are very large or small.
 */
function formatFloats(raw: readonly unknown[], single: boolean): string[] {
  // f4 values are shown by their shortest float32 form (57.78, as numpy does), not by the
  // digits of the float64 they widen to (57.779998779296875).
  const values = single ? raw.map((v) => (typeof v === 'number' ? shortestSingle(v) : v)) : raw;
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const scientific = finite.some((v) => Math.abs(v) >= 1e15 || (v !== 0 && Math.abs(v) < 1e-4));
  let decimals = 1;
  if (!scientific)
    for (const v of finite) {
      const s = String(Number(v.toFixed(6)));
      const dot = s.indexOf('.');
      if (dot >= 0) decimals = Math.max(decimals, s.length - dot - 1);
    }
  return values.map((v) => {
    if (typeof v !== 'number') return formatValue(v);
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    return scientific ? v.toExponential(4) : v.toFixed(decimals);
  });
}

/** The shortest decimal that reads back as the same float32. */
function shortestSingle(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '…' : s;
}

const isNumeric = (dtype: string): boolean => /^[<|][iuf]/.test(dtype);

/** Formats `source` as an aligned table. */
export function formatTable(source: TableSource, options: DisplayOptions = {}): string {
  const maxRows = options.maxRows ?? 60;
  const minRows = options.minRows ?? 10;
  const width = options.width ?? 100;
  const maxCell = options.maxCellWidth ?? 30;
  const n = source.length;
  const rowIds: number[] = [];
  if (n <= maxRows) for (let i = 0; i < n; i++) rowIds.push(i);
  else {
    const top = Math.ceil(minRows / 2);
    for (let i = 0; i < top; i++) rowIds.push(i);
    rowIds.push(-1);
    for (let i = n - Math.floor(minRows / 2); i < n; i++) rowIds.push(i);
  }
  const first = source.firstLabel ?? 0;
  const labels = rowIds.map((r) => (r < 0 ? '...' : String(first + r)));
  const labelWidth = Math.max(0, ...labels.map((l) => l.length));
  // A column's text and width, formatted only if it is shown (a frame may have 5000 columns).
  type Column = { head: string; dtype: string; cells: string[]; w: number; right: boolean };
  const made = new Map<number, Column>();
  const column = (c: number): Column => {
    let col = made.get(c);
    if (col !== undefined) return col;
    const dtype = source.dtypes[c] as string;
    const raw = rowIds.map((r) => (r < 0 ? undefined : source.cell(r, c)));
    const text = dtype.startsWith('<f') ? formatFloats(raw, dtype === '<f4') : raw.map(formatValue);
    const cells = rowIds.map((r, k) => (r < 0 ? '...' : clip(text[k] as string, maxCell)));
    const head = clip(source.names[c] as string, maxCell);
    const w = Math.max(head.length, dtype.length, ...cells.map((t) => t.length));
    col = { head, dtype, cells, w, right: isNumeric(dtype) || dtype === '|b1' };
    made.set(c, col);
    return col;
  };
  // Take columns alternately from the left and the right while they fit, keeping room for a
  // `...` column if some remain; at least one from each side.
  const ncols = source.names.length;
  const left: number[] = [];
  const right: number[] = [];
  let used = labelWidth;
  let lo = 0;
  let hi = ncols - 1;
  let elided = false;
  while (lo <= hi) {
    const fromLeft = left.length <= right.length;
    const c = fromLeft ? lo : hi;
    const room = lo === hi ? 0 : 5;
    const w = 2 + column(c).w;
    if (used + w + room > width && left.length >= 1 && right.length >= 1) {
      elided = true;
      break;
    }
    used += w;
    if (fromLeft) left.push(lo++);
    else right.unshift(hi--);
  }
  const shown = elided ? [...left, -1, ...right] : [...left, ...right];
  const cols = { get: (i: number): Column | undefined => (i < 0 ? undefined : column(i)) };
  const pad = (s: string, w: number, right: boolean): string =>
    right ? s.padStart(w) : s.padEnd(w);
  const line = (label: string, part: (c: Column) => string): string =>
    [
      label.padEnd(labelWidth),
      ...shown.map((i) => {
        const c = cols.get(i);
        return c === undefined ? '...' : pad(part(c), c.w, c.right);
      }),
    ]
      .join('  ')
      .trimEnd();
  const out = [line('', (c) => c.head), line('', (c) => c.dtype)];
  rowIds.forEach((_, k) => out.push(line(labels[k] as string, (c) => c.cells[k] as string)));
  out.push('', source.footer);
  return out.join('\n');
}
