/**
 * The start of a delimited file, read on the main thread before any splitting: a UTF-8 byte
 * order mark, `skipRows` lines, and the header record. Returns where the data starts and the
 * line number there.
 */
import { InvalidArgumentError, ParseError } from '../../errors.js';
import { closeQuietly, fileSize, openRead, readAt } from './file.js';
import type { Dialect } from './dialect.js';

export interface Prelude {
  size: number;
  /** Byte offset of the first data line. */
  dataStart: number;
  /** 1-based line number of the first data line. */
  line: number;
  /** Header names when `header` was asked for. */
  header: string[] | undefined;
}

const LF = 10;
const CR = 13;

export function readPrelude(
  path: string,
  file: string,
  dialect: Dialect,
  options: { header: boolean; skipRows: number },
): Prelude {
  const fd = openRead(path);
  try {
    const size = fileSize(fd, path);
    let n = Math.min(size, 1 << 16);
    for (;;) {
      const buf = Buffer.allocUnsafe(n);
      const got = readAt(fd, path, buf, 0, n, 0);
      const r = scanPrelude(buf.subarray(0, got), got === size, file, dialect, options);
      if (r !== undefined) return { size, ...r };
      if (n >= size || n >= 1 << 30)
        throw new ParseError(`${file}: the header is longer than ${n} bytes`, {
          details: { file, line: 1, column: 1, field: '', expected: 'a header line' },
        });
      n = Math.min(size, n * 4);
    }
  } finally {
    closeQuietly(fd);
  }
}

/** undefined when `buf` (not the whole file) is too short to decide. */
function scanPrelude(
  buf: Uint8Array,
  whole: boolean,
  file: string,
  d: Dialect,
  o: { header: boolean; skipRows: number },
): Omit<Prelude, 'size'> | undefined {
  let p = 0;
  let line = 1;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) p = 3;
  for (let i = 0; i < o.skipRows; i++) {
    const nl = buf.indexOf(LF, p);
    if (nl < 0) {
      if (!whole) return undefined;
      return { dataStart: buf.length, line, header: o.header ? [] : undefined };
    }
    p = nl + 1;
    line++;
  }
  if (!o.header) return { dataStart: p, line, header: undefined };
  // Skip blank and comment lines before the header.
  for (;;) {
    let q = p;
    while (buf[q] === 32 || buf[q] === 9) q++;
    const c = buf[q];
    if (q >= buf.length) {
      if (!whole) return undefined;
      throw new ParseError(`${file}: expected a header line, the file has no data`, {
        details: { file, line, column: 1, field: '', expected: 'a header line' },
      });
    }
    if (c === LF || (c === CR && buf[q + 1] === LF) || c === d.comment) {
      const nl = buf.indexOf(LF, q);
      if (nl < 0) {
        if (!whole) return undefined;
        throw new ParseError(`${file}: expected a header line, the file has no data`, {
          details: { file, line, column: 1, field: '', expected: 'a header line' },
        });
      }
      p = nl + 1;
      line++;
      continue;
    }
    break;
  }
  // The header record: fields split like data, quotes honoured, a comment ends it.
  const names: string[] = [];
  const ws = d.delimiter < 0;
  let q = p;
  if (ws) while (buf[q] === 32 || buf[q] === 9) q++;
  let lines = 0;
  for (;;) {
    let text: string;
    if (d.quote >= 0 && buf[q] === d.quote) {
      const parts: number[] = [];
      let i = q + 1;
      for (;;) {
        if (i >= buf.length) {
          if (!whole) return undefined;
          throw new ParseError(`${file}:${line}: the header has an unterminated quoted field`, {
            details: { file, line, column: 1, field: '', expected: 'a closing quote' },
          });
        }
        const c = buf[i] as number;
        if (c === d.quote) {
          if (buf[i + 1] === d.quote) {
            parts.push(c);
            i += 2;
            continue;
          }
          break;
        }
        if (c === LF) lines++;
        parts.push(c);
        i++;
      }
      text = Buffer.from(parts).toString('utf8');
      q = i + 1;
    } else {
      const s = q;
      for (;;) {
        const c = buf[q];
        if (c === undefined || c === LF || c === CR || c === d.comment) break;
        if (ws ? c === 32 || c === 9 : c === d.delimiter) break;
        q++;
      }
      if (q >= buf.length && !whole) return undefined;
      text = Buffer.from(buf.buffer, buf.byteOffset + s, q - s)
        .toString('utf8')
        .trim();
    }
    names.push(text);
    if (ws) while (buf[q] === 32 || buf[q] === 9) q++;
    const c = buf[q];
    if (!ws && c === d.delimiter) {
      q++;
      continue;
    }
    if (c === undefined || c === LF || c === CR || c === d.comment) break;
    if (ws) continue;
    throw new ParseError(
      `${file}:${line}: unexpected ${JSON.stringify(String.fromCharCode(c))} in the header`,
      {
        details: { file, line, column: q - p + 1, field: '', expected: 'a delimiter' },
      },
    );
  }
  const nl = buf.indexOf(LF, q);
  if (nl < 0 && !whole) return undefined;
  return { dataStart: nl < 0 ? buf.length : nl + 1, line: line + 1 + lines, header: names };
}

/**
 * The schema column of each field of a file: in order without a header; by name with one
 * (extra header columns are skipped; a schema column missing from the header is an error).
 */
export function fieldColumns(
  schemaNames: readonly string[],
  header: readonly string[] | undefined,
  file: string,
): number[] {
  if (header === undefined) return schemaNames.map((_, i) => i);
  const map = header.map((h) => schemaNames.indexOf(h));
  const seen = new Set<number>();
  map.forEach((c, f) => {
    if (c < 0) return;
    if (seen.has(c))
      throw new InvalidArgumentError(
        `${file}: the header names column ${JSON.stringify(schemaNames[c])} twice (fields ${map.indexOf(c) + 1} and ${f + 1})`,
      );
    seen.add(c);
  });
  const missing = schemaNames.filter((_, c) => !seen.has(c));
  if (missing.length > 0)
    throw new InvalidArgumentError(
      `${file}: the header has no column ${missing.map((m) => JSON.stringify(m)).join(', ')} of the schema (header: ${JSON.stringify(header.slice(0, 30))})`,
    );
  return map;
}
