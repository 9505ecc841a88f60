/**
 * Synchronous file access for the loaders (they run in dedicated pool workers), with every
 * failure turned into SHMFRAME_ERR_IO naming the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
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

/** What a file that is not a regular file is, for the message that refuses it. */
function specialKind(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'it is a directory';
  if (st.isFIFO()) return 'it is a named pipe (FIFO), not a regular file';
  if (st.isSocket()) return 'it is a socket, not a regular file';
  if (st.isCharacterDevice()) return 'it is a character device, not a regular file';
  if (st.isBlockDevice()) return 'it is a block device, not a regular file';
  return 'it is not a regular file';
}

/**
 * Opens a regular file for reading, never blocking: O_NONBLOCK makes the open of a named pipe
 * with no writer return at once (a plain open waits for a writer, and being synchronous it froze
 * the whole process, timers and abort signals included: issue 15), and anything but a regular
 * file is then refused with SHMFRAME_ERR_IO. The readers need a file they can size and read at
 * any offset (several workers read parts of one file). O_NONBLOCK changes nothing for reads of
 * regular files.
 */
export function openRead(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw ioError(path, 'read', err);
  }
  let kind: string | undefined;
  try {
    kind = specialKind(fstatSync(fd));
  } catch (err) {
    closeQuietly(fd);
    throw ioError(path, 'read', err);
  }
  if (kind !== undefined) {
    closeQuietly(fd);
    const code = kind.startsWith('it is a directory') ? 'EISDIR' : 'ENOTREG';
    throw new ShmframeIOError(
      `Cannot read ${JSON.stringify(path)}: ${kind}` +
        (code === 'EISDIR'
          ? ''
          : '. Readers need a file they can size and read at any offset: save the stream to a file first'),
      { details: { path, code } },
    );
  }
  return fd;
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
