/**
 * Builds the fast path of a RecordParser as JavaScript source specialized to one schema and
 * dialect, compiled once per parser with `new Function` (as uDSV does): the fields are unrolled
 * in order, delimiter and stop bytes are literals, each column's TypedArray is a closure constant,
 * and numbers are parsed digit by digit as they are scanned. A generic loop with a switch per
 * field ran at about half the speed on seed 004's records (measured with bench/cases/io-*.js).
 *
 * The generated function handles well-formed records only. On anything else (a quote, a bad or
 * null value, spaces around a number, a comment after the last field, a missing or extra field)
 * it hands the record, from its first byte, to the parser's general path (`slow`), which
 * re-parses it with every check; a record is therefore written either entirely by the fast path
 * or entirely by the slow one.
 *
 * Nothing from the input reaches the generated source: only numbers (bytes, widths, ranges) and
 * fixed identifiers are interpolated.
 */
import {
  K_BYTES,
  K_F4,
  K_F8,
  K_I1,
  K_I2,
  K_I4,
  K_I8,
  K_SKIP,
  K_U1,
  K_U2,
  K_U4,
  K_UTF8,
  kIntMax,
  kIntMin,
} from './fields.js';
import { f64FromParts, toF32 } from './float.js';

/** Parser state the generated code reads and updates. */
export interface FastState {
  row: number;
  rowEnd: number;
  line: number;
  status: number;
}

export interface FastHooks {
  /** General path for the record at `rs`: position after it, or -1 when more bytes are needed. */
  slow(buf: Uint8Array, rs: number, end: number, eof: boolean): number;
  /** Tokenize + bounded converter for field `f`: separator position, or -1 to go slow. */
  generic(buf: Uint8Array, pos: number, f: number, row: number): number;
  /** Position after a blank or comment-only line starting at `pos`, or -1. */
  blank(buf: Uint8Array, pos: number): number;
  overflow(): never;
}

export interface FastSpec {
  /** Delimiter byte, or -1 for whitespace runs. */
  delimiter: number;
  quote: number;
  comment: number;
  /**
   * Per field: kind (K_GENERIC for the bounded converter, or K_UTF8 for a utf8 column written
   * through it whose end offsets the fast path commits), data array, width for |S<n>, target.
   */
  fields: ReadonlyArray<{ kind: number; data: unknown; width: number; target: unknown }>;
}

export type FastParse = (
  buf: Uint8Array,
  pos: number,
  end: number,
  limit: number,
  eof: boolean,
) => number;

const kPow10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Compiles the fast path for `spec`, bound to `state` and `hooks`. */
export function compileFastPath(spec: FastSpec, state: FastState, hooks: FastHooks): FastParse {
  const ws = spec.delimiter < 0;
  const stops = ws ? [32, 9, 10, 13] : [spec.delimiter, 10, 13];
  if (spec.comment >= 0) stops.push(spec.comment);
  if (spec.quote >= 0) stops.push(spec.quote);
  const maxStop = Math.max(...stops);
  // `c` is the byte at `pos`; the loop runs while it is not a stop byte. Most field bytes are
  // above every stop byte, so test that first.
  const notStop = `(c = buf[pos]) > ${maxStop} || (${stops.map((b) => `c !== ${b}`).join(' && ')})`;
  const quoteTest = spec.quote >= 0 ? ` || c === ${spec.quote}` : '';
  const last = spec.fields.length - 1;
  const lines: string[] = [];
  const out = (s: string): void => {
    lines.push(s);
  };

  spec.fields.forEach((field, f) => {
    const k = field.kind;
    out(`// field ${f}`);
    if (k === K_I1 || k === K_I2 || k === K_I4 || k === K_U1 || k === K_U2 || k === K_U4) {
      out(`{ let p = pos; c = buf[p]; let neg = false;
        if (c === 45) { neg = true; c = buf[++p]; } else if (c === 43) c = buf[++p];
        const ds = p; let v = 0, d = 0;
        while ((d = (c - 48) >>> 0) < 10) { v = v * 10 + d; c = buf[++p]; }
        if (p === ds || p - ds > 10) break rec;
        if (neg) v = -v;
        if (v > ${kIntMax[k]} || v < ${kIntMin[k]}) break rec;
        C${f}[row] = v; pos = p; }`);
    } else if (k === K_I8) {
      out(`{ let p = pos; c = buf[p]; let neg = false;
        if (c === 45) { neg = true; c = buf[++p]; } else if (c === 43) c = buf[++p];
        const ds = p; let v = 0, d = 0;
        while ((d = (c - 48) >>> 0) < 10) { v = v * 10 + d; c = buf[++p]; }
        if (p === ds || p - ds > 15) break rec;
        C${f}[row] = BigInt(neg ? -v : v); pos = p; }`);
    } else if (k === K_F8 || k === K_F4) {
      // w: the first 15 significant digits (exact); w2/k2: up to 4 more; beyond, only whether
      // a nonzero digit was dropped. Short numbers take one exact IEEE operation; longer ones go
      // to Eisel-Lemire without scanning the text again (f64FromParts).
      out(`{ const s = pos; let p = pos; c = buf[p]; let neg = false;
        if (c === 45) { neg = true; c = buf[++p]; } else if (c === 43) c = buf[++p];
        let w = 0, w2 = 0, k2 = 0, nd = 0, digits = 0, e = 0, d = 0, trunc = false;
        while ((d = (c - 48) >>> 0) < 10) {
          if (nd < 15) { w = w * 10 + d; if (w !== 0) nd++; }
          else if (nd < 19) { w2 = w2 * 10 + d; k2++; nd++; }
          else { if (d !== 0) trunc = true; e++; }
          digits++; c = buf[++p];
        }
        if (c === 46) { c = buf[++p]; while ((d = (c - 48) >>> 0) < 10) {
          if (nd < 15) { w = w * 10 + d; if (w !== 0) nd++; e--; }
          else if (nd < 19) { w2 = w2 * 10 + d; k2++; nd++; e--; }
          else if (d !== 0) trunc = true;
          digits++; c = buf[++p];
        } }
        if (digits === 0) {
          pos = generic(buf, pos, ${f}, row);
          if (pos < 0) break rec;
          c = buf[pos];
        } else {
          if (c === 101 || c === 69) {
            c = buf[++p]; let eneg = false;
            if (c === 45) { eneg = true; c = buf[++p]; } else if (c === 43) c = buf[++p];
            const es = p; let x = 0;
            while ((d = (c - 48) >>> 0) < 10) { if (x < 100000) x = x * 10 + d; c = buf[++p]; }
            if (p === es) break rec;
            e += eneg ? -x : x;
          }
          let v;
          if (nd <= 15 && e >= -22 && e <= 22) { v = e < 0 ? w / P10[-e] : w * P10[e]; if (neg) v = -v; }
          else v = fromParts(w, w2, k2, nd, e, trunc, neg, buf, s, p);
          ${
            k === K_F8
              ? `C${f}[row] = v;`
              : `SF[0] = v; C${f}[row] = (SU[0] & 0x0fffffff) !== 0 ? v : toF32(v, buf, s, p);`
          }
          pos = p;
        } }`);
    } else if (k === K_BYTES) {
      const w = field.width;
      out(`{ const s = pos;
        while (${notStop}) pos++;
        const n = pos - s;
        if (n > ${w}${quoteTest}) break rec;
        ${
          w <= 64
            ? `const at = row * ${w};
        for (let i = 0; i < n; i++) C${f}[at + i] = buf[s + i];
        for (let i = n; i < ${w}; i++) C${f}[at + i] = 0;`
            : `C${f}.set(buf.subarray(s, pos), row * ${w}); C${f}.fill(0, row * ${w} + n, row * ${w} + ${w});`
        } }`);
    } else if (k === K_SKIP) {
      out(`while (${notStop}) pos++;`);
      if (spec.quote >= 0) out(`if (c === ${spec.quote}) break rec;`);
    } else {
      out(`pos = generic(buf, pos, ${f}, row); if (pos < 0) break rec; c = buf[pos];`);
    }
    // The separator after the field (`c` holds buf[pos]).
    if (f < last) {
      if (ws) {
        out(`if (c !== 32 && c !== 9) break rec;
          do c = buf[++pos]; while (c === 32 || c === 9);
          if (c === 10 || c === 13${spec.comment >= 0 ? ` || c === ${spec.comment}` : ''}) break rec;`);
      } else {
        out(`if (c !== ${spec.delimiter}) break rec; pos++;`);
      }
    } else {
      out(
        `if (c === 10) pos++; else if (c === 13 && buf[pos + 1] === 10) pos += 2; else break rec;`,
      );
    }
  });

  // utf8 columns: the row's end offset, written once the record is complete.
  const commit = spec.fields
    .map((field, f) =>
      field.kind === K_UTF8 && field.data !== undefined ? `C${f}[row + 1] = U${f}.cursor;` : '',
    )
    .join(' ');

  const body = `
  'use strict';
  return function fastParse(buf, pos, end, limit, eof) {
    let row = st.row; const rowEnd = st.rowEnd; let line = st.line; let c = 0;
    while (pos < end) {
      if (pos >= limit) { st.row = row; st.line = line; st.status = 1; return pos; }
      c = buf[pos];
      if (c === 10) { pos++; line++; continue; }
      if (c === 13 || c === 32 || c === 9${spec.comment >= 0 ? ` || c === ${spec.comment}` : ''}) {
        const q = blank(buf, pos);
        if (q >= 0) { pos = q; line++; continue; }
        ${ws ? 'while (buf[pos] === 32 || buf[pos] === 9) pos++;' : ''}
      }
      if (row >= rowEnd) overflow();
      const rs = pos;
      rec: {
        ${lines.join('\n        ')}
        ${commit}
        row++; line++;
        continue;
      }
      st.row = row; st.line = line;
      const next = slow(buf, rs, end, eof);
      if (next < 0) { st.status = 2; return rs; }
      row = st.row; line = st.line; pos = next;
    }
    st.row = row; st.line = line; st.status = 0;
    return pos;
  };`;

  const names = [
    'st',
    'slow',
    'generic',
    'blank',
    'overflow',
    'P10',
    'SF',
    'SU',
    'fromParts',
    'toF32',
  ];
  const sf = new Float64Array(1);
  const values: unknown[] = [
    state,
    hooks.slow,
    hooks.generic,
    hooks.blank,
    hooks.overflow,
    kPow10,
    sf,
    new Uint32Array(sf.buffer),
    f64FromParts,
    toF32,
  ];
  spec.fields.forEach((field, f) => {
    names.push(`C${f}`, `U${f}`);
    values.push(field.data, field.target);
  });
  // One function per parser, not one shared factory per schema: V8 specializes a closure on its
  // context (the column arrays become constants); closures sharing one function lose that and
  // ran 4x slower here. Loaders reuse a parser across the parts a worker handles instead.
  const factory = new Function(...names, body) as (...args: unknown[]) => FastParse;
  return factory(...values);
}
