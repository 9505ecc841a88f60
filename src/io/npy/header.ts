/**
 * The `.npy` header, byte-compatible with numpy's `np.save` (format versions 1.0, 2.0 and 3.0):
 * the magic `\x93NUMPY`, the version, the header length (uint16 for 1.0, uint32 for 2.0/3.0),
 * then a Python dict literal `{'descr': ..., 'fortran_order': False, 'shape': (...), }` padded
 * with spaces (numpy reserves room to grow the first axis in place) and a newline so the data
 * starts on a 64-byte boundary. Reading accepts any header numpy writes; descr may be a typestr
 * or a list of `(name, typestr)` fields (a structured dtype).
 */
import { CorruptError, DtypeError } from '../../errors.js';

export const kNpyMagic = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const kAlign = 64;
const kGrowthAxisMaxDigits = 21;

/** One field of a structured dtype. */
export interface NpyField {
  name: string;
  /** numpy typestr: `<f8`, `|S10`, `<U5`, `>i4`... */
  descr: string;
}

export interface NpyHeader {
  /** A typestr, or the fields of a structured dtype. */
  descr: string | NpyField[];
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the data. */
  dataOffset: number;
  version: [number, number];
}

/** Python's repr of a str (enough for field names: quotes, backslashes, control characters). */
export function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Encodes a header exactly as numpy 1.24 does (`np.save`). */
export function encodeHeader(
  descr: string | readonly NpyField[],
  shape: readonly number[],
): Uint8Array {
  const d =
    typeof descr === 'string'
      ? pyRepr(descr)
      : `[${descr.map((f) => `(${pyRepr(f.name)}, ${pyRepr(f.descr)})`).join(', ')}]`;
  let text = `{'descr': ${d}, 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0)
    text += ' '.repeat(Math.max(0, kGrowthAxisMaxDigits - String(shape[0]).length));
  // Version 1.0 is latin-1 with a uint16 length; 3.0 is UTF-8 (names beyond latin-1); 2.0 has a
  // uint32 length for headers over 64 KiB.
  let latin1 = true;
  for (let i = 0; i < text.length && latin1; i++) latin1 = text.charCodeAt(i) <= 0xff;
  const body = latin1 ? Buffer.from(text, 'latin1') : Buffer.from(text, 'utf8');
  let version: [number, number] = latin1 ? [1, 0] : [3, 0];
  let prefix = version[0] === 1 ? 10 : 12;
  const hlen = body.length + 1;
  let pad = kAlign - ((prefix + hlen) % kAlign);
  if (pad === kAlign) pad = 0;
  if (version[0] === 1 && hlen + pad > 0xffff) {
    version = [2, 0];
    prefix = 12;
    pad = kAlign - ((prefix + hlen) % kAlign);
    if (pad === kAlign) pad = 0;
  }
  const total = prefix + hlen + pad;
  const out = Buffer.alloc(total, 0x20);
  out.set(kNpyMagic, 0);
  out[6] = version[0];
  out[7] = version[1];
  if (prefix === 10) out.writeUInt16LE(hlen + pad, 8);
  else out.writeUInt32LE(hlen + pad, 8);
  out.set(body, prefix);
  out[total - 1] = 0x0a;
  return out;
}

// ---------------------------------------------------------------------- reading

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

/**
 * Deepest nesting of brackets a header may use. numpy's own headers nest at most a few levels (a
 * structured dtype of subarray fields); without a bound, a crafted header thousands of levels
 * deep overflowed the stack with an uncoded RangeError.
 */
const kMaxDepth = 64;

/** The keys numpy writes and requires, exactly (numpy's `_read_array_header`). */
const kHeaderKeys = ['descr', 'fortran_order', 'shape'];

/** A small parser for the Python literals numpy headers use. */
class Literal {
  #s: string;
  #i = 0;
  #depth = 0;
  /** The sequences written with parentheses: Python tuples (numpy requires `shape` to be one). */
  readonly tuples = new WeakSet<PyValue[]>();
  constructor(s: string) {
    this.#s = s;
  }
  #enter(): void {
    if (++this.#depth > kMaxDepth) this.#fail(`at most ${kMaxDepth} levels of nested brackets`);
  }
  #ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i] as string)) this.#i++;
  }
  #fail(what: string): never {
    throw new CorruptError(
      `Cannot read the .npy header: expected ${what} at character ${this.#i} of ${JSON.stringify(this.#s.slice(0, 200))}`,
    );
  }
  value(): PyValue {
    this.#ws();
    const c = this.#s[this.#i];
    if (c === '{') return this.#dict();
    if (c === '(' || c === '[') return this.#seq(c === '(' ? ')' : ']');
    if (c === "'" || c === '"') return this.#str();
    const m = /^(True|False|None|-?\d+L?)/.exec(this.#s.slice(this.#i));
    if (m === null) this.#fail('a value');
    this.#i += (m[0] as string).length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number((m[0] as string).replace('L', ''));
  }
  #str(): string {
    const q = this.#s[this.#i];
    this.#i++;
    let out = '';
    for (;;) {
      if (this.#i >= this.#s.length) this.#fail('the end of a string');
      const c = this.#s[this.#i++] as string;
      if (c === q) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.#s[this.#i++] as string;
      if (e === 'n') out += '\n';
      else if (e === 't') out += '\t';
      else if (e === 'r') out += '\r';
      else if (e === 'x') {
        out += String.fromCharCode(parseInt(this.#s.slice(this.#i, this.#i + 2), 16));
        this.#i += 2;
      } else if (e === 'u') {
        out += String.fromCharCode(parseInt(this.#s.slice(this.#i, this.#i + 4), 16));
        this.#i += 4;
      } else out += e;
    }
  }
  #seq(close: string): PyValue[] {
    this.#enter();
    this.#i++;
    const out: PyValue[] = [];
    if (close === ')') this.tuples.add(out);
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === close) {
        this.#i++;
        this.#depth--;
        return out;
      }
      out.push(this.value());
      this.#ws();
      if (this.#s[this.#i] === ',') this.#i++;
      else if (this.#s[this.#i] !== close) this.#fail(`',' or '${close}'`);
    }
  }
  #dict(): { [k: string]: PyValue } {
    this.#enter();
    this.#i++;
    const out: { [k: string]: PyValue } = Object.create(null) as { [k: string]: PyValue };
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === '}') {
        this.#i++;
        this.#depth--;
        return out;
      }
      const k = this.value();
      if (typeof k !== 'string') this.#fail('a string key');
      this.#ws();
      if (this.#s[this.#i] !== ':') this.#fail("':'");
      this.#i++;
      out[k] = this.value();
      this.#ws();
      if (this.#s[this.#i] === ',') this.#i++;
      else if (this.#s[this.#i] !== '}') this.#fail("',' or '}'");
    }
  }
}

/** Decodes the header at the start of `bytes` (which must hold all of it); throws CorruptError. */
export function decodeHeader(bytes: Uint8Array, what: string): NpyHeader {
  for (let i = 0; i < 6; i++) {
    if (bytes[i] !== kNpyMagic[i])
      throw new CorruptError(`${what} is not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = bytes[6] as number;
  const minor = bytes[7] as number;
  if (major < 1 || major > 3)
    throw new CorruptError(
      `${what} uses .npy format version ${major}.${minor}; versions 1.0 to 3.0 are supported`,
    );
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  if (prefix + hlen > bytes.length) throw new CorruptError(`${what}: the .npy header is truncated`);
  const text = b.toString(major === 3 ? 'utf8' : 'latin1', prefix, prefix + hlen);
  // Validated as numpy validates it (`numpy.lib.format._read_array_header`), so that a header
  // numpy refuses is refused here too rather than read some other way (a `fortran_order: 1`
  // read as C order returned a 2-d array transposed).
  const literal = new Literal(text);
  const v = literal.value();
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new CorruptError(
      `${what}: the .npy header is not a dict: ${JSON.stringify(text.slice(0, 200))}`,
    );
  const keys = Object.keys(v).sort();
  if (keys.length !== kHeaderKeys.length || keys.some((k, i) => k !== kHeaderKeys[i]))
    throw new CorruptError(
      `${what}: the .npy header must have exactly the keys 'descr', 'fortran_order' and 'shape', got ${keys.map((k) => `'${k}'`).join(', ') || 'none'}`,
    );
  const shape = v['shape'];
  if (
    !Array.isArray(shape) ||
    !literal.tuples.has(shape) ||
    !shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)
  )
    throw new CorruptError(
      `${what}: the .npy header's shape must be a tuple of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  const fo = v['fortran_order'];
  if (typeof fo !== 'boolean')
    throw new CorruptError(
      `${what}: the .npy header's fortran_order must be True or False, got ${fo === null ? 'None' : JSON.stringify(fo)}`,
    );
  const fortranOrder = fo;
  const d = v['descr'];
  let descr: string | NpyField[];
  if (typeof d === 'string') descr = d;
  else if (Array.isArray(d)) {
    descr = d.map((f) => {
      if (
        !Array.isArray(f) ||
        typeof f[0] !== 'string' ||
        typeof f[1] !== 'string' ||
        f.length !== 2
      ) {
        throw new DtypeError(
          `${what}: structured field ${JSON.stringify(f)} is not supported (nested, subarray or titled fields): only flat (name, typestr) fields`,
        );
      }
      return { name: f[0], descr: f[1] };
    });
  } else throw new CorruptError(`${what}: bad descr in the .npy header`);
  return {
    descr,
    fortranOrder,
    shape: shape as number[],
    dataOffset: prefix + hlen,
    version: [major, minor],
  };
}
