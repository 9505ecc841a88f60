/**
 * The delimiter: detected from a file's first lines (`delimiter: 'auto'`), and named in parse
 * errors when the data looks delimited by another common character than the one in use (comma
 * data read with the whitespace default is the usual case: each line is one field wide).
 */
import { InvalidArgumentError } from '../../errors.js';
import { closeQuietly, fileSize, openRead, readAt } from './file.js';

/** Candidates, in order of preference; null is runs of spaces and tabs. */
const kCandidates: ReadonlyArray<string | null> = [',', '\t', ';', '|', null];
const kSampleBytes = 1 << 16;
const kSampleLines = 20;

/** How a delimiter is written in messages and in the option that selects it. */
export function delimiterName(d: string | null): string {
  if (d === null) return 'whitespace';
  if (d === '\t') return 'tab';
  if (d === ',') return 'comma';
  if (d === ';') return 'semicolon';
  if (d === '|') return 'pipe';
  if (d === ' ') return 'space';
  return JSON.stringify(d);
}

function optionText(d: string | null): string {
  return d === null ? `'whitespace'` : d === '\t' ? `'\\t'` : `'${d}'`;
}

/** Fields of `line` split at `d` (commas inside double quotes do not split). */
export function countFields(line: string, d: string | null): number {
  if (d === null) {
    const t = line.trim();
    return t === '' ? 0 : t.split(/[ \t]+/).length;
  }
  let n = 1;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === d && !quoted) n++;
  }
  return n;
}

/**
 * The delimiter of a file, from its first lines (after `skipRows`, without blank and comment
 * lines): the candidate (`,` tab `;` `|` whitespace) that splits every sampled line into the same
 * number (> 1) of fields, preferring the schema's column count. No candidate does: an error that
 * shows what each one gave.
 */
export function sniffDelimiter(
  path: string,
  options: { comment: string | null; skipRows: number; columns: number },
): string | null {
  const fd = openRead(path);
  let text: string;
  let whole: boolean;
  try {
    const size = fileSize(fd, path);
    const n = Math.min(size, kSampleBytes);
    const buf = Buffer.allocUnsafe(n);
    const got = readAt(fd, path, buf, 0, n, 0);
    text = buf.toString('utf8', buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0, got);
    whole = got === size;
  } finally {
    closeQuietly(fd);
  }
  const all = text.split('\n');
  if (!whole) all.pop(); // a partial last line
  const lines = all
    .slice(options.skipRows)
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => {
      const t = l.trim();
      return t !== '' && (options.comment === null || !t.startsWith(options.comment));
    })
    .slice(0, kSampleLines);
  if (lines.length === 0) return null; // nothing to split: any delimiter reads it
  const results = kCandidates.map((d) => {
    const counts = lines.map((l) => countFields(l, d));
    const same = counts.every((c) => c === counts[0]) && (counts[0] as number) > 1;
    return { d, counts, same };
  });
  const fits = results.filter((r) => r.same);
  const best = fits.find((r) => r.counts[0] === options.columns) ?? fits[0];
  if (best !== undefined) return best.d;
  throw new InvalidArgumentError(
    `Could not detect the delimiter of ${path}: no common delimiter splits its first ${lines.length} ` +
      `line${lines.length === 1 ? '' : 's'} into the same number of fields (` +
      results
        .map((r) => `${delimiterName(r.d)}: ${[...new Set(r.counts)].slice(0, 4).join('/')} fields`)
        .join(', ') +
      `). Pass \`delimiter\` (e.g. ',' or '\\t').`,
  );
}

/**
 * Why a bad record may be the delimiter's fault, or undefined: the line splits at another
 * common delimiter into as many fields as the schema has (or, read as one field, holds one).
 * `delimiter` is the byte in use (-1: whitespace); `nf` the fields the schema expects.
 */
export function delimiterHint(
  line: string,
  delimiter: number,
  nf: number,
  oneField: boolean,
  field: string | undefined,
): string | undefined {
  if (nf < 2) return undefined;
  const current = delimiter < 0 ? null : String.fromCharCode(delimiter);
  const others = kCandidates.filter(
    (d) => d !== current && !(current === null && d === '\t') && !(d === null && current === ' '),
  );
  const using = `the delimiter is ${delimiterName(current)}${current === null ? " (np.loadtxt's default, used for files not named .csv or .tsv)" : ''}`;
  const fix = (d: string | null): string =>
    `pass { delimiter: ${optionText(d)} }, or { delimiter: 'auto' } to detect it`;
  for (const d of others) {
    if (countFields(line, d) === nf)
      return `the line splits into ${nf} fields at each ${delimiterName(d)}, as many as the schema has columns, but ${using}: ${fix(d)}`;
  }
  for (const d of others) {
    if (d !== null && field !== undefined && field.includes(d))
      return `the field holds ${field.split(d).length - 1} ${delimiterName(d)}${field.split(d).length === 2 ? '' : 's'}: if the file is ${delimiterName(d)}-delimited, ${fix(d)} (${using})`;
  }
  if (oneField)
    return `the line is one field wide but the schema has ${nf} columns: ${using}; pass the file's \`delimiter\`, or { delimiter: 'auto' } to detect it`;
  return undefined;
}
