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

function scalar(v: unknown): string {
  if (typeof v === 'string') return v === '...' ? v : JSON.stringify(v);
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

/** Formats nested preview arrays on one line: `[[1, 2], [3, 4]]`. */
export function formatArray(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(formatArray).join(', ')}]` : scalar(value);
}
