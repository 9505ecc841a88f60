/**
 * A dictionary of byte strings to dense int32 codes (in order of first insertion), looked up
 * straight from a slice of a read buffer: category columns find their code without making a JS
 * string per field. Open addressing with FNV-1a hashes; keys live in one growing byte arena.
 */

const kEmpty = -1;

export class ByteDict {
  #slots: Int32Array;
  #hashes: Int32Array;
  #arena: Uint8Array;
  #arenaUsed = 0;
  #offsets: Int32Array;
  #size = 0;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.#slots = new Int32Array(cap).fill(kEmpty);
    this.#hashes = new Int32Array(Math.max(8, expected));
    this.#offsets = new Int32Array(Math.max(8, expected) + 1);
    this.#arena = new Uint8Array(1024);
  }

  /** A dictionary holding `values` with codes 0..n-1 in order (duplicates are refused). */
  static from(values: readonly string[]): ByteDict {
    const d = new ByteDict(values.length);
    for (const v of values) {
      const b = Buffer.from(v, 'utf8');
      if (d.find(b, 0, b.length) !== kEmpty) throw new Error(`duplicate dictionary value ${v}`);
      d.add(b, 0, b.length);
    }
    return d;
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes of all keys. */
  get byteLength(): number {
    return this.#arenaUsed;
  }

  static hash(buf: Uint8Array, s: number, e: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = s; i < e; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
    return h;
  }

  /** The code of `buf[s, e)`, or -1. */
  find(buf: Uint8Array, s: number, e: number, h = ByteDict.hash(buf, s, e)): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const len = e - s;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const code = slots[i] as number;
      if (code === kEmpty) return kEmpty;
      if (this.#hashes[code] !== h) continue;
      const at = this.#offsets[code] as number;
      if ((this.#offsets[code + 1] as number) - at !== len) continue;
      const arena = this.#arena;
      let j = 0;
      while (j < len && arena[at + j] === buf[s + j]) j++;
      if (j === len) return code;
    }
  }

  /** The code of `buf[s, e)`, adding it when new. */
  intern(buf: Uint8Array, s: number, e: number): number {
    const h = ByteDict.hash(buf, s, e);
    const code = this.find(buf, s, e, h);
    return code !== kEmpty ? code : this.add(buf, s, e, h);
  }

  /** Adds a key known to be absent; returns its code. */
  add(buf: Uint8Array, s: number, e: number, h = ByteDict.hash(buf, s, e)): number {
    const len = e - s;
    if (this.#arenaUsed + len > this.#arena.length) {
      let cap = this.#arena.length * 2;
      while (cap < this.#arenaUsed + len) cap *= 2;
      const a = new Uint8Array(cap);
      a.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = a;
    }
    const code = this.#size;
    if (code + 1 >= this.#offsets.length) {
      const o = new Int32Array(this.#offsets.length * 2);
      o.set(this.#offsets);
      this.#offsets = o;
      const hs = new Int32Array(this.#hashes.length * 2);
      hs.set(this.#hashes);
      this.#hashes = hs;
    }
    this.#arena.set(buf.subarray(s, e), this.#arenaUsed);
    this.#arenaUsed += len;
    this.#offsets[code + 1] = this.#arenaUsed;
    this.#hashes[code] = h;
    this.#size++;
    if (this.#size * 2 > this.#slots.length) this.#rehash();
    else this.#place(code, h);
    return code;
  }

  #place(code: number, h: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let i = h & mask;
    while (slots[i] !== kEmpty) i = (i + 1) & mask;
    slots[i] = code;
  }

  #rehash(): void {
    this.#slots = new Int32Array(this.#slots.length * 2).fill(kEmpty);
    for (let c = 0; c < this.#size; c++) this.#place(c, this.#hashes[c] as number);
  }

  /** The bytes of key `code`. */
  bytes(code: number): Uint8Array {
    return this.#arena.subarray(this.#offsets[code], this.#offsets[code + 1]);
  }

  /** Every key as a string, in code order. */
  values(): string[] {
    const out: string[] = new Array<string>(this.#size);
    for (let c = 0; c < this.#size; c++) out[c] = Buffer.from(this.bytes(c)).toString('utf8');
    return out;
  }
}
