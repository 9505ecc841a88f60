/**
 * UTF-8 validation of a byte slice (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF). Callers check for the all-ASCII case first; this runs only on slices with a byte
 * >= 0x80.
 */

/** Index of the first byte of the first invalid sequence in `buf[s, e)`, or -1 when valid. */
export function invalidUtf8At(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e) {
    const c = buf[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + need >= e) return i;
    for (let k = 1; k <= need; k++) {
      const b = buf[i + k] as number;
      if ((b & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
