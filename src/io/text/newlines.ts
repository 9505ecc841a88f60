/**
 * Counting newlines 16 bytes at a time: a 250-byte WebAssembly SIMD module, written out below
 * opcode by opcode (there is no other wasm in shmframe, so no toolchain for it). The scan pass
 * (`scan.ts`) needs, per chunk of a file without quoting, the newlines and the line starts that
 * begin a blank or comment line; a native memchr per line (Buffer.indexOf) costs a call per line;
 * with this, one thread scans seed 004's 97 MB, reads included, in 12-14 ms instead of 46-49.
 * Where WebAssembly SIMD is missing, `newlineCounter()` returns undefined and the scan keeps its
 * memchr loop.
 */

/** Reads into, and counts in, one wasm memory. */
export interface NewlineCounter {
  /** Where to read a chunk of up to `n` bytes (a view of the wasm memory; valid until the next call). */
  buffer(n: number): Uint8Array;
  /**
   * Over the first `n` bytes of `buffer()`: newline bytes, and newlines followed (inside the
   * chunk) by a newline, a CR or `comment` (the next line is blank or a comment).
   */
  count(n: number, comment: number): { lf: number; blank: number };
}

// Locals: 0 ptr, 1 len, 2 comment (params); 3 i, 4 end, 5 lf, 6 blank, 7 c (i32);
// 8 splat(LF), 9 splat(CR), 10 splat(comment), 11 next 16 bytes, 12 newline mask (v128).
// Memory: bytes 0-3 receive `blank`; data from byte 16.
const body = [
  [0x02, 0x05, 0x7f, 0x05, 0x7b], // locals: 5 x i32, 5 x v128
  [0x41, 0x0a, 0xfd, 0x0f, 0x21, 0x08], // l8 = i8x16.splat(10)
  [0x41, 0x0d, 0xfd, 0x0f, 0x21, 0x09], // l9 = i8x16.splat(13)
  [0x20, 0x02, 0xfd, 0x0f, 0x21, 0x0a], // l10 = i8x16.splat(comment)
  [0x20, 0x00, 0x21, 0x03], // i = ptr
  [0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x04], // end = ptr + len
  // while (i + 17 <= end): 16 positions per step, the byte after each read too
  [0x02, 0x40, 0x03, 0x40],
  [0x20, 0x03, 0x41, 0x11, 0x6a, 0x20, 0x04, 0x4b, 0x0d, 0x01], // if (i + 17 > end) break
  [0x20, 0x03, 0xfd, 0x00, 0x00, 0x00], // v128.load(i)
  [0x20, 0x08, 0xfd, 0x23, 0x22, 0x0c], // l12 = eq(bytes, LF)
  [0xfd, 0x64, 0x69, 0x20, 0x05, 0x6a, 0x21, 0x05], // lf += popcnt(bitmask(l12))
  [0x20, 0x03, 0xfd, 0x00, 0x00, 0x01, 0x22, 0x0b], // l11 = v128.load(i + 1)
  [0x20, 0x08, 0xfd, 0x23], // eq(next, LF)
  [0x20, 0x0b, 0x20, 0x09, 0xfd, 0x23, 0xfd, 0x50], // | eq(next, CR)
  [0x20, 0x0b, 0x20, 0x0a, 0xfd, 0x23, 0xfd, 0x50], // | eq(next, comment)
  [0x20, 0x0c, 0xfd, 0x4e], // & l12
  [0xfd, 0x64, 0x69, 0x20, 0x06, 0x6a, 0x21, 0x06], // blank += popcnt(bitmask(...))
  [0x20, 0x03, 0x41, 0x10, 0x6a, 0x21, 0x03], // i += 16
  [0x0c, 0x00, 0x0b, 0x0b], // continue; end loop; end block
  // while (i < end): the last 0-16 bytes one at a time
  [0x02, 0x40, 0x03, 0x40],
  [0x20, 0x03, 0x20, 0x04, 0x4f, 0x0d, 0x01], // if (i >= end) break
  [0x20, 0x03, 0x2d, 0x00, 0x00, 0x41, 0x0a, 0x46, 0x04, 0x40], // if (mem[i] == LF) {
  [0x20, 0x05, 0x41, 0x01, 0x6a, 0x21, 0x05], // lf++
  [0x20, 0x03, 0x41, 0x01, 0x6a, 0x20, 0x04, 0x49, 0x04, 0x40], // if (i + 1 < end) {
  [0x20, 0x03, 0x2d, 0x00, 0x01, 0x22, 0x07], // c = mem[i + 1]
  [0x41, 0x0a, 0x46, 0x20, 0x07, 0x41, 0x0d, 0x46, 0x72], // c == LF | c == CR
  [0x20, 0x07, 0x20, 0x02, 0x46, 0x72, 0x04, 0x40], // | c == comment: if {
  [0x20, 0x06, 0x41, 0x01, 0x6a, 0x21, 0x06], // blank++
  [0x0b, 0x0b, 0x0b], // } } }
  [0x20, 0x03, 0x41, 0x01, 0x6a, 0x21, 0x03], // i++
  [0x0c, 0x00, 0x0b, 0x0b], // continue; end loop; end block
  [0x41, 0x00, 0x20, 0x06, 0x36, 0x02, 0x00], // mem32[0] = blank
  [0x20, 0x05, 0x0b], // return lf
].flat();

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const section = (id: number, content: number[]): number[] => [
  id,
  ...uleb(content.length),
  ...content,
];

const moduleBytes = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]), // (i32, i32, i32) -> i32
  ...section(3, [0x01, 0x00]),
  ...section(5, [0x01, 0x00, 0x01]), // memory: 1 page to start
  ...section(7, [
    ...[0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00], // "mem"
    ...[0x05, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x00, 0x00], // "count"
  ]),
  ...section(10, [0x01, ...uleb(body.length), ...body]),
]);

/** The part of the WebAssembly API used here (the compile target's lib has no DOM types). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

const kData = 16;
let instance: NewlineCounter | null | undefined;

/** This thread's counter, or undefined where WebAssembly SIMD is unavailable. */
export function newlineCounter(): NewlineCounter | undefined {
  if (instance === undefined) {
    try {
      const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
      const inst = new wasm.Instance(new wasm.Module(moduleBytes));
      const mem = inst.exports['mem'] as WasmMemory;
      const fn = inst.exports['count'] as (ptr: number, len: number, comment: number) => number;
      let bytes = new Uint8Array(mem.buffer);
      let words = new Int32Array(mem.buffer, 0, 4);
      instance = {
        buffer(n) {
          if (kData + n > bytes.length) {
            mem.grow(Math.ceil((kData + n - bytes.length) / 65536));
            bytes = new Uint8Array(mem.buffer);
            words = new Int32Array(mem.buffer, 0, 4);
          }
          return bytes.subarray(kData, kData + n);
        },
        count(n, comment) {
          // No comment character: LF again (an i8x16.splat of -1 would match 0xff bytes).
          const lf = fn(kData, n, comment < 0 || comment > 255 ? 10 : comment);
          return { lf, blank: words[0] as number };
        },
      };
    } catch {
      instance = null;
    }
  }
  return instance ?? undefined;
}
