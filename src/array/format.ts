/** Nested-array helpers: flattening with shape inference, and compact printing. */
import { ShapeError } from '../errors.js';

/** Flattens nested JS arrays, inferring a rectangular shape; ragged input is an error. */
export function flattenNested(source: readonly unknown[]): { values: unknown[]; shape: number[] } {
  const shape: number[] = [];
  for (let level: unknown = source; Array.isArray(level); level = level[0]) {
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const values: unknown[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node))
        throw new ShapeError(
          `Ragged nested array: ${path} is an array, expected a value at depth ${depth}`,
        );
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new ShapeError(
        `Ragged nested array: ${path} has ${Array.isArray(node) ? node.length : 'no'} elements, expected ${shape[depth]} (shape [${shape.join(',')}])`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
  };
  walk(source, 0, 'source');
  return { values, shape };
}

/** Marks the elided middle of a long axis in display values. */
export const kElided = Symbol('...');

function scalar(v: unknown): string {
  if (v === kElided) return '...';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Date)
    return Number.isNaN(v.getTime())
      ? 'NaT'
      : v
          .toISOString()
          .replace(/T00:00:00\.000Z$/, '')
          .replace(/\.000Z$/, '');
  if (typeof v === 'number')
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** numpy's `linewidth`. */
const kLineWidth = 75;

/**
 * Nested display values laid out as numpy prints an array: one row of the last axis per line
 * (wrapped at 75 characters), blocks of higher axes separated by blank lines, every element
 * padded to one width (`pad`: right-aligned, as numbers are).
 */
export function formatArrayText(value: unknown, ndim: number, pad: boolean): string {
  if (ndim === 0) return scalar(value);
  const texts: string[] = [];
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v !== kElided) texts.push(scalar(v));
  };
  collect(value);
  const width = pad ? Math.max(0, ...texts.map((t) => t.length)) : 0;
  const item = (v: unknown): string => {
    const t = scalar(v);
    return v === kElided ? t : t.padStart(width);
  };
  const block = (v: unknown, depth: number): string => {
    const indent = ' '.repeat(depth + 1);
    const items = v as unknown[];
    if (depth === ndim - 1) {
      const lines: string[] = [];
      let line = '[';
      // The first line follows `depth` opening brackets; later ones start with their indent.
      let lead = depth;
      items.forEach((x, i) => {
        const t = item(x) + (i < items.length - 1 ? ',' : ']');
        if (line.length > 1 && lead + line.length + 1 + t.length > kLineWidth) {
          lines.push(line);
          line = indent + t;
          lead = 0;
        } else line += (line.endsWith('[') ? '' : ' ') + t;
      });
      if (items.length === 0) line += ']';
      lines.push(line);
      return lines.join('\n');
    }
    const sep = ',\n' + '\n'.repeat(Math.max(0, ndim - depth - 2)) + indent;
    return `[${items.map((x) => (x === kElided ? '...' : block(x, depth + 1))).join(sep)}]`;
  };
  return block(value, 0);
}
