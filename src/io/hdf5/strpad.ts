/**
 * h5py writes numpy's `|S<n>` as NUL-padded (H5T_STR_NULLPAD) fixed-length strings; h5wasm can
 * only create NUL-terminated (ASCII) or space-padded (UTF-8) ones. The difference matters: a
 * NUL-terminated string of n bytes has room for n - 1 characters, so readers other than h5py
 * may cut the last character of a full-width value. So after writing, the padding field of each
 * fixed-length string datatype we created is set to NULLPAD in place.
 *
 * The files are written with the earliest format (as h5py does by default), whose object headers
 * carry no checksums, so the change is one byte per datatype. The datatype messages are found by
 * exact byte patterns that include their context (a compound member's name, offset and padding;
 * a dataset's datatype message header), searched only in the metadata written before any data.
 * Every string datatype must be found exactly once, or the write fails.
 */
import { closeWrite, openWrite, writeAll } from '../atomic.js';
import { closeQuietly, readAt } from '../text/file.js';
import { CorruptError } from '../../errors.js';

export interface StringType {
  /** Compound member name, or undefined for a dataset's own datatype. */
  member?: string;
  /** Member offset in the record. */
  offset?: number;
  size: number;
  /** 0 ASCII, 1 UTF-8. */
  cset: number;
}

const u32 = (n: number): number[] => [
  n & 0xff,
  (n >>> 8) & 0xff,
  (n >>> 16) & 0xff,
  (n >>> 24) & 0xff,
];

/** The datatype bytes as h5wasm writes them (pad: NULLTERM for ASCII, SPACEPAD for UTF-8). */
function typeBytes(t: StringType, pad: number): number[] {
  return [0x13, (t.cset << 4) | pad, 0, 0, ...u32(t.size)];
}

function patternFor(t: StringType): { bytes: number[]; at: number } {
  const written = typeBytes(t, t.cset === 0 ? 0 : 2);
  if (t.member !== undefined) {
    // Compound datatype version 1 member: name NUL-padded to 8 bytes, offset (4), dimensionality,
    // reserved (3), permutation (4), reserved (4), dimension sizes (16): all zero for a scalar.
    const name = [...Buffer.from(t.member, 'utf8'), 0];
    while (name.length % 8 !== 0) name.push(0);
    const head = [...name, ...u32(t.offset ?? 0), ...new Array<number>(28).fill(0)];
    return { bytes: [...head, ...written], at: head.length + 1 };
  }
  // A datatype message in a version 1 object header: type 3, size 8, flags 1 (constant), reserved.
  const head = [0x03, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00];
  return { bytes: [...head, ...written], at: head.length + 1 };
}

function find(hay: Uint8Array, needle: number[], from: number): number {
  const first = needle[0] as number;
  for (
    let i = hay.indexOf(first, from);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(first, i + 1)
  ) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** Sets NULLPAD on every string datatype in `types`, searching the first `metadataBytes`. */
export function patchStringPadding(
  temp: string,
  path: string,
  metadataBytes: number,
  types: readonly StringType[],
): void {
  if (types.length === 0) return;
  const fd = openWrite(temp, path, 'r+');
  try {
    const buf = Buffer.alloc(metadataBytes);
    const n = readAt(fd, path, buf, 0, metadataBytes, 0);
    const hay = buf.subarray(0, n);
    // Identical datatypes (e.g. two columns of |S10) have identical patterns: patch every match,
    // and expect as many matches as datatypes.
    const groups = new Map<
      string,
      { pattern: { bytes: number[]; at: number }; count: number; t: StringType }
    >();
    for (const t of types) {
      const pattern = patternFor(t);
      const key = pattern.bytes.join(',');
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { pattern, count: 1, t });
      else g.count++;
    }
    for (const { pattern, count, t } of groups.values()) {
      const hits: number[] = [];
      for (let i = find(hay, pattern.bytes, 0); i >= 0; i = find(hay, pattern.bytes, i + 1))
        hits.push(i);
      if (hits.length !== count)
        throw new CorruptError(
          `Cannot set NUL padding on the string type ${t.member === undefined ? '' : `of member ${JSON.stringify(t.member)} `}(|S${t.size}): found ${hits.length} of ${count} datatype message(s)`,
        );
      for (const i of hits) {
        writeAll(fd, path, Buffer.from([(t.cset << 4) | 1]), i + pattern.at);
      }
    }
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
  closeWrite(fd, path);
}
