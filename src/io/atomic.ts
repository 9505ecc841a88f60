/**
 * Writers create their output under a temporary name next to the destination and rename it into
 * place only when complete, so a failed or interrupted write never leaves a truncated file under
 * the requested name (and never clobbers an existing good one).
 */
import { close, closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ioError } from './text/file.js';

let counter = 0;

/** A temporary path in the destination's directory (same filesystem, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${++counter}.tmp`);
}

/**
 * Runs `fn(tempPath)` and renames the result to `path`; removes the temporary file on failure.
 *
 * Replacing a large file makes the filesystem release the old one's blocks and cached pages, in
 * the rename that drops its last name (tens of milliseconds for 100 MB on ext4). Where an open file
 * can be renamed over (not on Windows), the old file is opened first and closed in the
 * background after the rename, so that release happens on libuv's thread pool instead of
 * delaying the caller; the new file is in place when this resolves either way.
 */
export async function writeAtomically<T>(
  path: string,
  fn: (temp: string) => Promise<T> | T,
): Promise<T> {
  const temp = tempPathFor(path);
  try {
    const result = await fn(temp);
    let old = -1;
    if (process.platform !== 'win32') {
      try {
        old = openSync(path, 'r');
      } catch {
        // No file to replace (or not readable): nothing to release later.
      }
    }
    try {
      renameSync(temp, path);
    } catch (err) {
      throw ioError(path, 'write', err);
    } finally {
      if (old >= 0) close(old, () => {});
    }
    return result;
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already gone.
    }
    throw err;
  }
}

/** A file descriptor for writing, with errors naming the final path. */
export function openWrite(temp: string, path: string, flags: 'w' | 'w+' | 'r+' = 'w'): number {
  try {
    return openSync(temp, flags);
  } catch (err) {
    throw ioError(path, 'write', err);
  }
}

/** Writes all of `data` at `position` (or at the current position when undefined). */
export function writeAll(fd: number, path: string, data: Uint8Array, position?: number): void {
  try {
    let done = 0;
    while (done < data.length) {
      const n = writeSync(
        fd,
        data,
        done,
        data.length - done,
        position === undefined ? null : position + done,
      );
      done += n;
    }
  } catch (err) {
    throw ioError(path, 'write', err);
  }
}

export function closeWrite(fd: number, path: string): void {
  try {
    closeSync(fd);
  } catch (err) {
    throw ioError(path, 'write', err);
  }
}

/** Byte views of at most `chunk` bytes covering `[offset, offset + length)` of `buffer`. */
export function* byteChunks(
  buffer: ArrayBufferLike,
  offset: number,
  length: number,
  chunk = 1 << 30,
): Generator<Uint8Array> {
  for (let at = 0; at < length; at += chunk)
    yield new Uint8Array(buffer, offset + at, Math.min(chunk, length - at));
}
