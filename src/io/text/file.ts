/**
 * Synchronous file access for the loaders (they run in dedicated pool workers), with every
 * failure turned into SHMFRAME_ERR_IO naming the file.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ShmframeIOError } from '../../errors.js';

/** The nearest folder above `path` that does not exist, or undefined when its folder exists. */
function missingFolder(path: string): string | undefined {
  let missing: string | undefined;
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    try {
      if (statSync(dir).isDirectory()) return missing;
      return undefined; // a file where a folder should be: ENOTDIR's message says it
    } catch {
      missing = dir;
    }
    if (dirname(dir) === dir) return missing;
  }
}

/** SHMFRAME_ERR_IO for a failed file operation, naming the file and the reason in words. */
export function ioError(path: string, action: string, err: unknown): ShmframeIOError {
  const e = err as NodeJS.ErrnoException;
  const folder = e.code === 'ENOENT' ? missingFolder(path) : undefined;
  const why =
    folder !== undefined
      ? `the folder ${JSON.stringify(folder)} does not exist` +
        (action === 'read'
          ? ''
          : ` (create it first: mkdir -p ${JSON.stringify(dirname(resolve(path)))})`)
      : e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'it is a directory'
            : (e.message ?? String(err));
  return new ShmframeIOError(`Cannot ${action} ${JSON.stringify(path)}: ${why}`, {
    cause: err,
    details: { path, code: e.code ?? '' },
  });
}

export function openRead(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return fd;
  } catch (err) {
    throw ioError(path, 'read', err);
  }
}

export function fileSize(fd: number, path: string): number {
  try {
    return fstatSync(fd).size;
  } catch (err) {
    throw ioError(path, 'stat', err);
  }
}

/** Reads up to `length` bytes at `position` into `buf[offset...]`; returns the count (0 at EOF). */
export function readAt(
  fd: number,
  path: string,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  try {
    let total = 0;
    while (total < length) {
      const n = readSync(fd, buf, offset + total, length - total, position + total);
      if (n === 0) break;
      total += n;
    }
    return total;
  } catch (err) {
    throw ioError(path, 'read', err);
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or never valid: nothing to release.
  }
}
