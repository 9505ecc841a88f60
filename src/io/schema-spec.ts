/**
 * The schema forms the loaders accept, all normalized to ordered `[name, dtype]` pairs:
 * - `{ name: dtype }` and `[name, dtype][]` (SharedFrame's own forms);
 * - numpy's dtype list, as JS (`[['chr', 'S10'], ['pos', '<i4']]`, the same as pairs) or as the
 *   Python text pasted from a script: `"[('chr', 'S10'), ('pos', '<i4')]"`;
 * - the command line's `'chr:S10,pos:i4,pct:f4'`.
 */
import { DtypeError, InvalidArgumentError, describe } from '../errors.js';
import { dtypeOf, type DType } from '../array/dtype.js';

/** A schema in any accepted form. */
export type SchemaSpec =
  Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]> | string;

/** A resolved column: how the loaders store it. */
export interface ColumnSpec {
  name: string;
  /** `fixed` (a SharedArray dtype), `utf8` or `category`. */
  kind: 'fixed' | 'utf8' | 'category';
  /** The fixed dtype (for utf8/category: undefined). */
  dt: DType | undefined;
  /** As a frame schema shows it: numpy typestr, `utf8` or `category`. */
  dtype: string;
}

const kUtf8 = new Set(['utf8', 'utf-8', 'string', 'str']);
const kCategory = new Set(['category', 'categorical', 'dictionary']);

/** Resolves one column dtype. */
export function columnSpec(name: string, dtype: unknown): ColumnSpec {
  if (typeof dtype === 'string') {
    const lower = dtype.trim().toLowerCase();
    if (kUtf8.has(lower)) return { name, kind: 'utf8', dt: undefined, dtype: 'utf8' };
    if (kCategory.has(lower)) return { name, kind: 'category', dt: undefined, dtype: 'category' };
  }
  try {
    const dt = dtypeOf(typeof dtype === 'string' ? dtype.trim() : dtype);
    return { name, kind: 'fixed', dt, dtype: dt.str };
  } catch (err) {
    throw new DtypeError(
      `Column ${JSON.stringify(name)}: ${(err as Error).message}, plus 'utf8' and 'category'`,
      { cause: err },
    );
  }
}

/** Parses a schema given as text: numpy's list of tuples, or `name:dtype,...`. */
export function parseSchemaText(text: string): Array<[string, string]> {
  const s = text.trim();
  if (s.startsWith('[') || s.startsWith('(')) {
    const pairs: Array<[string, string]> = [];
    const re = /\(\s*(['"])((?:(?!\1).)*)\1\s*,\s*(['"])((?:(?!\3).)*)\3\s*\)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) {
      pairs.push([m[2] as string, m[4] as string]);
    }
    const rest = s.replace(re, '').replace(/[\s,[\]()]/g, '');
    if (pairs.length === 0 || rest !== '') {
      throw new InvalidArgumentError(
        `Expected a numpy dtype list like "[('chr', 'S10'), ('pos', '<i4')]", got ${describe(text)}`,
      );
    }
    return pairs;
  }
  return s
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const at = part.lastIndexOf(':');
      if (at <= 0 || at === part.length - 1) {
        throw new InvalidArgumentError(
          `Expected schema entries as name:dtype (e.g. 'chr:S10,pos:i4'), got ${describe(part.trim())}`,
        );
      }
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as [string, string];
    });
}

/** Normalizes and checks a schema: ordered, unique names, known dtypes. */
export function resolveSchema(spec: unknown, what = 'schema'): ColumnSpec[] {
  let pairs: Array<[unknown, unknown]>;
  if (typeof spec === 'string') pairs = parseSchemaText(spec);
  else if (Array.isArray(spec)) {
    pairs = spec.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2)
        throw new InvalidArgumentError(
          `Expected \`${what}\` entry ${i} to be a [name, dtype] pair, got ${describe(p)}`,
        );
      return [p[0], p[1]];
    });
  } else if (typeof spec === 'object' && spec !== null && !ArrayBuffer.isView(spec)) {
    pairs = Object.entries(spec);
  } else {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be { name: dtype }, [name, dtype][] or 'name:dtype,...', got ${describe(spec)}`,
    );
  }
  if (pairs.length === 0)
    throw new InvalidArgumentError(`Expected \`${what}\` to have at least one column`);
  const seen = new Set<string>();
  return pairs.map(([name, dtype]) => {
    if (typeof name !== 'string' || name === '')
      throw new InvalidArgumentError(
        `Expected column names in \`${what}\` to be non-empty strings, got ${describe(name)}`,
      );
    if (seen.has(name))
      throw new InvalidArgumentError(
        `Duplicate column name ${JSON.stringify(name)} in \`${what}\`: column names must be unique`,
      );
    seen.add(name);
    return columnSpec(name, dtype);
  });
}
