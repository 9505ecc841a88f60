/**
 * The text dialect of a delimited file: delimiter, quote and comment bytes, null values. Checked
 * once on the main thread; workers receive the resolved numbers.
 */
import { InvalidArgumentError, describe } from '../../errors.js';

export interface DialectOptions {
  /**
   * One byte (`'\t'`, `','`, `';'`, `'|'`, `' '`...), `'whitespace'` / `null` for runs of
   * spaces and tabs (np.loadtxt's default), or `'auto'`: detected from the first file's first
   * lines (the one of `,` tab `;` `|` whitespace that splits them into equally many fields,
   * preferring the schema's column count; readDelimited only).
   * @default ',' for *.csv files, '\t' for *.tsv, otherwise 'whitespace'
   */
  delimiter?: string | null;
  /** Quote character for RFC 4180 quoted fields, or `null` for none. @default '"' for comma files, otherwise null */
  quote?: string | null;
  /** Comment character: it and the rest of its line are ignored; `null` for none. @default '#' */
  comment?: string | null;
  /** Field texts that mean null (the validity bit is cleared; floats also hold NaN). @default [] */
  nullValues?: readonly string[];
}

export interface Dialect {
  /** Byte, or -1 for whitespace runs. */
  delimiter: number;
  quote: number;
  comment: number;
  nullValues: string[];
}

const kNumberBytes = new Set('0123456789.eE+-'.split('').map((c) => c.charCodeAt(0)));

function oneByte(value: unknown, what: string): number {
  if (typeof value !== 'string' || value.length !== 1 || value.charCodeAt(0) > 127) {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be a single ASCII character, got ${describe(value)}`,
    );
  }
  const b = value.charCodeAt(0);
  if (b === 10 || b === 13)
    throw new InvalidArgumentError(`\`${what}\` cannot be a line break, got ${describe(value)}`);
  return b;
}

/** The delimiter implied by a file name when none is given. */
export function defaultDelimiter(path: string): string | null {
  const p = path.toLowerCase();
  if (p.endsWith('.csv') || p.endsWith('.csv.txt')) return ',';
  if (p.endsWith('.tsv') || p.endsWith('.tab')) return '\t';
  return null;
}

export function resolveDialect(options: DialectOptions, firstPath: string): Dialect {
  const d = options.delimiter === undefined ? defaultDelimiter(firstPath) : options.delimiter;
  let delimiter: number;
  if (d === null || d === 'whitespace') delimiter = -1;
  else {
    delimiter = oneByte(d, 'delimiter');
    if (kNumberBytes.has(delimiter))
      throw new InvalidArgumentError(
        `\`delimiter\` ${describe(d)} can be part of a number; choose another (tab, comma, ';', '|', ' ')`,
      );
  }
  const q = options.quote === undefined ? (delimiter === 44 ? '"' : null) : options.quote;
  const quote = q === null ? -1 : oneByte(q, 'quote');
  const cm = options.comment === undefined ? '#' : options.comment;
  const comment = cm === null ? -1 : oneByte(cm, 'comment');
  for (const [b, what] of [
    [quote, 'quote'],
    [comment, 'comment'],
  ] as const) {
    if (b < 0) continue;
    if (kNumberBytes.has(b))
      throw new InvalidArgumentError(
        `\`${what}\` ${describe(String.fromCharCode(b))} can be part of a number`,
      );
    if (b === delimiter || (delimiter < 0 && (b === 32 || b === 9)))
      throw new InvalidArgumentError(
        `\`${what}\` and \`delimiter\` must differ, both are ${describe(String.fromCharCode(b))}`,
      );
  }
  if (quote >= 0 && quote === comment)
    throw new InvalidArgumentError(
      `\`quote\` and \`comment\` must differ, both are ${describe(String.fromCharCode(quote))}`,
    );
  const nv = options.nullValues ?? [];
  if (!Array.isArray(nv) || nv.some((v) => typeof v !== 'string'))
    throw new InvalidArgumentError(
      `Expected \`nullValues\` to be an array of strings, got ${describe(nv)}`,
    );
  return { delimiter, quote, comment, nullValues: [...nv] };
}
